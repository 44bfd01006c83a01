//! Service names such as `{repo_slug}` or `payments-{workflow}`.

use super::run_view::RunView;

/// A service name template, parsed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Workspace,
    RepoSlug,
    Repository,
    Workflow,
}

/// Why a service template cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// Nothing but spaces.
    #[error("must not be empty")]
    Empty,
    /// A `{` without its `}`.
    #[error("unclosed '{{' in {text:?}")]
    Unclosed {
        /// The template.
        text: String,
    },
    /// A placeholder rules do not know.
    #[error(
        "unknown placeholder {{{name}}} in {text:?}: use {{workspace}}, {{repo_slug}}, \
         {{repository}} or {{workflow}}"
    )]
    UnknownPlaceholder {
        /// The placeholder's name.
        name: String,
        /// The template.
        text: String,
    },
}

impl Template {
    /// Parses `text`: literal text and `{placeholder}`s.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_string()));
            }
            let close = rest[open..]
                .find('}')
                .ok_or_else(|| TemplateError::Unclosed { text: text.into() })?;
            let name = &rest[open + 1..open + close];
            parts.push(match name {
                "workspace" => Part::Workspace,
                "repo_slug" => Part::RepoSlug,
                "repository" => Part::Repository,
                "workflow" => Part::Workflow,
                other => {
                    return Err(TemplateError::UnknownPlaceholder {
                        name: other.into(),
                        text: text.into(),
                    });
                }
            });
            rest = &rest[open + close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_string()));
        }
        if parts.is_empty() {
            return Err(TemplateError::Empty);
        }
        Ok(Template { parts })
    }

    /// The service name for `run`.
    pub fn render(&self, run: &RunView<'_>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            out.push_str(match part {
                Part::Literal(text) => text,
                Part::Workspace => run.workspace,
                Part::RepoSlug => run.repo_slug,
                Part::Repository => run.repository,
                Part::Workflow => run.name.unwrap_or(""),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_placeholders() {
        let run = RunView {
            workspace: "acme",
            repo_slug: "api",
            repository: "acme/api",
            name: Some("deploy-eu"),
            ..RunView::default()
        };
        let t = Template::parse("{repo_slug}-{workflow}@{workspace}").unwrap();
        assert_eq!(t.render(&run), "api-deploy-eu@acme");
        assert_eq!(
            Template::parse("checkout").unwrap().render(&run),
            "checkout"
        );
        assert!(
            Template::parse("{branch}")
                .unwrap_err()
                .to_string()
                .contains("unknown placeholder {branch}")
        );
        assert!(
            Template::parse("x{repo_slug")
                .unwrap_err()
                .to_string()
                .contains("unclosed")
        );
    }
}
