//! What a package installs beside the binary, generated from the clap definitions so it
//! cannot drift from them: shell completions (`bbpipe completions bash`) and man pages
//! (`bbpipe man --dir DIR`: `bbpipe.1` and one page per subcommand, `bbpipe-export.1`,
//! `bbpipe-rules-explain.1`, ...).

use crate::cli::Cli;
use anyhow::Context;
use clap::CommandFactory;
use clap_complete::Shell;
use std::path::Path;

/// Prints the completion script of `shell` on stdout.
pub fn completions(shell: Shell) -> anyhow::Result<()> {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "bbpipe", &mut std::io::stdout());
    Ok(())
}

/// Writes `bbpipe.1` and one page per subcommand (nested ones included) into `dir`; returns
/// the files' names.
pub fn man_pages(dir: &Path) -> anyhow::Result<Vec<String>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut command = Cli::command();
    // Subcommand pages are named and titled from their parent's name (`bbpipe-rules-check`).
    command.build();
    let mut written = Vec::new();
    write_pages(&command, dir, &mut written)?;
    Ok(written)
}

fn write_pages(
    command: &clap::Command,
    dir: &Path,
    written: &mut Vec<String>,
) -> anyhow::Result<()> {
    let name = command
        .get_display_name()
        .unwrap_or_else(|| command.get_name())
        .to_string();
    let file = format!("{name}.1");
    let path = dir.join(&file);
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone())
        .title(name.to_uppercase())
        .render(&mut page)
        .with_context(|| format!("rendering the man page {file}"))?;
    std::fs::write(&path, page).with_context(|| format!("writing {}", path.display()))?;
    written.push(file);
    // clap's own `help` subcommand needs no page: every page is the help.
    let documented = |s: &&clap::Command| !s.is_hide_set() && s.get_name() != "help";
    for sub in command.get_subcommands().filter(documented) {
        write_pages(sub, dir, written)?;
    }
    Ok(())
}
