//! The docs are tested as a reader uses them. README.md, ARCHITECTURE.md, CONTRIBUTING.md,
//! CHANGELOG.md, fixtures/README.md and docs/ are read as Markdown, and:
//!
//! - every ```` ```console ```` block runs: each `$ ` line (a trailing `\` continues it) is run
//!   by bash in a scratch directory of its page (blocks of a page share it, in order, with
//!   `fixtures/` and `docs/` linked in), with the tests' `bbpipe` and `.venv/bin` (DuckDB's
//!   command line) first on PATH. The lines under a command are its key output lines: each must
//!   be a line of what it printed (stdout and stderr as one stream), in that order, `[..]` standing for any
//!   text within a line. It must exit 0, or the code its info string names (`console exit=8`).
//!   `console mock` runs with `BITBUCKET_API_URL` and `BITBUCKET_ACCESS_TOKEN` set to the test
//!   mock of the Bitbucket API, which serves workspace `acme`; `console s3` against the local S3
//!   (moto), where a bucket of the page's own stands in for `s3://analytics/`;
//! - a block of any other language that runs bbpipe must say why it is not run here:
//!   `needs-bitbucket` (a real workspace), `needs-s3` (a bucket) or `on-host` (installs,
//!   schedulers, images);
//! - every relative link resolves, to a file and, with `#anchor`, to one of its headings;
//! - the generated pages are current, README stays a page, and every page of docs/ says whom it
//!   is for and is reachable from docs/README.md.

use crate::common::markdown::{self, Block, Page};
use crate::common::mock::{Auth, MockBitbucket};
use crate::common::s3;
use crate::common::*;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MOCK_TOKEN: &str = "docs-example-token";
/// The bucket the docs' examples name; each page's `console s3` blocks get a bucket of their own.
const DOCS_BUCKET: &str = "s3://analytics/";
/// Why a block that runs bbpipe is not run by this test.
const NOT_RUN: [&str; 3] = ["needs-bitbucket", "needs-s3", "on-host"];
/// Longest a documented command may take (the slowest replays the demo with every table).
const COMMAND_DEADLINE: Duration = Duration::from_secs(300);

#[test]
fn console_examples_run_and_print_their_key_lines() {
    let pages: Vec<Page> = markdown::pages(&repo_root())
        .into_iter()
        .filter(|page| page.blocks.iter().any(is_console))
        .collect();
    assert!(
        pages.len() >= 8,
        "console examples in only {} pages",
        pages.len()
    );
    let failures: Vec<String> = std::thread::scope(|scope| {
        let runs: Vec<_> = pages
            .iter()
            .map(|page| scope.spawn(|| run_page(page)))
            .collect();
        runs.into_iter()
            .flat_map(|run| run.join().unwrap())
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} docs examples failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn blocks_that_run_bbpipe_run_here_or_say_why_not() {
    let mut unmarked = vec![];
    for page in markdown::pages(&repo_root()) {
        for block in page.blocks.iter().filter(|b| !is_console(b)) {
            let words: Vec<&str> = block.info.split_whitespace().collect();
            if runs_bbpipe(&block.text) && !words.iter().any(|w| NOT_RUN.contains(w)) {
                unmarked.push(format!(
                    "{}:{} ```{}",
                    shown(&page.path),
                    block.line,
                    block.info
                ));
            }
        }
    }
    assert!(
        unmarked.is_empty(),
        "blocks that run bbpipe but are neither ```console nor marked {NOT_RUN:?}:\n{}",
        unmarked.join("\n")
    );
}

#[test]
fn relative_links_resolve_to_files_and_headings() {
    let root = repo_root();
    let pages = markdown::pages(&root);
    // Each target's headings, parsed once (a page is linked from many places).
    let mut anchors: HashMap<PathBuf, Vec<String>> = pages
        .iter()
        .map(|page| (page.path.canonicalize().unwrap(), page.anchors.clone()))
        .collect();
    let mut broken = vec![];
    for page in &pages {
        for link in &page.links {
            if link.target.contains("://") || link.target.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = match link.target.split_once('#') {
                Some((path, anchor)) => (path, Some(anchor)),
                None => (link.target.as_str(), None),
            };
            let target = if path.is_empty() {
                page.path.clone()
            } else {
                page.path.parent().unwrap().join(path)
            };
            let at = format!("{}:{} {}", shown(&page.path), link.line, link.target);
            if !target.exists() {
                broken.push(format!("{at}: no such file"));
            } else if let Some(anchor) = anchor
                && !anchors
                    .entry(target.canonicalize().unwrap())
                    .or_insert_with(|| markdown::read(&target).anchors)
                    .iter()
                    .any(|a| a == anchor)
            {
                broken.push(format!("{at}: no heading with that anchor"));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn generated_reference_pages_are_current() {
    let root = repo_root();
    let cli = std::fs::read_to_string(root.join("docs/reference/cli.md")).unwrap();
    assert_eq!(
        cli,
        stdout(&bbpipe(&["cli-reference"])),
        "docs/reference/cli.md is stale: run scripts/generate-docs"
    );
    let schema = std::fs::read_to_string(root.join("docs/reference/schema.md")).unwrap();
    let (start, end) = ("<!-- schema:start -->\n", "<!-- schema:end -->");
    let documented = &schema[schema.find(start).unwrap() + start.len()..schema.find(end).unwrap()];
    assert_eq!(
        documented.trim(),
        stdout(&bbpipe(&["schema"])).trim(),
        "docs/reference/schema.md is stale: run scripts/generate-docs"
    );
}

#[test]
fn readme_is_a_page_and_names_the_two_setup_commands() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(
        lines <= 250,
        "README.md has {lines} lines; the rest belongs in docs/"
    );
    assert!(readme.contains("cargo run --release -- replay fixtures/demo --out ./out"));
    assert!(readme.contains("\nscripts/test "));
    let ci = std::fs::read_to_string(repo_root().join(".ci/run")).unwrap();
    assert!(ci.contains("scripts/test"));
}

#[test]
fn every_docs_page_says_whom_it_is_for_and_is_on_the_map() {
    let root = repo_root();
    let docs = root.join("docs");
    let map = markdown::read(&docs.join("README.md"));
    let on_map: BTreeSet<PathBuf> = map
        .links
        .iter()
        .map(|link| docs.join(link.target.split('#').next().unwrap()))
        .collect();
    let mut problems = vec![];
    for page in markdown::pages(&root) {
        if !page.path.starts_with(&docs) || page.path == docs.join("README.md") {
            continue;
        }
        if page.title.is_none() {
            problems.push(format!("{}: no title (a `# ` heading)", shown(&page.path)));
        }
        if !page
            .text
            .lines()
            .take(6)
            .any(|line| line.starts_with("> For "))
        {
            problems.push(format!(
                "{}: no `> For ...` line under its title",
                shown(&page.path)
            ));
        }
        if !on_map.contains(&page.path) {
            problems.push(format!(
                "{}: not linked from docs/README.md",
                shown(&page.path)
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn is_console(block: &Block) -> bool {
    block.info.split_whitespace().next() == Some("console")
}

/// Whether a block's text invokes a bbpipe command (`bbpipe export ...`, `bbpipe -q check`).
fn runs_bbpipe(text: &str) -> bool {
    const COMMANDS: [&str; 12] = [
        "check",
        "export",
        "replay",
        "schema",
        "verify-output",
        "vacuum",
        "rules",
        "report",
        "init",
        "config",
        "completions",
        "--version",
    ];
    text.lines().any(|line| {
        let mut words = line
            .split_whitespace()
            .skip_while(|w| !w.ends_with("bbpipe"));
        words.next().is_some()
            && words
                .find(|w| !(w.starts_with('-') && *w != "--version"))
                .is_some_and(|w| COMMANDS.contains(&w))
    })
}

fn shown(path: &Path) -> String {
    path.strip_prefix(repo_root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Runs a page's console blocks in order; returns what failed.
fn run_page(page: &Page) -> Vec<String> {
    let scratch = tempfile::tempdir().unwrap();
    for shared in ["fixtures", "docs"] {
        std::os::unix::fs::symlink(repo_root().join(shared), scratch.path().join(shared)).unwrap();
    }
    let mock = page
        .blocks
        .iter()
        .any(|b| is_console(b) && b.info.split_whitespace().any(|w| w == "mock"))
        .then(docs_mock);
    let bucket = page
        .blocks
        .iter()
        .any(|b| is_console(b) && b.info.split_whitespace().any(|w| w == "s3"))
        .then(|| s3::bucket(&format!("docs-{}", page_tag(&page.path))));
    let mut failures = vec![];
    for block in page.blocks.iter().filter(|b| is_console(b)) {
        let at = format!("{}:{}", shown(&page.path), block.line);
        match Example::parse(block) {
            Err(problem) => failures.push(format!("{at}: {problem}")),
            Ok(example) => {
                let places = Places {
                    dir: scratch.path(),
                    mock: mock.as_ref().filter(|_| example.mock),
                    bucket: bucket.as_deref().filter(|_| example.s3),
                };
                failures.extend(
                    example
                        .run(&places)
                        .into_iter()
                        .map(|f| format!("{at}: {f}")),
                );
            }
        }
    }
    failures
}

/// The mock a page's `console mock` blocks talk to: workspace `acme`, two repositories.
fn docs_mock() -> MockBitbucket {
    let mock = MockBitbucket::start("acme", Auth::Bearer(MOCK_TOKEN.into()));
    mock.add_repo("api-service", 250);
    mock.add_repo("web-app", 40);
    mock
}

/// A short name of a page for its bucket (`guides-delta`).
fn page_tag(path: &Path) -> String {
    shown(path)
        .trim_end_matches(".md")
        .replace(['/', '_', '.'], "-")
        .to_lowercase()
}

/// Where a block's commands run, and what they talk to.
struct Places<'a> {
    dir: &'a Path,
    mock: Option<&'a MockBitbucket>,
    /// The bucket standing in for `s3://analytics`.
    bucket: Option<&'a str>,
}

/// One console block: its commands, each with its key output lines.
struct Example {
    commands: Vec<(String, Vec<String>)>,
    exit: i32,
    mock: bool,
    s3: bool,
}

impl Example {
    fn parse(block: &Block) -> Result<Example, String> {
        let mut example = Example {
            commands: vec![],
            exit: 0,
            mock: false,
            s3: false,
        };
        for word in block.info.split_whitespace().skip(1) {
            match word.split_once('=') {
                Some(("exit", code)) => {
                    example.exit = code
                        .parse()
                        .map_err(|_| format!("exit={code}: not a number"))?
                }
                None if word == "mock" => example.mock = true,
                None if word == "s3" => example.s3 = true,
                _ => return Err(format!("unknown word {word:?} in the info string")),
            }
        }
        let mut continued = false;
        for line in block.text.lines() {
            if continued {
                let (command, _) = example.commands.last_mut().unwrap();
                command.push('\n');
                command.push_str(line);
            } else if let Some(command) = line.strip_prefix("$ ") {
                example.commands.push((command.to_string(), vec![]));
            } else if let Some((_, expected)) = example.commands.last_mut() {
                let line = line.trim();
                if !line.is_empty() && line != "..." {
                    expected.push(line.to_string());
                }
            } else {
                return Err(format!("output before the first `$ ` command: {line:?}"));
            }
            continued = line.ends_with('\\');
        }
        if example.commands.is_empty() {
            return Err("a console block without a `$ ` command".into());
        }
        Ok(example)
    }

    /// Runs the commands in `dir`; the last one must exit with the block's code, the others 0.
    fn run(&self, places: &Places) -> Vec<String> {
        let mut failures = vec![];
        for (i, (command, expected)) in self.commands.iter().enumerate() {
            let want = if i + 1 == self.commands.len() {
                self.exit
            } else {
                0
            };
            let (code, output) = match run_command(command, places) {
                Ok(done) => done,
                Err(problem) => {
                    failures.push(format!("`{command}`: {problem}"));
                    break;
                }
            };
            let missing = missing_lines(expected, &output);
            if code != want || !missing.is_empty() {
                failures.push(format!(
                    "`{command}` exited {code} (documented: {want}); documented lines not printed \
                     (in order): {missing:#?}\n--- it printed:\n{output}"
                ));
                break;
            }
        }
        failures
    }
}

fn run_command(command: &str, places: &Places) -> Result<(i32, String), String> {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_bbpipe"));
    let venv = repo_root().join(".venv/bin");
    let path = std::env::join_paths(
        [bin.parent().unwrap().to_path_buf(), venv]
            .into_iter()
            .chain(std::env::split_paths(
                &std::env::var_os("PATH").unwrap_or_default(),
            )),
    )
    .unwrap();
    let mut shell = Command::new("bash");
    shell
        // One stream, as a terminal shows it: stderr lines in their place among stdout's.
        .args([
            "-o",
            "pipefail",
            "-c",
            &format!("exec 2>&1\n{}", in_bucket(command, places)),
        ])
        .current_dir(places.dir)
        .env("PATH", path)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("BITBUCKET_")) {
        shell.env_remove(name);
    }
    if places.bucket.is_some() {
        shell.envs(s3::env());
    }
    if let Some(mock) = places.mock {
        shell
            .env("BITBUCKET_API_URL", &mock.url)
            .env("BITBUCKET_ACCESS_TOKEN", MOCK_TOKEN);
    }
    let mut child = shell.spawn().map_err(|e| format!("bash: {e}"))?;
    let started = Instant::now();
    while child.try_wait().map_err(|e| e.to_string())?.is_none() {
        if started.elapsed() > COMMAND_DEADLINE {
            let _ = child.kill();
            return Err(format!("still running after {COMMAND_DEADLINE:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    Ok((output.status.code().unwrap_or(-1), text))
}

/// `command` with `s3://analytics/` pointing at the page's bucket, when it has one.
fn in_bucket(command: &str, places: &Places) -> String {
    match places.bucket {
        Some(bucket) => command.replace(DOCS_BUCKET, &format!("s3://{bucket}/")),
        None => command.to_string(),
    }
}

/// The expected lines not found, in order, among `output`'s lines.
fn missing_lines(expected: &[String], output: &str) -> Vec<String> {
    let mut lines = output.lines().map(str::trim);
    let mut missing = vec![];
    for want in expected {
        // A line not found leaves the search where it was, so later lines are still checked.
        let rest = lines.clone();
        if !lines.any(|line| matches(want, line)) {
            missing.push(want.clone());
            lines = rest;
        }
    }
    missing
}

/// Whether `line` is `pattern`, where `[..]` in the pattern stands for any text.
fn matches(pattern: &str, line: &str) -> bool {
    let mut parts = pattern.split("[..]");
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = line.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (i, part) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

#[test]
fn key_lines_match_in_order_with_wildcards() {
    let output = "bbpipe: a -> b\n  pipeline runs   2001 (x)\n  elapsed   0.30 s (6603 runs/s)\n";
    assert!(missing_lines(&["pipeline runs   2001 (x)".into()], output).is_empty());
    assert!(missing_lines(&["elapsed   [..] s ([..] runs/s)".into()], output).is_empty());
    assert_eq!(
        missing_lines(&["pipeline runs   2000 (x)".into()], output).len(),
        1
    );
    // Order counts.
    let reversed = ["elapsed   [..]".to_string(), "bbpipe: a -> b".to_string()];
    assert_eq!(
        missing_lines(&reversed, output),
        vec!["bbpipe: a -> b".to_string()]
    );
    assert!(!matches("a[..]c", "abd"));
    assert!(matches("[..]", "anything"));
}

#[test]
fn what_counts_as_running_bbpipe() {
    assert!(runs_bbpipe("bbpipe export --workspace acme"));
    assert!(runs_bbpipe(
        "0 3 * * *  X=1 /usr/local/bin/bbpipe -q export --config f"
    ));
    assert!(runs_bbpipe("bbpipe --version"));
    assert!(!runs_bbpipe("bbpipe: fixtures/demo -> ./out"));
    assert!(!runs_bbpipe("cargo install --locked --path ."));
}
