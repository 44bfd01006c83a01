//! Progress while exporting: bars on a terminal, a log line every 30 s otherwise.

use bbpipe_pipeline::extract::ExportProgress;
use bbpipe_pipeline::extract::api::RequestStats;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::watch;

/// Runs until dropped.
pub struct Progress {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Progress {
    pub fn start(
        export: Arc<ExportProgress>,
        requests: Arc<RequestStats>,
        quiet: bool,
    ) -> Progress {
        let (stop, mut stopped) = watch::channel(false);
        let terminal = std::io::stderr().is_terminal() && !quiet;
        let task = tokio::spawn(async move {
            let bar = terminal.then(|| {
                let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
                let style = ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} repositories · {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar());
                bar.set_style(style);
                bar
            });
            let every = if terminal {
                Duration::from_millis(200)
            } else {
                Duration::from_secs(30)
            };
            if !terminal {
                // Log lines only for exports long enough to need them.
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stopped.changed() => return,
                }
            }
            loop {
                let done = export.repositories_done.load(Ordering::Relaxed);
                let total = export.repositories_total.load(Ordering::Relaxed);
                let runs = export.runs_fetched.load(Ordering::Relaxed);
                let sent = RequestStats::get(&requests.requests);
                let waiting = requests.waiting_on_rate_limit.load(Ordering::Relaxed);
                let message = format!(
                    "{runs} runs · {sent} requests{}",
                    if waiting {
                        " · waiting: rate limited by Bitbucket"
                    } else {
                        ""
                    }
                );
                match &bar {
                    Some(bar) => {
                        bar.set_length(total);
                        bar.set_position(done);
                        bar.set_message(message);
                    }
                    None if !quiet => tracing::info!("{done}/{total} repositories · {message}"),
                    None => {}
                }
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stopped.changed() => break,
                }
            }
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
        });
        Progress { stop, task }
    }

    pub async fn finish(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}
