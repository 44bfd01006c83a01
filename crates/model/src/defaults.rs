//! Every default of bbpipe, once. The command line's definitions (clap), the library's option
//! types, `bbpipe init`'s template and the generated reference all read these, so that a
//! default changed here changes everywhere (tests in the CLI check that `bbpipe init` and
//! `config show` agree with clap's defaults).

use std::time::Duration;

/// A default duration, as a person writes it (`"2m"`, on the command line and in the config
/// file) and as the code uses it. A test checks that the two agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultDuration {
    /// humantime's notation: `2m`, `30d`.
    pub text: &'static str,
    /// The same duration.
    pub value: Duration,
}

impl DefaultDuration {
    const fn seconds(text: &'static str, seconds: u64) -> DefaultDuration {
        DefaultDuration {
            text,
            value: Duration::from_secs(seconds),
        }
    }
}

const DAY: u64 = 86_400;

/// Rows per batch between transform and load (`--batch-rows`).
pub const BATCH_ROWS: usize = 4096;
/// Memory for rows waiting to be written, in MiB (`--buffer-mib`).
pub const BUFFER_MIB: u32 = 32;
/// The size of each part of a multipart upload, in MiB (`--upload-part-mib`).
pub const UPLOAD_PART_MIB: u32 = 10;
/// How long a workspace's lease lasts unless renewed (`--lease`).
pub const LEASE: DefaultDuration = DefaultDuration::seconds("2m", 120);
/// How far behind the run watermark an incremental export reads again (`--lookback`).
pub const LOOKBACK: DefaultDuration = DefaultDuration::seconds("2d", 2 * DAY);
/// Requests in flight per workspace (`--concurrency`).
pub const CONCURRENCY: u32 = 4;
/// Workspaces exported at once by the nightly job (`--parallel-workspaces`).
pub const PARALLEL_WORKSPACES: u32 = 2;
/// Requests per hour and credential: Bitbucket's default allowance (`--max-requests-per-hour`).
pub const MAX_REQUESTS_PER_HOUR: u32 = 1000;
/// Retries of a 5xx, a timeout or a dropped connection (`--max-retries`).
pub const MAX_RETRIES: u32 = 5;
/// The first retry's delay, doubling after (`--retry-delay-ms`).
pub const RETRY_DELAY_MS: u64 = 500;
/// How long one request may wait out rate limits, in seconds (`--rate-limit-patience`).
pub const RATE_LIMIT_PATIENCE_SECONDS: u64 = 3600;
/// The largest response body read, in MiB (`--max-response-mib`).
pub const MAX_RESPONSE_MIB: u32 = 32;
/// A checkpoint at least every this many requests (`--checkpoint-requests`).
pub const CHECKPOINT_REQUESTS: u64 = 300;
/// A checkpoint at least this often (`--checkpoint-interval`).
pub const CHECKPOINT_INTERVAL: DefaultDuration = DefaultDuration::seconds("5m", 300);
/// Unfinished runs older than this are no longer fetched again (`--max-revisit-age`).
pub const MAX_REVISIT_AGE: DefaultDuration = DefaultDuration::seconds("365d", 365 * DAY);
/// An export with nothing moving for this long stops (`--stall-timeout`).
pub const STALL_TIMEOUT: DefaultDuration = DefaultDuration::seconds("5m", 300);
/// A first export reads the steps of runs created this recently (`--steps-since`).
pub const STEPS_SINCE: DefaultDuration = DefaultDuration::seconds("30d", 30 * DAY);
/// The most commits listed for one deployment (`--max-commits-per-deployment`).
pub const MAX_COMMITS_PER_DEPLOYMENT: usize = 500;
/// Data files older than this that no version references are removed (`vacuum --retain`).
pub const VACUUM_RETAIN: DefaultDuration = DefaultDuration::seconds("7d", 7 * DAY);

/// Every default duration, by the option that takes it, for the test that checks them.
pub const DURATIONS: [(&str, DefaultDuration); 7] = [
    ("lease", LEASE),
    ("lookback", LOOKBACK),
    ("checkpoint-interval", CHECKPOINT_INTERVAL),
    ("max-revisit-age", MAX_REVISIT_AGE),
    ("stall-timeout", STALL_TIMEOUT),
    ("steps-since", STEPS_SINCE),
    ("retain", VACUUM_RETAIN),
];
