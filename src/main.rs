//! `bbpipe`: exports Bitbucket Cloud Pipelines history to analytics-ready Parquet.
//!
//! This binary parses the command line, sets up logging, calls the `bbpipe-pipeline` library
//! and prints what it returns, with the documented exit codes.

// The doc comments of `cli` are clap's --help text, plain text for a terminal: `<workspace>`
// and bare URLs read right there, not as HTML.
#![allow(rustdoc::invalid_html_tags, rustdoc::bare_urls)]

mod check;
mod cli;
mod client;
mod exit;
mod explicit_options;
mod export_cmd;
mod export_job;
mod generate;
mod metrics;
mod nightly;
mod outcome;
mod progress;
mod report_cmd;
mod rules_cmd;
mod schema_doc;
mod summary;
mod write_cmd;

use cli::{Cli, Command};
use std::process::ExitCode;

fn main() -> ExitCode {
    limit_malloc_arenas();
    let matches = <Cli as clap::CommandFactory>::command().get_matches();
    let cli = match <Cli as clap::FromArgMatches>::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    let given = explicit_options::ExplicitOptions::of(matches.subcommand().map(|(_, m)| m));
    init_logging(cli.verbose, cli.quiet, cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        bbpipe_pipeline::signal::install();
        match cli.command {
            Command::Check(args) => check::run(args, &given).await,
            Command::Export(args) => export_cmd::run(*args, &given, cli.quiet).await,
            Command::Init => {
                print!("{}", bbpipe_pipeline::config::template());
                Ok(())
            }
            Command::Config(cli::ConfigCommand::Show(args)) => nightly::show(&args.config),
            Command::Replay(args) => write_cmd::replay(args, cli.quiet).await,
            Command::Schema(args) => schema_doc::print(&args),
            Command::Rules(command) => rules_cmd::run(command).await,
            Command::VerifyOutput(args) => write_cmd::verify_output(args, cli.quiet).await,
            Command::Vacuum(args) => write_cmd::vacuum(args, cli.quiet).await,
            Command::Report(args) => report_cmd::run(args, cli.quiet).await,
            Command::Completions(args) => generate::completions(args.shell),
            Command::CliReference => {
                print!("{}", generate::cli_reference());
                Ok(())
            }
            Command::Man(args) => {
                let written = generate::man_pages(&args.dir)?;
                if !cli.quiet {
                    eprintln!("{} man pages in {}", written.len(), args.dir.display());
                }
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let (code, message) = match error.downcast_ref::<exit::Exit>() {
                Some(exit) => (exit.code, exit.message.clone()),
                None => (1, format!("{error:#}")),
            };
            if !message.is_empty() {
                match cli.log_format {
                    // A log aggregator reads stderr: the last line is JSON too.
                    cli::LogFormat::Json => tracing::error!(exit_code = code, "{message}"),
                    cli::LogFormat::Text => eprintln!("error: {message}"),
                }
            }
            ExitCode::from(code)
        }
    }
}

/// glibc gives each thread its own malloc arena; with a stage per thread, freed batch memory then
/// stays resident in arenas that other threads never reuse, and peak memory grows with the data
/// instead of tracking the buffer budget. Two arenas keep it flat (measured in BENCHMARKS.md).
/// Batches of a large partition's merge come and go in sizes that glibc's adaptive thresholds
/// would keep resident: blocks of 1 MiB and more are mapped and unmapped, and free memory above
/// 1 MiB is returned (at 1M runs: peak RSS 122 MiB instead of 155 MiB, no slower).
/// Called before any thread starts.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; no other thread exists yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 20);
    }
}

/// Logs go to stderr; `RUST_LOG` wins over `-v`/`-q`.
fn init_logging(verbose: u8, quiet: bool, format: cli::LogFormat) {
    use tracing_subscriber::EnvFilter;
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn,bbpipe=info",
        (false, 1) => {
            "info,bbpipe=debug,bbpipe_pipeline::extract=debug,bbpipe_pipeline::transform=debug,bbpipe_pipeline::load=debug"
        }
        (false, _) => {
            "debug,bbpipe=trace,bbpipe_pipeline::extract=trace,bbpipe_pipeline::transform=trace,bbpipe_pipeline::load=trace"
        }
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        cli::LogFormat::Json => logs.json().with_current_span(false).init(),
        cli::LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_target(false)
            .init(),
    }
}
