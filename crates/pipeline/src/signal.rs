//! SIGTERM and SIGINT: stop cleanly. A CronJob past its deadline sends SIGTERM, Ctrl-C SIGINT;
//! either stops the export at once, lets load delete what it had not committed, releases the
//! leases and exits 143 or 130. What earlier checkpoints committed stays, and the next export
//! continues from there.

use std::sync::OnceLock;
use tokio::sync::watch;

static RECEIVED: OnceLock<watch::Receiver<Option<Signal>>> = OnceLock::new();

/// A signal that stops bbpipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM (a scheduler's deadline).
    Terminate,
}

impl Signal {
    /// 128 + the signal number, as shells report it.
    pub fn exit_code(self) -> u8 {
        match self {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }

    /// The signal's name, e.g. `SIGTERM`.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }
}

/// Starts listening; call once, inside the runtime, before any work.
pub fn install() {
    let (tx, rx) = watch::channel(None);
    if RECEIVED.set(rx).is_err() {
        return;
    }
    tokio::spawn(async move {
        let signal = wait_for_os_signal().await;
        tracing::warn!("{}: stopping; nothing more is committed", signal.name());
        let _ = tx.send(Some(signal));
        // Keep the sender alive: receivers would otherwise see the channel close.
        std::future::pending::<()>().await;
    });
}

#[cfg(unix)]
async fn wait_for_os_signal() -> Signal {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => tokio::select! {
            _ = term.recv() => Signal::Terminate,
            _ = int.recv() => Signal::Interrupt,
        },
        _ => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn wait_for_os_signal() -> Signal {
    let _ = tokio::signal::ctrl_c().await;
    Signal::Interrupt
}

/// Resolves when a stopping signal arrived (never, if none does or none was installed).
pub async fn received() -> Signal {
    let Some(rx) = RECEIVED.get() else {
        return std::future::pending().await;
    };
    let mut rx = rx.clone();
    loop {
        if let Some(signal) = *rx.borrow_and_update() {
            return signal;
        }
        if rx.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}
