//! `--repos` and `--exclude`: glob patterns on repository slugs.

use globset::{Glob, GlobSet, GlobSetBuilder};

/// Which repositories an export covers.
#[derive(Debug, Clone)]
pub struct RepoFilter {
    include: Option<GlobSet>,
    exclude: GlobSet,
}

impl RepoFilter {
    /// No `include` patterns means every repository.
    pub fn new(include: &[String], exclude: &[String]) -> Result<Self, String> {
        let build = |patterns: &[String]| -> Result<GlobSet, String> {
            let mut set = GlobSetBuilder::new();
            for pattern in patterns {
                set.add(Glob::new(pattern).map_err(|e| format!("glob {pattern:?}: {e}"))?);
            }
            set.build().map_err(|e| e.to_string())
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
