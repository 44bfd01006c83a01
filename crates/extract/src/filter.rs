//! `--repos` and `--exclude`: glob patterns on repository slugs.

use globset::{Glob, GlobSet, GlobSetBuilder};

/// Which repositories an export covers.
#[derive(Debug, Clone)]
pub struct RepoFilter {
    include: Option<GlobSet>,
    exclude: GlobSet,
}

/// A glob pattern that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("glob {pattern:?}: {source}")]
pub struct FilterError {
    /// The pattern (all of them, when the set as a whole failed).
    pub pattern: String,
    /// What globset said.
    pub source: globset::Error,
}

impl RepoFilter {
    /// No `include` patterns means every repository.
    pub fn new(include: &[String], exclude: &[String]) -> Result<Self, FilterError> {
        let build = |patterns: &[String]| -> Result<GlobSet, FilterError> {
            let mut set = GlobSetBuilder::new();
            for pattern in patterns {
                set.add(Glob::new(pattern).map_err(|source| FilterError {
                    pattern: pattern.clone(),
                    source,
                })?);
            }
            set.build().map_err(|source| FilterError {
                pattern: patterns.join(" "),
                source,
            })
        };
        let include = if include.is_empty() {
            None
        } else {
            Some(build(include)?)
        };
        Ok(RepoFilter {
            include,
            exclude: build(exclude)?,
        })
    }

    /// Whether the export covers the repository `slug`.
    pub fn allows(&self, slug: &str) -> bool {
        self.include.as_ref().is_none_or(|set| set.is_match(slug)) && !self.exclude.is_match(slug)
    }
}

#[cfg(test)]
mod tests {
    use super::RepoFilter;

    #[test]
    fn include_then_exclude() {
        let filter =
            RepoFilter::new(&["api-*".into(), "web".into()], &["*-legacy".into()]).unwrap();
        assert!(filter.allows("api-gateway"));
        assert!(filter.allows("web"));
        assert!(!filter.allows("api-legacy"));
        assert!(!filter.allows("mobile"));
        assert!(RepoFilter::new(&[], &[]).unwrap().allows("anything"));
        assert!(RepoFilter::new(&["[".into()], &[]).is_err());
    }
}
