//! The vocabulary shared by bbpipe's stages, each fact with one owner.
//!
//! Extract emits [`RawPage`]s, transform turns them into [`TableBatch`]es, load writes those;
//! each stage depends on this crate and on none of the others. Here live:
//! - [`bitbucket`]: Bitbucket's JSON shapes, the slug fallback and JSON paths;
//! - [`TableSpec`]: everything about a table (key, versions, partition, merge rule, columns with
//!   their descriptions, from which `bbpipe schema` is generated);
//! - [`EndpointSpec`]: each Bitbucket endpoint once (API path, fixture place, `--with`
//!   option, tables, what a recording keeps);
//! - [`PartitionKey`]: every dataset path, built and parsed;
//! - [`Message`]: data, checkpoints and completion, as they travel down the channels;
//! - [`Activity`]: what each stage is doing right now, for the stall watchdog;
//! - [`defaults`]: every default, once, for the command line, the library and the docs.

/// The Arrow version the schemas are built with, for readers of them.
pub use arrow;

mod activity;
pub mod bitbucket;
pub mod defaults;
mod endpoints;
mod extras;
mod format;
mod message;
mod page;
mod partition;
mod spec;
mod table;
mod tables;

pub use activity::{Activity, Wait, Waiting};
pub use endpoints::{Endpoint, EndpointSpec, FileNames, Fixture, Optional, Read, Recorded, Under};
pub use extras::Extras;
pub use format::Format;
pub use message::{Checkpoint, Message};
pub use page::{PageSource, RawPage, RunRef, StepRef};
pub use partition::{
    Granularity, PartitionKey, Period, day_of_micros, is_data_file, workspace_dir, workspace_of,
};
pub use spec::{
    DESCRIPTION_KEY, DatePartition, Merge, SCHEMA_VERSION, SCHEMA_VERSION_KEY, TableSpec,
    timestamp_type,
};
pub use table::{Table, TableBatch};
pub use tables::run_reject_id;
