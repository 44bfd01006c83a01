//! The dataset's record of itself, `_dataset.json`: how its date-partitioned tables are split
//! (month or day) and their format (Parquet or Delta). It is written once, create-only, by the
//! first export into a destination; every later writer uses what it says, so the tables of one
//! dataset never mix `created_month=` and `created_date=` directories (engines would read them
//! as two columns), nor Delta commits with plain Parquet rewrites.

use crate::dataset::manifest::MANIFEST_DIR;
use crate::destination::Destination;
use crate::error::LoadError;
use bbpipe_model::{Format, Granularity};
use object_store::path::Path;
use serde::{Deserialize, Serialize};

/// Where the record lives, under the destination root.
pub const DATASET_RECORD: &str = "_dataset.json";

/// `_dataset.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetRecord {
    /// Always `bbpipe`.
    pub tool: String,
    /// The bbpipe version that created the dataset.
    pub created_by: String,
    /// How date-partitioned tables are split.
    pub partition_by: Granularity,
    /// The tables' format (absent in records of datasets made before Delta: Parquet).
    #[serde(default)]
    pub format: Format,
}

impl DatasetRecord {
    fn new(partition_by: Granularity, format: Format) -> DatasetRecord {
        DatasetRecord {
            tool: "bbpipe".into(),
            created_by: env!("CARGO_PKG_VERSION").into(),
            partition_by,
            format,
        }
    }

    /// Reads the record; `None` if the dataset has none (new, or written by bbpipe 0.1 before
    /// it had one).
    pub async fn read(destination: &Destination) -> Result<Option<DatasetRecord>, LoadError> {
        let path = Path::from(DATASET_RECORD);
        let Some(bytes) = destination.get_opt(&path).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| LoadError::Corrupt {
                path: destination.describe(&path),
                message: format!("not a bbpipe dataset record: {e}"),
            })
    }
}

/// The layout to write `destination` with: the one its record says; for a dataset of an
/// earlier version (manifests but no record), `day` and Parquet, the only ones it knew; for a
/// new dataset, what is requested or the defaults (`month`, Parquet). Writes the record if
/// missing, create-only, so that of two writers creating a dataset at once both use the first
/// one's choice. A requested granularity or format other than the dataset's is refused: one
/// dataset has one layout.
pub async fn resolve_layout(
    destination: &Destination,
    partition_by: Option<Granularity>,
    format: Option<Format>,
) -> Result<DatasetRecord, LoadError> {
    let path = Path::from(DATASET_RECORD);
    let record = match DatasetRecord::read(destination).await? {
        Some(record) => record,
        None => {
            let earlier_version = !destination.is_empty(&Path::from(MANIFEST_DIR)).await?;
            let record = match earlier_version {
                true => DatasetRecord::new(Granularity::Day, Format::Parquet),
                false => {
                    DatasetRecord::new(partition_by.unwrap_or_default(), format.unwrap_or_default())
                }
            };
            let json = serde_json::to_vec_pretty(&record).map_err(|e| LoadError::Corrupt {
                path: destination.describe(&path),
                message: e.to_string(),
            })?;
            if destination.put_create(&path, json).await? {
                record
            } else {
                // Another writer created the dataset first: its choice stands.
                DatasetRecord::read(destination).await?.unwrap_or(record)
            }
        }
    };
    if let Some(requested) = partition_by
        && requested != record.partition_by
    {
        return Err(LoadError::Layout {
            destination: destination.display().to_string(),
            dataset: record.partition_by,
            requested,
        });
    }
    if let Some(requested) = format
        && requested != record.format
    {
        return Err(LoadError::Format {
            destination: destination.display().to_string(),
            dataset: record.format,
            requested,
        });
    }
    Ok(record)
}
