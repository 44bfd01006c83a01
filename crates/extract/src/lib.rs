//! Extract: where raw Bitbucket pages come from.
//!
//! [`Replay`] reads pages recorded in the fixture layout (see [`layout`]) and sends them down a
//! bounded channel as [`RawPage`](bbpipe_model::RawPage)s, exactly as a live export would.

mod error;
pub mod layout;
mod replay;

pub use error::ExtractError;
pub use replay::{Replay, ReplaySummary};
