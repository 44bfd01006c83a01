//! The command line's defaults are the model's ([`defaults`]), and what `bbpipe init` writes
//! and `bbpipe config show` prints agree with them.

use super::Cli;
use bbpipe_pipeline::config::{NightlyConfig, template};
use bbpipe_pipeline::model::defaults;
use clap::CommandFactory;

/// The default of `--<long>` on every (sub)command that takes it.
fn claps_defaults(long: &str) -> Vec<String> {
    fn walk(command: &clap::Command, long: &str, found: &mut Vec<String>) {
        for arg in command
            .get_arguments()
            .filter(|a| a.get_long() == Some(long))
        {
            let values: Vec<String> = arg
                .get_default_values()
                .iter()
                .map(|v| v.to_string_lossy().into_owned())
                .collect();
            found.push(values.join(","));
        }
        for sub in command.get_subcommands() {
            walk(sub, long, found);
        }
    }
    let mut found = vec![];
    walk(&Cli::command(), long, &mut found);
    assert!(!found.is_empty(), "no command takes --{long}");
    found
}

/// The one default of `--<long>`, checked to be the same on every command that takes it.
fn claps_default(long: &str) -> String {
    let found = claps_defaults(long);
    assert!(found.iter().all(|d| *d == found[0]), "--{long}: {found:?}");
    found[0].clone()
}

#[test]
fn init_and_config_show_write_claps_defaults() {
    let written = template();
    let init = NightlyConfig::parse(&written, "bbpipe init").unwrap();
    let shown = NightlyConfig::parse(&init.to_toml(), "config show").unwrap();
    for config in [&init, &shown] {
        assert_eq!(config.lookback.clone(), Some(claps_default("lookback")));
        assert_eq!(
            config.concurrency.map(|n| n.to_string()),
            Some(claps_default("concurrency"))
        );
        assert_eq!(
            config.parallel_workspaces.map(|n| n.to_string()),
            Some(claps_default("parallel-workspaces"))
        );
        assert_eq!(
            config.max_requests_per_hour.map(|n| n.to_string()),
            Some(claps_default("max-requests-per-hour"))
        );
    }
    let api_url = format!("# api_url = \"{}\"", claps_default("api-url"));
    assert!(written.contains(&api_url), "{written}");
}

#[test]
fn default_durations_read_as_written_and_are_claps() {
    for (long, default) in defaults::DURATIONS {
        assert_eq!(
            humantime::parse_duration(default.text).ok(),
            Some(default.value),
            "--{long}: {:?} is not {:?}",
            default.text,
            default.value
        );
        assert_eq!(claps_default(long), default.text, "--{long}");
    }
}

#[test]
fn claps_numeric_defaults_are_the_models() {
    let cases = [
        ("batch-rows", defaults::BATCH_ROWS.to_string()),
        ("buffer-mib", defaults::BUFFER_MIB.to_string()),
        ("upload-part-mib", defaults::UPLOAD_PART_MIB.to_string()),
        (
            "checkpoint-requests",
            defaults::CHECKPOINT_REQUESTS.to_string(),
        ),
        ("max-retries", defaults::MAX_RETRIES.to_string()),
        ("retry-delay-ms", defaults::RETRY_DELAY_MS.to_string()),
        ("max-response-mib", defaults::MAX_RESPONSE_MIB.to_string()),
        (
            "max-commits-per-deployment",
            defaults::MAX_COMMITS_PER_DEPLOYMENT.to_string(),
        ),
    ];
    for (long, want) in cases {
        assert_eq!(claps_default(long), want, "--{long}");
    }
}
