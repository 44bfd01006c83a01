//! A destination under test: a local directory or a prefix on the local S3 server.

use super::*;
use std::path::{Path, PathBuf};

/// A destination under test.
pub enum Target {
    Local(tempfile::TempDir),
    S3 { bucket: String },
}

impl Target {
    pub fn local() -> Target {
        Target::Local(tempfile::tempdir().unwrap())
    }

    pub fn s3(test: &str) -> Target {
        Target::S3 {
            bucket: s3::bucket(test),
        }
    }

    pub fn out(&self) -> String {
        match self {
            Target::Local(dir) => dir.path().join("data").display().to_string(),
            Target::S3 { bucket } => format!("s3://{bucket}/exports/bitbucket"),
        }
    }

    pub fn env(&self) -> Vec<(&'static str, String)> {
        match self {
            Target::Local(_) => vec![],
            Target::S3 { .. } => s3::env(),
        }
    }

    pub fn replay(&self, fixtures: &Path, failpoint: Option<&str>) -> std::process::Output {
        self.replay_with(fixtures, failpoint, &[])
    }

    /// A replay with the demo's deploy rules and `extra` arguments, as a child process.
    pub fn replay_command(&self, fixtures: &Path, extra: &[&str]) -> std::process::Command {
        let rules = demo().join("deploy-rules.toml");
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_bbpipe"));
        command
            .args(["replay", fixtures.to_str().unwrap(), "--out", &self.out()])
            .args(["--rules", rules.to_str().unwrap()])
            .args(extra)
            .env_remove("RUST_LOG");
        for (key, value) in self.env() {
            command.env(key, value);
        }
        command
    }

    pub fn replay_with(
        &self,
        fixtures: &Path,
        failpoint: Option<&str>,
        extra: &[&str],
    ) -> std::process::Output {
        let rules = demo().join("deploy-rules.toml");
        let out = self.out();
        let mut env = self.env();
        if let Some(point) = failpoint {
            env.push(("BBPIPE_FAILPOINT", point.to_string()));
        }
        let args = [
            "replay",
            fixtures.to_str().unwrap(),
            "--out",
            &out,
            "--rules",
            rules.to_str().unwrap(),
            // A killed writer's lease lapses quickly; the next one waits it out.
            "--lease",
            "2s",
            "--wait-lock",
            "60s",
        ];
        let args: Vec<&str> = args.iter().chain(extra).copied().collect();
        bbpipe_with_env(&args, &env)
    }

    pub fn replay_ok(&self, fixtures: &Path) -> String {
        let output = self.replay(fixtures, None);
        assert!(output.status.success(), "{}", stderr(&output));
        stdout(&output)
    }

    pub fn verify(&self) -> std::process::Output {
        bbpipe_with_env(&["verify-output", &self.out()], &self.env())
    }

    /// Every row of every table, sorted, as the files present say (leftovers included).
    pub fn rows(&self) -> Vec<(String, Vec<String>)> {
        let copy = tempfile::tempdir().unwrap();
        let root: PathBuf = match self {
            Target::Local(_) => PathBuf::from(self.out()),
            Target::S3 { bucket } => {
                s3::download(bucket, "exports/bitbucket", copy.path());
                copy.path().to_path_buf()
            }
        };
        ["repositories", "pipeline_runs", "deployments"]
            .into_iter()
            .map(|table| (table.to_string(), sorted_rows(&root, table)))
            .collect()
    }
}
