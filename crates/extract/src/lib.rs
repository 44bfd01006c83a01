//! Extract: where raw Bitbucket pages come from.
//!
//! [`Replay`] reads pages recorded in the fixture layout (see [`layout`]) and sends them down a
//! bounded channel as [`RawPage`](bbpipe_model::RawPage)s, exactly as a live export would.

mod error;
pub mod layout;
mod replay;

pub use error::ExtractError;
pub use replay::Replay;

/// What an extraction sent down its channel.
#[derive(Debug, Clone, Default)]
pub struct ExtractSummary {
    pub pages: u64,
    /// Bytes of page bodies.
    pub bytes: u64,
}
