//! Runs that cannot be decoded, set aside in the `rejects` table so the rest of the page, and
//! the export, commit. Their raw JSON is kept less what could carry secrets.

use arrow::array::{ArrayRef, RecordBatch, StringBuilder, TimestampMicrosecondBuilder};
use arrow::error::ArrowError;
use bbpipe_model::{Table, run_reject_id};
use serde_json::Value;
use std::sync::Arc;

/// One rejected run.
pub struct Reject<'a> {
    pub workspace: &'a str,
    pub repo_slug: &'a str,
    pub repo_uuid: Option<&'a str>,
    pub page_url: &'a str,
    pub json_path: String,
    pub error: String,
    pub raw_json: &'a str,
    pub exported_at: i64,
}

/// Builds `rejects` rows.
/// The text columns of `rejects`, in the order `append` fills `RejectsBuilder::columns`.
const TEXT_COLUMNS: [&str; 10] = [
    "workspace",
    "reject_id",
    "repository",
    "repo_slug",
    "repo_uuid",
    "run_uuid",
    "page_url",
    "json_path",
    "error",
    "raw_json",
];

#[derive(Default)]
pub struct RejectsBuilder {
    columns: [StringBuilder; 10],
    exported_at: TimestampMicrosecondBuilder,
    rows: usize,
}

/// Keys never kept in a reject's JSON: pipeline variables (values come back unless secured),
/// the `*_commands` of steps (the clone command carries a token template) and image
/// credentials.
fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|key, _| {
                key != "variables"
                    && !key.ends_with("_commands")
                    && !matches!(key.as_str(), "password" | "username" | "email")
            });
            map.values_mut().for_each(redact);
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// The run's uuid, if its JSON has a readable one.
fn run_uuid(raw: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Uuid {
        uuid: Option<String>,
    }
    serde_json::from_str::<Uuid>(raw).ok()?.uuid
}

impl RejectsBuilder {
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Appends a reject; returns its id (`{repo}/{run uuid}`, or the page and path).
    pub fn append(&mut self, reject: Reject<'_>) -> String {
        let uuid = run_uuid(reject.raw_json);
        let id = match &uuid {
            Some(uuid) => run_reject_id(reject.repo_uuid.unwrap_or(reject.repo_slug), uuid),
            None => format!("{}#{}", reject.page_url, reject.json_path),
        };
        let raw = match serde_json::from_str::<Value>(reject.raw_json) {
            Ok(mut value) => {
                redact(&mut value);
                value.to_string()
            }
            // Not even JSON: keep nothing of it but its length.
            Err(_) => format!("(not JSON, {} bytes)", reject.raw_json.len()),
        };
        let [
            workspace,
            reject_id,
            repository,
            repo_slug,
            repo_uuid,
            run_uuid_column,
            page_url,
            json_path,
            error,
            raw_json,
        ] = &mut self.columns;
        workspace.append_value(reject.workspace);
        reject_id.append_value(&id);
        repository.append_value(format!("{}/{}", reject.workspace, reject.repo_slug));
        repo_slug.append_value(reject.repo_slug);
        repo_uuid.append_option(reject.repo_uuid);
        run_uuid_column.append_option(uuid);
        page_url.append_value(reject.page_url);
        json_path.append_value(&reject.json_path);
        error.append_value(&reject.error);
        raw_json.append_value(raw);
        self.exported_at.append_value(reject.exported_at);
        self.rows += 1;
        id
    }

    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let mut columns: Vec<(&str, ArrayRef)> = TEXT_COLUMNS
            .into_iter()
            .zip(self.columns.iter_mut())
            .map(|(name, c)| (name, Arc::new(c.finish()) as ArrayRef))
            .collect();
        columns.push((
            "exported_at",
            Arc::new(self.exported_at.finish().with_timezone("UTC")),
        ));
        self.rows = 0;
        Table::Rejects.batch_of(columns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_reach_a_reject() {
        let mut value = serde_json::json!({
            "uuid": "{r}",
            "variables": [{"key": "TOKEN", "value": "s3cret"}],
            "steps": [{"script_commands": ["echo s3cret"], "image": {"name": "node", "password": "s3cret", "username": "u"}}],
        });
        redact(&mut value);
        let text = value.to_string();
        assert!(!text.contains("s3cret"), "{text}");
        assert!(text.contains("node"));
    }
}
