//! Leases: at most one writer per workspace and destination.
//!
//! A lease is a chain of records `_leases/<workspace>/<epoch>.json`, each written create-only
//! (`PutMode::Create`: `If-None-Match: *` on S3, a no-clobber link on local disk), so that of two
//! writers racing for the same epoch exactly one succeeds. The highest epoch is the current
//! record. Its holder renews by writing the next epoch; a writer that finds the current record
//! released or expired takes over by writing the next epoch. A holder whose renewal finds its
//! next epoch taken has lost the lease and stops before its next commit.
//!
//! Expiry is judged by the record's `expires_at` or by seeing one epoch unchanged for a whole
//! lease duration (on the monotonic clock), whichever comes first: a dead writer, or one with a
//! wrong clock, blocks the workspace for one lease at most. Safety never rests on clocks:
//! commits are fenced by create-only manifest sequence numbers (see [`History`]).
//!
//! [`History`]: crate::History

use crate::dataset::numbered::{number_of, numbered_path};
use crate::destination::Destination;
use crate::error::LoadError;
use chrono::{DateTime, Utc};
use object_store::path::Path;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// Where the lease records live, relative to the destination root.
pub const LEASE_DIR: &str = "_leases";

/// How long a lease lasts and how long to wait for one.
#[derive(Debug, Clone)]
pub struct LeaseOptions {
    /// A record expires this long after it was written unless renewed (every quarter of it).
    pub duration: Duration,
    /// How long to wait for a lease another writer holds (zero: fail at once).
    pub wait: Duration,
}

impl Default for LeaseOptions {
    fn default() -> Self {
        LeaseOptions {
            duration: bbpipe_model::defaults::LEASE.value,
            wait: Duration::ZERO,
        }
    }
}

/// Who holds a lease: enough for a person to find the process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// Host name.
    pub host: String,
    /// Process id.
    pub pid: u32,
    /// The export's run id.
    pub run_id: String,
    /// When the export started.
    pub started_at: DateTime<Utc>,
}

impl Holder {
    /// This process, for the export `run_id`.
    pub fn current(run_id: &str) -> Holder {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "unknown-host".into());
        Holder {
            host,
            pid: std::process::id(),
            run_id: run_id.to_string(),
            started_at: Utc::now(),
        }
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "host {} pid {} (export {} started {})",
            self.host,
            self.pid,
            self.run_id,
            self.started_at.format("%Y-%m-%dT%H:%M:%SZ")
        )
    }
}

/// One record of a lease's chain.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeaseRecord {
    /// The workspace leased.
    pub workspace: String,
    /// The lease's number in the workspace's chain.
    pub epoch: u64,
    /// Who holds it.
    pub holder: Holder,
    /// When this record was written.
    pub written_at: DateTime<Utc>,
    /// When it expires unless renewed.
    pub expires_at: DateTime<Utc>,
    /// The holder let go: the next writer need not wait.
    pub released: bool,
}

impl LeaseRecord {
    /// Whether its holder still holds it at `now`: not released and not expired.
    pub fn is_held(&self, now: DateTime<Utc>) -> bool {
        !self.released && self.expires_at > now
    }
}

/// A lease held by this process. Renewed in the background until released or dropped.
pub struct Lease {
    workspace: String,
    destination: Destination,
    holder: Holder,
    duration: Duration,
    shared: Arc<Shared>,
    /// The store's time of the record that took the lease: files last modified before it were
    /// written under an earlier lease.
    acquired_mark: DateTime<Utc>,
    renewal: tokio::task::JoinHandle<()>,
}

struct Shared {
    epoch: AtomicU64,
    lost: AtomicBool,
    /// Milliseconds since the epoch at which the last record written expires.
    expires_ms: AtomicU64,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renewal.abort();
    }
}

/// Checks once per destination that the store honours create-only writes: a second create of
/// the same object must fail. Stores that ignore `If-None-Match` would let two writers hold one
/// lease.
pub async fn check_conditional_writes(
    destination: &Destination,
    run_id: &str,
) -> Result<(), LoadError> {
    let probe = Path::from(LEASE_DIR).join(format!(".probe-{run_id}"));
    let unsupported = |detail: String| LoadError::NoConditionalWrites {
        destination: destination.display().to_string(),
        detail,
    };
    match destination.put_create(&probe, b"probe".to_vec()).await {
        Ok(true) => {}
        Ok(false) => return Err(unsupported("a fresh probe object already existed".into())),
        Err(LoadError::Store {
            source: object_store::Error::NotImplemented { .. },
            ..
        }) => return Err(unsupported("create-only writes are not implemented".into())),
        Err(e) => return Err(e),
    }
    let second = destination.put_create(&probe, b"probe".to_vec()).await;
    let _ = destination.delete(&probe).await;
    match second {
        Ok(false) => Ok(()),
        Ok(true) => Err(unsupported(
            "a second create-only write of one object succeeded (If-None-Match ignored)".into(),
        )),
        Err(e) => Err(e),
    }
}

fn record_path(workspace: &str, epoch: u64) -> Path {
    numbered_path(LEASE_DIR, workspace, epoch)
}

/// The newest record of a workspace's lease, if any.
pub async fn current_record(
    destination: &Destination,
    workspace: &str,
) -> Result<Option<LeaseRecord>, LoadError> {
    let prefix = Path::from(LEASE_DIR).join(workspace);
    let newest = destination
        .list(&prefix)
        .await?
        .iter()
        .filter_map(|meta| number_of(&meta.location))
        .max();
    let Some(epoch) = newest else {
        return Ok(None);
    };
    let path = record_path(workspace, epoch);
    let Some(bytes) = destination.get_opt(&path).await? else {
        // Deleted by its holder's cleanup between the listing and the read: look again.
        return Box::pin(current_record(destination, workspace)).await;
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| LoadError::Corrupt {
            path: destination.describe(&path),
            message: format!("not a bbpipe lease record ({e}); remove it if no export is running"),
        })
}

fn millis(t: DateTime<Utc>) -> u64 {
    u64::try_from(t.timestamp_millis()).unwrap_or(0)
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

impl Lease {
    /// Takes the lease of `workspace`, waiting up to `options.wait` for another holder's to be
    /// released or to expire.
    ///
    /// One function because taking a lease is one loop over the chain of records (read the current
    /// one, create the next create-only, or wait); the takeover rules are drawn in the module doc.
    pub async fn acquire(
        destination: &Destination,
        workspace: &str,
        holder: Holder,
        options: &LeaseOptions,
    ) -> Result<Lease, LoadError> {
        let deadline = Instant::now() + options.wait;
        // The epoch seen, and since when: an epoch unchanged for a whole lease has expired
        // whatever its record says.
        let mut seen: Option<(u64, Instant)> = None;
        loop {
            let next = match current_record(destination, workspace).await? {
                None => 1,
                Some(record) => {
                    let since = match seen {
                        Some((epoch, since)) if epoch == record.epoch => since,
                        _ => seen.insert((record.epoch, Instant::now())).1,
                    }
                    .elapsed();
                    // Unchanged for the holder's whole lease (not ours: leases differ), it
                    // has lapsed whatever the clocks say.
                    let holders_lease = (record.expires_at - record.written_at)
                        .to_std()
                        .unwrap_or(options.duration);
                    let free = !record.is_held(Utc::now())
                        || record.holder.run_id == holder.run_id
                        || since >= holders_lease;
                    if !free {
                        let now = Instant::now();
                        if now >= deadline {
                            return Err(LoadError::Locked {
                                workspace: workspace.to_string(),
                                holder: record.holder.to_string(),
                                expires_at: record.expires_at,
                            });
                        }
                        tracing::info!(workspace, holder = %record.holder, "waiting for the workspace's lease");
                        tokio::time::sleep((deadline - now).min(Duration::from_millis(500))).await;
                        continue;
                    }
                    if !record.released && record.holder.run_id != holder.run_id {
                        tracing::warn!(workspace, holder = %record.holder, "taking over an expired lease");
                    }
                    record.epoch + 1
                }
            };
            let record = LeaseRecord {
                workspace: workspace.to_string(),
                epoch: next,
                holder: holder.clone(),
                written_at: Utc::now(),
                expires_at: Utc::now() + chrono_duration(options.duration),
                released: false,
            };
            if write_record(destination, &record).await? {
                let path = record_path(workspace, next);
                let acquired_mark = destination.last_modified(&path).await?;
                let shared = Arc::new(Shared {
                    epoch: AtomicU64::new(next),
                    lost: AtomicBool::new(false),
                    expires_ms: AtomicU64::new(millis(record.expires_at)),
                });
                let renewal = tokio::spawn(renew(
                    destination.clone(),
                    record,
                    options.duration,
                    Arc::clone(&shared),
                ));
                tracing::debug!(workspace, epoch = next, "lease taken");
                return Ok(Lease {
                    workspace: workspace.to_string(),
                    destination: destination.clone(),
                    holder,
                    duration: options.duration,
                    shared,
                    acquired_mark,
                    renewal,
                });
            }
            // Another writer took that epoch first: look again.
        }
    }

    /// The workspace it leases.
    pub fn workspace(&self) -> &str {
        &self.workspace
    }

    /// The store's time at which this lease was taken.
    pub fn acquired_mark(&self) -> DateTime<Utc> {
        self.acquired_mark
    }

    /// Ok while the lease is ours with time to spare: called before every commit.
    pub fn check(&self) -> Result<(), LoadError> {
        let margin = chrono_duration(self.duration / 8);
        let expires = DateTime::from_timestamp_millis(
            i64::try_from(self.shared.expires_ms.load(Ordering::SeqCst)).unwrap_or(0),
        )
        .unwrap_or_default();
        let why = if self.shared.lost.load(Ordering::SeqCst) {
            "another export took it over"
        } else if Utc::now() + margin >= expires {
            "it could not be renewed in time"
        } else {
            return Ok(());
        };
        Err(LoadError::LeaseLost {
            workspace: self.workspace.clone(),
            why: why.into(),
        })
    }

    /// Lets go: the next writer need not wait for the lease to expire.
    pub async fn release(self) {
        self.renewal.abort();
        if self.shared.lost.load(Ordering::SeqCst) {
            return;
        }
        let epoch = self.shared.epoch.load(Ordering::SeqCst);
        let record = LeaseRecord {
            workspace: self.workspace.clone(),
            epoch: epoch + 1,
            holder: self.holder.clone(),
            written_at: Utc::now(),
            expires_at: Utc::now(),
            released: true,
        };
        match write_record(&self.destination, &record).await {
            Ok(true) => prune(&self.destination, &self.workspace, epoch + 1).await,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(workspace = %self.workspace, "could not release the lease: {e}")
            }
        }
    }
}

/// Writes a record create-only; false when its epoch was taken.
async fn write_record(destination: &Destination, record: &LeaseRecord) -> Result<bool, LoadError> {
    let json = serde_json::to_vec_pretty(record).map_err(|e| LoadError::Destination {
        destination: destination.display().to_string(),
        message: e.to_string(),
    })?;
    destination
        .put_create(&record_path(&record.workspace, record.epoch), json)
        .await
}

/// Deletes records older than `keep` (best effort).
async fn prune(destination: &Destination, workspace: &str, keep: u64) {
    let prefix = Path::from(LEASE_DIR).join(workspace);
    let Ok(listed) = destination.list(&prefix).await else {
        return;
    };
    for meta in listed {
        let old = number_of(&meta.location).is_some_and(|epoch| epoch < keep);
        if old {
            let _ = destination.delete(&meta.location).await;
        }
    }
}

/// Renews every quarter of the lease until aborted or lost.
async fn renew(
    destination: Destination,
    mut record: LeaseRecord,
    duration: Duration,
    shared: Arc<Shared>,
) {
    loop {
        tokio::time::sleep(duration / 4).await;
        record.epoch += 1;
        record.written_at = Utc::now();
        record.expires_at = record.written_at + chrono_duration(duration);
        match write_record(&destination, &record).await {
            Ok(true) => {
                shared.epoch.store(record.epoch, Ordering::SeqCst);
                shared
                    .expires_ms
                    .store(millis(record.expires_at), Ordering::SeqCst);
                // Keep the previous record: a reader listing right now may be about to read it.
                prune(&destination, &record.workspace, record.epoch - 1).await;
            }
            Ok(false) if written_by_us(&destination, &record).await => {
                shared.epoch.store(record.epoch, Ordering::SeqCst);
                shared
                    .expires_ms
                    .store(millis(record.expires_at), Ordering::SeqCst);
            }
            Ok(false) => {
                tracing::error!(workspace = %record.workspace, "the lease was taken over by another export");
                shared.lost.store(true, Ordering::SeqCst);
                return;
            }
            Err(e) => {
                // Try again at the next tick; `check` fails once the last record expires.
                record.epoch -= 1;
                tracing::warn!(workspace = %record.workspace, "renewing the lease failed: {e}");
            }
        }
    }
}

/// Whether the record at `record.epoch` is ours: a renewal whose answer was lost did succeed.
async fn written_by_us(destination: &Destination, record: &LeaseRecord) -> bool {
    let path = record_path(&record.workspace, record.epoch);
    match destination.get_opt(&path).await {
        Ok(Some(bytes)) => serde_json::from_slice::<LeaseRecord>(&bytes)
            .is_ok_and(|found| found.holder.run_id == record.holder.run_id),
        _ => false,
    }
}
