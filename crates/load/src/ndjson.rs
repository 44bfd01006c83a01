//! Deployments as JSON lines, shaped like a deployments-create API request, for pushing to a
//! developer-productivity platform.

use crate::error::LoadError;
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Int64Type, TimestampMicrosecondType};
use chrono::{DateTime, SecondsFormat};
use serde_json::{Value, json};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Writes to `<file>.partial` and renames it to `<file>` on commit, so a failed run never
/// leaves a half-written file where a previous complete one stood.
pub struct DeploymentsNdjson {
    path: PathBuf,
    partial: PathBuf,
    out: BufWriter<std::fs::File>,
}

impl DeploymentsNdjson {
    pub fn create(path: &Path) -> Result<Self, LoadError> {
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let file = std::fs::File::create(&partial).map_err(|source| LoadError::File {
            path: partial.display().to_string(),
            source,
        })?;
        Ok(DeploymentsNdjson {
            path: path.to_path_buf(),
            partial,
            out: BufWriter::new(file),
        })
    }

    fn io(&self) -> impl FnOnce(std::io::Error) -> LoadError + '_ {
        |source| LoadError::File {
            path: self.partial.display().to_string(),
            source,
        }
    }

    /// Appends one line per row of a `deployments` batch (table schema, partition columns
    /// included).
    pub fn append(&mut self, rows: &RecordBatch) -> Result<(), LoadError> {
        let bad = |message: String| LoadError::Batch {
            table: "deployments",
            message,
        };
        let text = |name: &str| {
            rows.column_by_name(name)
                .and_then(|c| c.as_string_opt::<i32>())
                .ok_or_else(|| bad(format!("no column {name}")))
        };
        let (reference_id, service, repository, commit_sha, environment) = (
            text("reference_id")?,
            text("service")?,
            text("repository")?,
            text("commit_sha")?,
            text("environment")?,
        );
        let (integration_branch, source_url, source_name, rule, run_uuid) = (
            text("integration_branch")?,
            text("source_url")?,
            text("source_name")?,
            text("rule")?,
            text("pipeline_run_uuid")?,
        );
        let column = |name: &str| {
            rows.column_by_name(name)
                .ok_or_else(|| bad(format!("no column {name}")))
        };
        let deployed_at = column("deployed_at")?.as_primitive::<TimestampMicrosecondType>();
        let success = column("success")?.as_boolean();
        let build_number = column("build_number")?.as_primitive::<Int64Type>();
        let opt = |a: &arrow::array::StringArray, i: usize| {
            if a.is_valid(i) {
                json!(a.value(i))
            } else {
                Value::Null
            }
        };
        for i in 0..rows.num_rows() {
            let deployed = DateTime::from_timestamp_micros(deployed_at.value(i))
                .map(|t| t.to_rfc3339_opts(SecondsFormat::Micros, true))
                .ok_or_else(|| {
                    bad(format!(
                        "deployed_at out of range: {}",
                        deployed_at.value(i)
                    ))
                })?;
            let line = json!({
                "reference_id": reference_id.value(i),
                "service": service.value(i),
                "repository": repository.value(i),
                "commit_sha": opt(commit_sha, i),
                "deployed_at": deployed,
                "environment": environment.value(i),
                "success": success.value(i),
                "integration_branch": opt(integration_branch, i),
                "source_url": source_url.value(i),
                "source_name": source_name.value(i),
                "metadata": {
                    "build_number": build_number.value(i),
                    "pipeline_uuid": run_uuid.value(i),
                    "rule": rule.value(i),
                },
            });
            serde_json::to_writer(&mut self.out, &line).map_err(|e| bad(e.to_string()))?;
            self.out.write_all(b"\n").map_err(self.io())?;
        }
        Ok(())
    }

    /// Flushes and moves the file into place.
    pub fn commit(mut self) -> Result<(), LoadError> {
        self.out.flush().map_err(self.io())?;
        self.out.get_ref().sync_all().map_err(self.io())?;
        std::fs::rename(&self.partial, &self.path).map_err(|source| LoadError::File {
            path: self.path.display().to_string(),
            source,
        })
    }
}

impl Drop for DeploymentsNdjson {
    /// A run that failed leaves no `.partial` file behind (after a commit there is none).
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.partial);
    }
}
