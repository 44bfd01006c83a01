//! Deploy rules: which completed pipeline runs are deployments, of which service, to which
//! environment.
//!
//! Nothing is a deployment unless a rule says so. Every rule that matches a run emits one
//! deployment, so a monorepo pipeline may deploy several services; two rules that emit the same
//! (service, environment) for one run are an overlap, reported by `rules check` and
//! `rules explain` and counted in the summary.

mod config;
mod deployments;
mod rule;
mod run_view;
mod template;

pub use config::{RuleSpec, RulesFile};
pub use deployments::{
    DeploymentBuilder, ENVIRONMENT_DEPLOYMENT_COLUMNS, EnvironmentDeploymentColumns, RUN_COLUMNS,
    RunColumns, SOURCE_NAME, reference_id,
};
pub use rule::{Mismatch, Rule, Source};
pub use run_view::{EnvironmentView, RunView};
pub use template::{Template, TemplateError};

use std::collections::BTreeMap;
use std::path::Path;

/// A rules file that could not be used; names the file, the rule and the field.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("{path}: {source}")]
    /// The rules file cannot be read.
    Read {
        /// The file.
        path: String,
        #[source]
        /// Why.
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    /// The file is not valid TOML or not shaped like a rules file.
    Syntax {
        /// The file.
        path: String,
        /// What the parser said.
        message: String,
    },
    #[error("{path}: rule '{rule}', field {field}: {message}")]
    /// A rule's field is invalid.
    Invalid {
        /// The file.
        path: String,
        /// The rule.
        rule: String,
        /// The field.
        field: String,
        /// What is wrong with it.
        message: String,
    },
}

fn fingerprint(file: &RulesFile) -> String {
    use sha2::{Digest, Sha256};
    // Field order is the structs', not the file's: the JSON is canonical.
    let json = serde_json::to_vec(file).unwrap_or_default();
    let digest = Sha256::digest(&json);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The outcome of matching one run against every rule.
#[derive(Debug)]
pub enum Verdict<'r> {
    /// The rules that matched, with the (service, environment) each emits.
    Matched(Vec<(&'r Rule, String)>),
    /// No rule matched; the rule that came nearest and why it failed.
    Unmatched(Option<(&'r Rule, Mismatch)>),
}

/// The rules of one file, compiled.
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<Rule>,
    path: String,
    fingerprint: String,
}

impl RuleSet {
    /// Reads and validates a rules file.
    pub fn load(path: &Path) -> Result<RuleSet, RulesError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| RulesError::Read {
            path: shown.clone(),
            source,
        })?;
        RuleSet::parse(&text, &shown)
    }

    /// Parses and validates TOML; `path` is only for messages.
    pub fn parse(text: &str, path: &str) -> Result<RuleSet, RulesError> {
        let file: RulesFile = toml::from_str(text).map_err(|e| RulesError::Syntax {
            path: path.into(),
            message: e.to_string(),
        })?;
        let fingerprint = fingerprint(&file);
        let mut rules: Vec<Rule> = Vec::with_capacity(file.rule.len());
        for spec in file.rule {
            let name = spec.name.clone();
            let invalid = |field: String, message: String| RulesError::Invalid {
                path: path.into(),
                rule: name.clone(),
                field,
                message,
            };
            if rules.iter().any(|r| r.name == name) {
                return Err(invalid("name".into(), "another rule has this name".into()));
            }
            rules.push(
                Rule::compile(spec)
                    .map_err(|problem| invalid(problem.field.into(), problem.message))?,
            );
        }
        if rules.is_empty() {
            return Err(RulesError::Syntax {
                path: path.into(),
                message: "no [[rule]] found: nothing would be a deployment".into(),
            });
        }
        Ok(RuleSet {
            rules,
            path: path.into(),
            fingerprint,
        })
    }

    /// A content hash of the rules as parsed (`sha256:` and hex), defaults filled in: comments,
    /// layout and left-out defaults do not change it; any change to what a rule says does.
    /// The dataset records it with the deployments it derived.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The rules, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Whether a rule reads `source`.
    pub fn reads(&self, source: Source) -> bool {
        self.rules.iter().any(|r| r.source == source)
    }

    /// The file they came from.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Judges one run against every rule.
    pub fn judge<'r>(&'r self, run: &RunView<'_>) -> Verdict<'r> {
        let mut matched = Vec::new();
        let mut nearest: Option<(&Rule, Mismatch)> = None;
        for rule in &self.rules {
            match rule.evaluate(run) {
                Ok(()) => matched.push((rule, rule.service.render(run))),
                Err(miss) => {
                    if nearest
                        .as_ref()
                        .is_none_or(|(_, best)| miss.passed > best.passed)
                    {
                        nearest = Some((rule, miss));
                    }
                }
            }
        }
        if matched.is_empty() {
            Verdict::Unmatched(nearest)
        } else {
            Verdict::Matched(matched)
        }
    }

    /// Rules that would emit the same (service, environment) for this run: pairs of rule names.
    pub fn overlaps<'r>(matched: &[(&'r Rule, String)]) -> Vec<(&'r str, &'r str)> {
        let mut seen: BTreeMap<(&str, &str), &str> = BTreeMap::new();
        let mut pairs = Vec::new();
        for (rule, service) in matched {
            let key = (service.as_str(), rule.environment.as_str());
            match seen.get(&key) {
                Some(first) => pairs.push((*first, rule.name.as_str())),
                None => {
                    seen.insert(key, rule.name.as_str());
                }
            }
        }
        pairs
    }

    /// Warnings a human should read before trusting the file: rules that match too much, and
    /// pairs of rules that can emit the same deployment for one run.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        for rule in &self.rules {
            let spec = rule.spec();
            if rule.source == Source::Environments {
                if spec.environment_type.is_none() && spec.environment_name.is_none() {
                    warnings.push(format!(
                        "rule '{}' has no environment_type or environment_name predicate: every \
                         Bitbucket deployment of its repositories, to any environment, is a {} \
                         deployment",
                        rule.name, rule.environment
                    ));
                }
            } else if spec.workflow.is_none()
                && spec.target_branch.is_none()
                && spec.trigger.is_none()
            {
                warnings.push(format!(
                    "rule '{}' has no workflow, target_branch or trigger predicate: every \
                     completed run of its repositories is a {} deployment",
                    rule.name, rule.environment
                ));
            }
        }
        for (i, a) in self.rules.iter().enumerate() {
            for b in &self.rules[i + 1..] {
                if a.environment == b.environment
                    && a.source != b.source
                    && a.spec().service == b.spec().service
                {
                    warnings.push(format!(
                        "rules '{}' and '{}' both emit service '{}' to {}, one from pipeline runs \
                         and one from Bitbucket's deployments: a run with a deploy step would \
                         count twice",
                        a.name,
                        b.name,
                        a.spec().service,
                        a.environment
                    ));
                } else if a.environment == b.environment && may_overlap(a.spec(), b.spec()) {
                    warnings.push(format!(
                        "rules '{}' and '{}' overlap: both can emit service '{}' to {} for the \
                         same run (each matching rule emits a deployment)",
                        a.name,
                        b.name,
                        a.spec().service,
                        a.environment
                    ));
                }
            }
        }
        warnings
    }
}

/// Static overlap: same service template, and on every predicate either one side is absent
/// (matches all) or both are the same pattern. Catches copied rules; `rules explain` and
/// `rules check --against` find the overlaps real runs have.
fn may_overlap(a: &RuleSpec, b: &RuleSpec) -> bool {
    fn compatible<T: PartialEq>(x: &Option<T>, y: &Option<T>) -> bool {
        match (x, y) {
            (Some(x), Some(y)) => x == y,
            _ => true,
        }
    }
    a.service == b.service
        && a.source == b.source
        && compatible(&a.environment_type, &b.environment_type)
        && compatible(&a.environment_name, &b.environment_name)
        && compatible(&a.repository, &b.repository)
        && compatible(&a.workflow, &b.workflow)
        && compatible(&a.target_branch, &b.target_branch)
        && compatible(&a.trigger, &b.trigger)
        && compatible(&a.ref_type, &b.ref_type)
        && compatible(&a.selector_type, &b.selector_type)
}

#[cfg(test)]
mod tests;
