//! The vocabulary shared by bbpipe's stages.
//!
//! Extract emits [`RawPage`]s, transform turns them into [`TableBatch`]es, load writes those.
//! Each stage depends on this crate and on none of the others. The Arrow schemas of the output
//! tables live here too ([`Table::schema`], from one [`TableSpec`] per table), with a description on every column, so that the
//! documentation (`bbpipe schema`) is generated from the very schema the writer uses.

pub mod bitbucket;
mod message;
mod page;
mod partition;
mod table;
mod tables;

pub use message::{Checkpoint, Message};
pub use page::{Endpoint, PageSource, RawPage};
pub use partition::{PartitionKey, day_of_micros, is_data_file, workspace_dir, workspace_of};
pub use table::{
    DESCRIPTION_KEY, DatePartition, Merge, SCHEMA_VERSION, SCHEMA_VERSION_KEY, Table, TableBatch,
    TableSpec, timestamp_type,
};
