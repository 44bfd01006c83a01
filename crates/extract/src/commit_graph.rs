//! A repository's commit graph as a fixture holds it, answering "reachable from `new`, not
//! from `old`" the way the API does: newest first, 404 for an unknown commit.

use crate::api::PAGELEN;
use crate::error::ExtractError;
use bbpipe_model::bitbucket::{Page, RepositoryCommit, decode};
use bytes::Bytes;
use serde_json::value::RawValue;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

/// Commits by hash: each as recorded, with its date and parents.
pub(crate) struct Graph {
    commits: HashMap<String, Node>,
}

struct Node {
    json: Box<RawValue>,
    date: Option<chrono::DateTime<chrono::FixedOffset>>,
    parents: Vec<String>,
}

impl Graph {
    /// The commits of `pages` (each file and its `{"values": [commit, ...]}`), in any order.
    /// A page that is not JSON bbpipe can read, a commit without a hash, or a commit nested
    /// deeper than serde_json reads (128 levels), is an error naming the file and the commit.
    pub(crate) fn from_pages(pages: &[(PathBuf, Bytes)]) -> Result<Graph, ExtractError> {
        let mut commits = HashMap::new();
        for (path, body) in pages {
            let bad = |message: String| ExtractError::Layout {
                path: path.clone(),
                message,
            };
            let page: Page<&RawValue> =
                decode(body).map_err(|e| bad(format!("not a commits page: {e}")))?;
            for (index, raw) in page.values.into_iter().enumerate() {
                let at = |e: serde_json::Error| bad(format!("$.values[{index}]: {e}"));
                // What the answers' readers will do with it: fails here, named, not later.
                serde_json::from_str::<serde_json::Value>(raw.get()).map_err(at)?;
                let commit: RepositoryCommit = decode(raw.get().as_bytes())
                    .map_err(|e| bad(format!("$.values[{index}]: {e}")))?;
                let node = Node {
                    json: raw.to_owned(),
                    date: commit
                        .date
                        .as_deref()
                        .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok()),
                    parents: commit
                        .parents
                        .iter()
                        .filter_map(|p| p.hash.as_deref().map(str::to_string))
                        .collect(),
                };
                commits.insert(commit.hash.to_string(), node);
            }
        }
        Ok(Graph { commits })
    }

    /// Commits reachable from `new` and not from `old`, newest first, as pages of 100 holding
    /// at most `max`, and whether more were left out; `None` when either commit is unknown (the
    /// API's 404).
    pub(crate) fn shipped(
        &self,
        new: &str,
        old: Option<&str>,
        max: usize,
    ) -> Option<(Vec<Bytes>, bool)> {
        if !self.commits.contains_key(new) || old.is_some_and(|o| !self.commits.contains_key(o)) {
            return None;
        }
        let excluded = match old {
            Some(old) => self.reachable(old, &HashSet::new()),
            None => HashSet::new(),
        };
        let mut shipped: Vec<&str> = self.reachable(new, &excluded).into_iter().collect();
        shipped.sort_by(|a, b| {
            let date = |h: &str| self.commits.get(h).and_then(|n| n.date);
            date(b).cmp(&date(a)).then_with(|| a.cmp(b))
        });
        let cut = shipped.len() > max;
        shipped.truncate(max);
        let pages = shipped
            .chunks(PAGELEN as usize)
            .enumerate()
            .map(|(index, chunk)| {
                // The recorded commits as they are, never parsed again (json! over a RawValue
                // re-parsed each one, and panicked on one nested too deep).
                let values: Vec<&str> = chunk
                    .iter()
                    .filter_map(|h| self.commits.get(*h).map(|n| n.json.get()))
                    .collect();
                let page = format!(
                    "{{\"page\":{},\"pagelen\":{PAGELEN},\"values\":[{}]}}",
                    index + 1,
                    values.join(",")
                );
                Bytes::from(page)
            })
            .collect();
        Some((pages, cut))
    }

    /// The known commits reachable from `from` (itself included), not entering `stop`.
    fn reachable<'a>(&'a self, from: &'a str, stop: &HashSet<&str>) -> HashSet<&'a str> {
        let mut seen = HashSet::new();
        let mut todo = vec![from];
        while let Some(hash) = todo.pop() {
            if stop.contains(hash) || !seen.insert(hash) {
                continue;
            }
            if let Some(node) = self.commits.get(hash) {
                todo.extend(node.parents.iter().map(String::as_str));
            }
        }
        seen.retain(|h| self.commits.contains_key(*h));
        seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(hash: &str, day: u32, parents: &[&str]) -> serde_json::Value {
        let parents: Vec<_> = parents
            .iter()
            .map(|p| serde_json::json!({ "hash": p }))
            .collect();
        serde_json::json!({
            "hash": hash,
            "date": format!("2026-11-{day:02}T10:00:00+00:00"),
            "parents": parents,
        })
    }

    fn hashes(shipped: &Option<(Vec<Bytes>, bool)>) -> Vec<String> {
        let Some((pages, _)) = shipped else {
            return vec!["gone".into()];
        };
        pages
            .iter()
            .flat_map(|p| {
                let page: serde_json::Value = serde_json::from_slice(p).unwrap();
                page["values"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["hash"].as_str().unwrap().to_string())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn answers_like_git_log_new_not_old() {
        // a1 - a2 - a3 ------ m5 - a6
        //         \- b4 ----/
        let page = serde_json::json!({ "values": [
            commit("a1", 1, &[]), commit("a2", 2, &["a1"]), commit("a3", 3, &["a2"]),
            commit("b4", 4, &["a2"]), commit("m5", 5, &["a3", "b4"]), commit("a6", 6, &["m5"]),
        ]});
        let file = PathBuf::from("acme/app/commits/page-0001.json");
        let graph = Graph::from_pages(&[(file, Bytes::from(page.to_string()))]).unwrap();
        assert_eq!(
            hashes(&graph.shipped("a6", Some("a3"), 500)),
            ["a6", "m5", "b4"]
        );
        assert_eq!(
            hashes(&graph.shipped("a3", Some("a6"), 500)),
            Vec::<String>::new()
        );
        assert_eq!(hashes(&graph.shipped("a6", None, 2)), ["a6", "m5"]);
        assert!(matches!(graph.shipped("a6", None, 2), Some((_, true))));
        assert_eq!(hashes(&graph.shipped("zz", Some("a3"), 9)), ["gone"]);
        assert_eq!(hashes(&graph.shipped("a6", Some("zz"), 9)), ["gone"]);
    }

    #[test]
    fn a_commit_nested_too_deep_is_an_error_naming_the_file_and_the_commit() {
        let mut nested = String::from("1");
        for _ in 0..300 {
            nested = format!("{{\"a\":{nested}}}");
        }
        let deep = format!(
            r#"{{"values": [{}, {{"hash": "b2", "parents": [], "extra": {nested}}}]}}"#,
            commit("a1", 1, &[])
        );
        let file = PathBuf::from("acme/app/commits/page-0003.json");
        let Err(error) = Graph::from_pages(&[(file, Bytes::from(deep))]) else {
            panic!("a commit nested 300 levels deep was read");
        };
        let text = error.to_string();
        assert!(
            text.contains("page-0003.json") && text.contains("$.values[1]"),
            "{text}"
        );
        assert!(text.contains("recursion limit"), "{text}");
    }
}
