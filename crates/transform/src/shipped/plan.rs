//! Which deployments to look up, each with its predecessor.

use std::collections::{BTreeMap, HashMap, HashSet};

/// A deployment as the `deployments` table holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployed {
    /// Its reference_id.
    pub reference_id: String,
    /// `workspace/slug`.
    pub repository: String,
    /// The repository's uuid.
    pub repo_uuid: String,
    /// The service.
    pub service: String,
    /// The environment.
    pub environment: String,
    /// When it completed, microseconds since the epoch (UTC).
    pub deployed_at: i64,
    /// The commit deployed.
    pub commit_sha: Option<String>,
    /// Whether it succeeded.
    pub success: bool,
}

impl Deployed {
    /// The repository slug: the part of `repository` after the workspace.
    pub fn repo_slug(&self) -> &str {
        self.repository
            .split_once('/')
            .map_or(self.repository.as_str(), |(_, slug)| slug)
    }

    fn ships(&self) -> Option<&str> {
        self.commit_sha.as_deref().filter(|_| self.success)
    }
}

/// What `deployment_commits` already says of a deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarlierLookup {
    /// The deployment's time when it was looked up.
    pub deployed_at: i64,
    /// The predecessor it was diffed against.
    pub previous_reference_id: Option<String>,
}

/// One question to ask: a deployment, and the one before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// The deployment.
    pub deployment: Deployed,
    /// The previous successful deployment of its chain: (reference_id, commit_sha).
    pub previous: Option<(String, String)>,
}

/// Which deployments the commits pass looks up, and which rows of `deployment_commits` it
/// withdraws.
#[derive(Debug, Default)]
pub struct LookupPlan {
    /// Deployments to look up, by repository then time.
    pub lookups: Vec<Lookup>,
    /// Deployments `deployment_commits` holds that are no longer successful deployments
    /// with a commit: their rows go.
    pub withdrawn: HashSet<String>,
    /// Successful deployments with a commit (looked up now or before).
    pub successful: u64,
}

/// Walks each chain (repository, service, environment) in time order and keeps the successful
/// deployments that `stored` does not hold as they are now: new ones, ones whose time changed
/// (a re-run) and ones whose predecessor changed (one arrived late, or rules changed).
pub fn plan(deployments: Vec<Deployed>, stored: &HashMap<String, EarlierLookup>) -> LookupPlan {
    let mut chains: BTreeMap<(String, String, String), Vec<Deployed>> = BTreeMap::new();
    for deployment in deployments {
        let chain = (
            deployment.repo_uuid.clone(),
            deployment.service.clone(),
            deployment.environment.clone(),
        );
        chains.entry(chain).or_default().push(deployment);
    }
    let mut plan = LookupPlan::default();
    let mut shipping = HashSet::new();
    for (_, mut chain) in chains {
        chain.sort_by(|a, b| {
            (a.deployed_at, &a.reference_id).cmp(&(b.deployed_at, &b.reference_id))
        });
        let mut previous: Option<(String, String)> = None;
        for deployment in chain {
            let Some(sha) = deployment.ships().map(str::to_string) else {
                continue;
            };
            plan.successful += 1;
            shipping.insert(deployment.reference_id.clone());
            let now = EarlierLookup {
                deployed_at: deployment.deployed_at,
                previous_reference_id: previous.as_ref().map(|(id, _)| id.clone()),
            };
            let next = Some((deployment.reference_id.clone(), sha));
            if stored.get(&deployment.reference_id) != Some(&now) {
                plan.lookups.push(Lookup {
                    deployment,
                    previous: previous.take(),
                });
            }
            previous = next;
        }
    }
    plan.withdrawn = stored
        .keys()
        .filter(|id| !shipping.contains(*id))
        .cloned()
        .collect();
    // By repository: a fixture's commit graph is loaded once per repository.
    plan.lookups.sort_by(|a, b| {
        let (a, b) = (&a.deployment, &b.deployment);
        (a.repo_slug(), a.deployed_at).cmp(&(b.repo_slug(), b.deployed_at))
    });
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployed(id: &str, at: i64, sha: &str, success: bool) -> Deployed {
        Deployed {
            reference_id: id.into(),
            repository: "acme/api".into(),
            repo_uuid: "{r}".into(),
            service: "api".into(),
            environment: "production".into(),
            deployed_at: at,
            commit_sha: Some(sha.into()),
            success,
        }
    }

    fn looked(at: i64, previous: Option<&str>) -> EarlierLookup {
        EarlierLookup {
            deployed_at: at,
            previous_reference_id: previous.map(str::to_string),
        }
    }

    fn asked(plan: &LookupPlan) -> Vec<(String, Option<String>)> {
        plan.lookups
            .iter()
            .map(|l| {
                let previous = l.previous.as_ref().map(|(id, sha)| format!("{id}:{sha}"));
                (l.deployment.reference_id.clone(), previous)
            })
            .collect()
    }

    #[test]
    fn failed_deployments_are_skipped_and_their_commits_go_to_the_next_success() {
        let all = vec![
            deployed("d3", 30, "c3", true),
            deployed("d1", 10, "c1", true),
            deployed("d2", 20, "c2", false),
        ];
        let plan = plan(all, &HashMap::new());
        assert_eq!(
            asked(&plan),
            [("d1".into(), None), ("d3".into(), Some("d1:c1".into()))]
        );
        assert_eq!(plan.successful, 2);
    }

    #[test]
    fn only_new_moved_or_re_chained_deployments_are_asked_about_again() {
        let all = || {
            vec![
                deployed("d1", 10, "c1", true),
                deployed("d2", 20, "c2", true),
                deployed("d3", 30, "c3", true),
            ]
        };
        let mut stored = HashMap::from([
            ("d1".to_string(), looked(10, None)),
            ("d2".to_string(), looked(20, Some("d1"))),
            ("d3".to_string(), looked(30, Some("d2"))),
        ]);
        assert!(plan(all(), &stored).lookups.is_empty(), "nothing changed");
        // d2 re-ran later; d3 now follows d1 and d2 follows d3.
        let mut moved = all();
        moved[1].deployed_at = 40;
        assert_eq!(
            asked(&plan(moved, &stored)),
            [
                ("d3".into(), Some("d1:c1".into())),
                ("d2".into(), Some("d3:c3".into()))
            ]
        );
        // d2 failed on re-run: withdrawn, d3 diffed against d1.
        let mut failed = all();
        failed[1].success = false;
        let p = plan(failed, &stored);
        assert_eq!(asked(&p), [("d3".into(), Some("d1:c1".into()))]);
        assert_eq!(p.withdrawn, HashSet::from(["d2".to_string()]));
        // A deployment the dataset no longer has is withdrawn too.
        stored.insert("gone".into(), looked(5, None));
        assert!(plan(all(), &stored).withdrawn.contains("gone"));
    }
}
