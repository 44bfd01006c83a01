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

impl Template {
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_string()));
            }
            let close = rest[open..]
                .find('}')
                .ok_or_else(|| format!("unclosed '{{' in {text:?}"))?;
            let name = &rest[open + 1..open + close];
            parts.push(match name {
                "workspace" => Part::Workspace,
                "repo_slug" => Part::RepoSlug,
                "repository" => Part::Repository,
                "workflow" => Part::Workflow,
                other => {
                    return Err(format!(
                        "unknown placeholder {{{other}}} in {text:?}: use {{workspace}}, \
                         {{repo_slug}}, {{repository}} or {{workflow}}"
                    ));
                }
            });
            rest = &rest[open + close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_string()));
        }
        if parts.is_empty() {
            return Err("must not be empty".into());
        }
        Ok(Template { parts })
    }

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
                .contains("unknown placeholder")
        );
        assert!(
            Template::parse("x{repo_slug")
                .unwrap_err()
                .contains("unclosed")
        );
    }
}
