//! Deployments as JSON lines, shaped like a deployments-create API request, for pushing to a
//! developer-productivity platform.

use crate::error::LoadError;
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Int64Type, TimestampMicrosecondType};
use chrono::{DateTime, SecondsFormat};
use serde_json::{Value, json};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Writes to `<file>.partial` and moves a copy into place at each checkpoint and the file itself
/// at the end, so `<file>` always holds the deployments of committed data only, and a failed run
/// never leaves a half-written file where a complete one stood. The file is locked
/// (`<file>.lock`) while an export writes it: two exports naming one file, which would lose one
/// another's lines, are refused.
pub struct DeploymentsNdjson {
    path: PathBuf,
    partial: PathBuf,
    out: BufWriter<std::fs::File>,
    /// Held until dropped: the OS releases it if the process dies.
    _lock: std::fs::File,
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

impl DeploymentsNdjson {
    /// Creates the file's staging copy next to `path`; nothing is visible at `path` until a commit.
    pub fn create(path: &Path) -> Result<Self, LoadError> {
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| LoadError::File { path, source }
        };
        let lock_path = with_suffix(path, ".lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(LoadError::File {
                    path: path.display().to_string(),
                    source: std::io::Error::other(
                        "another bbpipe export is writing this deployments file; give each \
                         workspace its own (put {workspace} in the path)",
                    ),
                });
            }
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(LoadError::File {
                    path: lock_path.display().to_string(),
                    source,
                });
            }
        }
        let partial = with_suffix(path, ".partial");
        let file = std::fs::File::create(&partial).map_err(io(&partial))?;
        Ok(DeploymentsNdjson {
            path: path.to_path_buf(),
            partial,
            out: BufWriter::new(file),
            _lock: lock,
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

    /// Publishes the lines written so far (after a checkpoint's commit): a copy of the partial
    /// file replaces `<file>`.
    pub fn checkpoint(&mut self) -> Result<(), LoadError> {
        self.out.flush().map_err(self.io())?;
        let copy = with_suffix(&self.path, ".checkpoint");
        let failed = |source| LoadError::File {
            path: copy.display().to_string(),
            source,
        };
        std::fs::copy(&self.partial, &copy).map_err(failed)?;
        std::fs::File::open(&copy)
            .and_then(|f| f.sync_all())
            .map_err(failed)?;
        std::fs::rename(&copy, &self.path).map_err(failed)
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

    /// Gives up: the partial file is removed, `<file>` keeps what the last checkpoint published.
    pub fn abandon(self) {}
}

impl Drop for DeploymentsNdjson {
    /// A run that failed leaves no `.partial` file behind (after a commit there is none).
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.partial);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_writers_of_one_file_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deployments.ndjson");
        let first = DeploymentsNdjson::create(&path).unwrap();
        let second = DeploymentsNdjson::create(&path);
        let message = second.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("another bbpipe export"), "{message}");
        drop(first);
        // Once the first let go (or died), the file is free again.
        DeploymentsNdjson::create(&path).unwrap();
    }
}
