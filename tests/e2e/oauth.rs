//! End to end: a workspace OAuth consumer (client credentials grant) as the credential, and
//! app passwords as Bitbucket answers them now that Atlassian removed them.

use crate::common::mock::oauth::TOKEN_PATH;
use crate::common::mock::{Auth, MockBitbucket};
use crate::common::*;
use serde_json::Value;
use std::path::Path;

const CLIENT_ID: &str = "consumer-key-42";
const SECRET: &str = "consumer-5ecret-never-logged";

/// A mock that takes only the consumer's access tokens (living `lifetime_s`), with two
/// repositories of 150 and 40 runs created from `base` on (three pages of runs, 190 of steps).
fn consumer_mock(
    base: chrono::DateTime<chrono::Utc>,
    lifetime_s: u64,
    expire_after_requests: Option<usize>,
) -> MockBitbucket {
    // The Bearer value the mock would take without a consumer: never sent here.
    let mock = MockBitbucket::start("acme", Auth::Bearer("unused".into()));
    mock.oauth_consumer(CLIENT_ID, SECRET, lifetime_s, expire_after_requests);
    same_data(&mock, base);
    mock
}

/// The repositories and runs of every mock here; recent runs, so a first export reads their
/// steps too (one request each).
fn same_data(mock: &MockBitbucket, base: chrono::DateTime<chrono::Utc>) {
    mock.clock(base, chrono::Duration::minutes(7));
    mock.add_repo("api", 150);
    mock.add_repo("web", 40);
}

fn recent() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now() - chrono::Duration::days(3)
}

fn consumer_env(mock: &MockBitbucket, secret: &str) -> Vec<(&'static str, String)> {
    vec![
        ("BITBUCKET_API_URL", mock.url.clone()),
        ("BITBUCKET_OAUTH_CLIENT_ID", CLIENT_ID.into()),
        ("BITBUCKET_OAUTH_CLIENT_SECRET", secret.into()),
        (
            "BITBUCKET_OAUTH_TOKEN_URL",
            format!("{}{TOKEN_PATH}", mock.url),
        ),
        ("RUST_LOG", "debug".into()),
    ]
}

fn export(mock: &MockBitbucket, out: &Path, secret: &str) -> std::process::Output {
    let args = export_args(out.to_str().unwrap(), &["--with", "steps"]);
    bbpipe_with_env(&args, &consumer_env(mock, secret))
}

/// The secret goes to the token URL only; the API sees Bearer tokens only.
fn assert_the_secret_stayed_home(mock: &MockBitbucket, output: &std::process::Output, out: &Path) {
    for request in mock.requests() {
        let auth = request.authorization.unwrap_or_default();
        if request.path.starts_with(TOKEN_PATH) {
            assert!(auth.starts_with("Basic "), "{auth}");
        } else {
            assert!(
                auth.starts_with("Bearer oauth-access-"),
                "{}: {auth}",
                request.path
            );
        }
    }
    let printed = format!("{}{}", stdout(output), stderr(output));
    assert!(!printed.contains(SECRET) && !printed.contains("oauth-access-"));
    for file in all_files(out) {
        let bytes = std::fs::read(&file).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(SECRET) && !text.contains("oauth-access-"),
            "{}",
            file.display()
        );
    }
}

#[test]
fn an_oauth_consumer_exports_on_one_access_token_while_it_lives() {
    let mock = consumer_mock(recent(), 7200, None);
    let out = tempfile::tempdir().unwrap();
    let output = export(&mock, out.path(), SECRET);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(dataset_runs(out.path()).len(), 190);
    assert!(!dataset_steps(out.path()).is_empty());
    // One token for the whole export (concurrent requests share it).
    assert_eq!(mock.oauth_counts(), (1, 1));
    assert_the_secret_stayed_home(&mock, &output, out.path());
}

#[test]
fn short_lived_tokens_are_renewed_as_they_expire_and_the_rows_equal_a_bearer_export() {
    let base = recent();
    // Tokens of one second, and an API slow enough that the export outlives several.
    let mock = consumer_mock(base, 1, None);
    mock.state.lock().unwrap().delay_ms = 40;
    let out = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let output = export(&mock, out.path(), SECRET);
    let elapsed = started.elapsed().as_secs_f64();
    assert!(output.status.success(), "{}", stderr(&output));
    let (asked, issued) = mock.oauth_counts();
    assert_eq!(asked, issued, "no token request was refused");
    // Renewed 0.1 s before each expiry: about one token per 0.9 s of export, plus the first.
    let most = (elapsed / 0.9).ceil() as usize + 2;
    assert!(
        issued >= 2 && issued <= most,
        "{issued} tokens in {elapsed:.1} s"
    );
    assert_the_secret_stayed_home(&mock, &output, out.path());

    let bearer = MockBitbucket::start("acme", Auth::Bearer("tkn".into()));
    same_data(&bearer, base);
    let again = tempfile::tempdir().unwrap();
    let args = export_args(again.path().to_str().unwrap(), &["--with", "steps"]);
    let env = [
        ("BITBUCKET_API_URL", bearer.url.clone()),
        ("BITBUCKET_ACCESS_TOKEN", "tkn".to_string()),
    ];
    assert!(bbpipe_with_env(&args, &env).status.success());
    for table in ["pipeline_runs", "pipeline_steps", "repositories"] {
        assert_eq!(
            rows_without_export_time(out.path(), table),
            rows_without_export_time(again.path(), table),
            "{table}"
        );
    }
}

#[test]
fn a_token_refused_again_after_its_renewal_fails_the_credential() {
    // Every token is answered "Access token expired.": renewed once, then the 401 stands.
    let mock = consumer_mock(recent(), 7200, Some(0));
    let out = tempfile::tempdir().unwrap();
    let output = export(&mock, out.path(), SECRET);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(stderr(&output).contains("Access token expired."));
    assert_eq!(mock.oauth_counts(), (2, 2));
    assert!(dataset_runs(out.path()).is_empty());
}

#[test]
fn a_wrong_consumer_secret_is_exit_3_naming_the_token_url_and_nothing_is_written() {
    let mock = consumer_mock(recent(), 7200, None);
    let out = tempfile::tempdir().unwrap();
    let output = export(&mock, out.path(), "not-the-secret");
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains(TOKEN_PATH) && err.contains("Invalid OAuth client credentials"),
        "{err}"
    );
    assert!(!err.contains("not-the-secret"));
    assert!(
        mock.requests()
            .iter()
            .all(|r| r.path.starts_with(TOKEN_PATH))
    );
    assert!(dataset_runs(out.path()).is_empty());

    let check = bbpipe_with_env(
        &[
            "check",
            "--workspace",
            "acme",
            "--json",
            "--max-retries",
            "0",
        ],
        &consumer_env(&mock, "not-the-secret"),
    );
    let json: Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(
        (check.status.code(), json["auth_mode"].as_str()),
        (Some(3), Some("oauth_consumer"))
    );
    assert!(
        json["hint"]
            .as_str()
            .unwrap()
            .contains("BITBUCKET_OAUTH_CLIENT_ID"),
        "{json}"
    );
    let check = bbpipe_with_env(
        &["check", "--workspace", "acme", "--json"],
        &consumer_env(&mock, SECRET),
    );
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
}

#[test]
fn a_token_url_that_could_leak_the_secret_is_refused_before_any_request() {
    let mock = consumer_mock(recent(), 7200, None);
    let out = tempfile::tempdir().unwrap();
    let mut env = consumer_env(&mock, SECRET);
    env.retain(|(k, _)| *k != "BITBUCKET_OAUTH_TOKEN_URL");
    env.push((
        "BITBUCKET_OAUTH_TOKEN_URL",
        "http://bitbucket.example.com/token".into(),
    ));
    let args = export_args(out.path().to_str().unwrap(), &[]);
    let output = bbpipe_with_env(&args, &env);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("not an https:// URL"),
        "{}",
        stderr(&output)
    );
    assert!(mock.requests().is_empty());
}

#[test]
fn an_app_password_is_refused_with_what_to_use_instead() {
    // Bitbucket as it is since 2026-07-28: Basic with an app password is a 401.
    let mock = MockBitbucket::start("acme", Auth::Bearer("a-real-token".into()));
    mock.add_repo("api", 1);
    let out = tempfile::tempdir().unwrap();
    let env = vec![
        ("BITBUCKET_API_URL", mock.url.clone()),
        ("BITBUCKET_USERNAME", "ada".to_string()),
        ("BITBUCKET_APP_PASSWORD", "app-pass-5ecret".to_string()),
    ];
    let output = bbpipe_with_env(&export_args(out.path().to_str().unwrap(), &[]), &env);
    assert_eq!(output.status.code(), Some(3));
    let err = stderr(&output);
    assert!(
        err.contains("removed them on 2026-07-28") && err.contains("OAuth consumer"),
        "{err}"
    );
    assert!(!err.contains("app-pass-5ecret"));
}
