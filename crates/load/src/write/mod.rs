//! The write path, from rows in memory to files on the store: split batches by partition
//! (`partition.rs`), spill late rows to sorted files on disk (`spill.rs`, `sorted_inputs.rs`),
//! write a partition while rows still arrive (`flush.rs`), merge a partition with its live
//! file, keeping the newest version of each key (`merge.rs`), encode zstd Parquet and upload
//! (`parquet.rs`; a streamed merge's file goes up as it is encoded, `upload_stream.rs`). The
//! sink (`crate::sink`) decides when; these modules do.

pub(crate) mod flush;
pub(crate) mod merge;
pub(crate) mod parquet;
pub(crate) mod partition;
pub(crate) mod sorted_inputs;
pub(crate) mod spill;
pub(crate) mod upload_stream;
