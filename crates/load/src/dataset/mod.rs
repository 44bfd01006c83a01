//! The dataset's own records and rules, apart from how rows get written: `_dataset.json`
//! (layout: granularity and format), the numbered logs of manifests (the commit point and the
//! sync state) and leases (who may write a workspace), the commit protocol, reading live files
//! back, and `verify-output`.
//!
//! ```text
//! <dest>/_dataset.json                          layout.rs     create-only, first writer wins
//! <dest>/_leases/<ws>/<epoch>.json              lease.rs      create-only chain, renewed
//! <dest>/_manifests/<ws>/<sequence>.json        manifest.rs   create-only: THE commit point
//! <dest>/<table>/workspace=<ws>/.../part-*.parquet  reader.rs live when a manifest added it
//!                                                             and no later one removed it
//! ```

pub(crate) mod commit;
pub(crate) mod layout;
pub(crate) mod lease;
pub(crate) mod manifest;
pub(crate) mod numbered;
pub(crate) mod reader;
pub(crate) mod scan;
pub(crate) mod verify;
