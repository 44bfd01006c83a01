//! End to end: what the API (or a broken proxy in front of it) sends never escapes its place or
//! exhausts the job. Slugs that would walk out of a directory or into another endpoint, a body
//! of a gigabyte, credentials in the API URL, a redirect to another host.

use crate::common::mock::{Auth, MockBitbucket};
use crate::common::*;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const TOKEN: &str = "tkn-5ecret-value-not-for-logs";

fn env(api_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("BITBUCKET_API_URL", api_url.to_string()),
        ("BITBUCKET_ACCESS_TOKEN", TOKEN.to_string()),
    ]
}

/// Slugs a compromised API might list; none of them can be one path segment.
fn hostile_slugs() -> Vec<String> {
    vec!["../../x".into(), "a/b".into(), "..".into(), "x".repeat(300)]
}

#[test]
fn hostile_slugs_are_set_aside_and_nothing_is_written_outside_its_directory() {
    let mock = MockBitbucket::start("acme", Auth::Bearer(TOKEN.into()));
    mock.add_repo("web", 5);
    mock.add_repo("with space", 3);
    for slug in hostile_slugs() {
        mock.add_repo(&slug, 2);
    }
    let parent = tempfile::tempdir().unwrap();
    let (out, record) = (parent.path().join("out"), parent.path().join("rec"));
    let args = export_args(
        out.to_str().unwrap(),
        &[
            "--record",
            record.to_str().unwrap(),
            "--with",
            "steps,environments",
        ],
    );
    let output = bbpipe_within(&args, &env(&mock.url), Duration::from_secs(120)).unwrap();
    let logs = stderr(&output);
    assert!(output.status.success(), "{logs}");

    // Only the two usable repositories were asked about, their slugs each one segment.
    for request in mock.requests() {
        let path = request.path.split('?').next().unwrap();
        assert!(
            path == "/repositories/acme"
                || path.starts_with("/repositories/acme/web/")
                || path.starts_with("/repositories/acme/with%20space/"),
            "a request outside the usable repositories: {path}"
        );
    }
    assert_eq!(logs.matches("set aside, not exported").count(), 4, "{logs}");
    assert!(
        !logs.contains(&"x".repeat(201)),
        "a long slug printed whole: {logs}"
    );
    assert!(logs.contains("(300 bytes in all)"), "{logs}");

    // Nothing outside the dataset and the recording.
    let mut outside: Vec<_> = all_files(parent.path())
        .into_iter()
        .filter(|f| !f.starts_with(&out) && !f.starts_with(&record))
        .collect();
    outside.sort();
    assert!(outside.is_empty(), "written outside: {outside:?}");
    let mut runs: Vec<_> = read_table(&out, "pipeline_runs")
        .into_iter()
        .map(|r| r["repo_slug"].as_str().unwrap().to_string())
        .collect();
    runs.dedup();
    runs.sort();
    runs.dedup();
    assert_eq!(runs, ["web", "with space"]);
    assert_eq!(read_table(&out, "pipeline_runs").len(), 8);

    // The recording replays to the same runs.
    let replayed = parent.path().join("replayed");
    let replay = bbpipe(&[
        "replay",
        record.to_str().unwrap(),
        "--out",
        replayed.to_str().unwrap(),
    ]);
    assert!(replay.status.success(), "{}", stderr(&replay));
    assert_eq!(
        rows_without_export_time(&replayed, "pipeline_runs"),
        rows_without_export_time(&out, "pipeline_runs")
    );
}

#[test]
fn a_workspace_that_is_not_a_slug_is_refused_before_any_request() {
    let mock = MockBitbucket::start("acme", Auth::Bearer(TOKEN.into()));
    mock.add_repo("web", 1);
    let out = tempfile::tempdir().unwrap();
    for workspace in ["../x", "a b", "a/b", ""] {
        for command in [
            vec![
                "export",
                "--workspace",
                workspace,
                "--out",
                out.path().to_str().unwrap(),
            ],
            vec!["check", "--workspace", workspace],
        ] {
            let output = bbpipe_with_env(&command, &env(&mock.url));
            assert_eq!(
                output.status.code(),
                Some(2),
                "{command:?}: {}",
                stderr(&output)
            );
            assert!(
                stderr(&output).contains("not a Bitbucket workspace slug") || workspace.is_empty(),
                "{}",
                stderr(&output)
            );
        }
    }
    // In the configuration file too.
    let config = out.path().join("bbpipe.toml");
    std::fs::write(
        &config,
        format!(
            "out = {:?}\n[[workspace]]\nname = \"../../tmp/x\"\n[[workspace.credential]]\nname = \"one\"\ntoken_env = \"HOSTILE_TOKEN\"\n",
            out.path().join("out").to_str().unwrap()
        ),
    )
    .unwrap();
    let output = bbpipe_with_env(
        &["export", "--config", config.to_str().unwrap()],
        &[("HOSTILE_TOKEN", TOKEN.to_string())],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("not a Bitbucket workspace slug"),
        "{}",
        stderr(&output)
    );
    assert!(mock.requests().is_empty(), "{:?}", mock.requests());
}

#[test]
fn an_api_url_with_a_password_is_refused_and_the_password_shown_nowhere() {
    let password = "hunter2-api-url-secret";
    let url = format!("http://ada:{password}@127.0.0.1:9/2.0");
    let out = tempfile::tempdir().unwrap();
    let out = out.path().to_str().unwrap();
    let runs = [
        bbpipe(&[
            "export",
            "--workspace",
            "acme",
            "--out",
            out,
            "--api-url",
            &url,
        ]),
        bbpipe_with_env(
            &["check", "--workspace", "acme"],
            &[("BITBUCKET_API_URL", url.clone())],
        ),
    ];
    for output in runs {
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        let printed = stderr(&output) + &stdout(&output);
        assert!(
            printed.contains("must not carry a user name or password"),
            "{printed}"
        );
        assert!(!printed.contains(password), "{printed}");
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bbpipe.toml");
    std::fs::write(
        &config,
        format!(
            "out = {:?}\napi_url = {url:?}\n[[workspace]]\nname = \"acme\"\n[[workspace.credential]]\nname = \"one\"\ntoken_env = \"HOSTILE_TOKEN\"\n",
            dir.path().join("out").to_str().unwrap()
        ),
    )
    .unwrap();
    let output = bbpipe_with_env(
        &["export", "--config", config.to_str().unwrap()],
        &[("HOSTILE_TOKEN", TOKEN.to_string())],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(!(stderr(&output) + &stdout(&output)).contains(password));
}

/// A server that answers every request with `respond`, one thread per connection; counts them.
fn serve(
    respond: impl Fn(&mut std::net::TcpStream) + Send + Sync + 'static,
) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let (respond, counted) = (Arc::new(respond), Arc::clone(&count));
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            counted.fetch_add(1, Ordering::SeqCst);
            let respond = Arc::clone(&respond);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                respond(&mut stream);
            });
        }
    });
    (url, count)
}

/// The repositories listing answered with an endless slug, a gigabyte generated as it streams
/// (no Content-Length): refused at the limit, retried, exit 1 naming the URL and the limit;
/// the process's peak memory, measured from outside, stays far below what arrived.
#[test]
fn a_gigabyte_response_is_refused_as_it_streams_and_memory_stays_bounded() {
    let (url, _) = serve(|stream| {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n";
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(br#"{"values": [{"uuid": "{r}", "slug": ""#);
        let chunk = vec![b'a'; 1 << 20];
        for _ in 0..1024 {
            if stream.write_all(&chunk).is_err() {
                return; // the client hung up: it refused the body
            }
        }
        let _ = stream.write_all(br#""}]}"#);
    });
    let out = tempfile::tempdir().unwrap();
    let args = export_args(out.path().to_str().unwrap(), &["--max-retries", "1"]);
    let (output, peak_kib) = bbpipe_measured(&args, &env(&url), Duration::from_secs(120))
        .unwrap_or_else(|| panic!("still reading the gigabyte after two minutes"));
    let logs = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{logs}");
    assert!(
        logs.contains(&format!("GET {url}/repositories/acme"))
            && logs.contains("larger than 33554432 bytes (--max-response-mib)"),
        "{logs}"
    );
    assert!(logs.len() < 4000, "a long error: {} bytes", logs.len());
    eprintln!(
        "a gigabyte response refused; peak RSS {} MiB",
        peak_kib / 1024
    );
    assert!(
        peak_kib > 0 && peak_kib < 200 * 1024,
        "peak RSS {peak_kib} KiB"
    );
    assert!(!Path::new(&out.path().join("pipeline_runs")).exists());
}

/// A redirect is never followed: the other host gets no request (and so no credential).
#[test]
fn a_redirect_to_another_host_is_not_followed() {
    let (elsewhere, reached) = serve(|stream| {
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
    });
    let (url, _) = serve(move |stream| {
        let response = format!(
            "HTTP/1.1 302 Found\r\nLocation: {elsewhere}/repositories/acme\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let _ = stream.write_all(response.as_bytes());
    });
    let out = tempfile::tempdir().unwrap();
    let args = export_args(out.path().to_str().unwrap(), &["--max-retries", "0"]);
    let output = bbpipe_within(&args, &env(&url), Duration::from_secs(60)).unwrap();
    assert!(!output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("HTTP 302"), "{}", stderr(&output));
    assert_eq!(
        reached.load(Ordering::SeqCst),
        0,
        "the other host was reached"
    );
}
