//! Merging one partition's parts into the rows its file holds: the newest version of each key
//! (by the table's version columns), sorted by the table's sort column and key.

use crate::error::LoadError;
use arrow::array::{Array, ArrayRef};
use arrow::compute::{SortOptions, interleave};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use arrow::row::{RowConverter, Rows, SortField};
use bbpipe_model::Table;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

/// Merges `parts` (all of one partition, oldest first) into the rows a file will hold: the
/// newest version of each key, by the table's sort column and then its key. Returns the rows and
/// how many older versions were dropped. The rows are copied once, straight into their final
/// order: a partition's merge holds its input and its output, nothing in between.
pub fn merge_partition(
    table: Table,
    parts: &[RecordBatch],
) -> Result<(RecordBatch, u64), LoadError> {
    let merged = Merged::new(table, parts.to_vec())?;
    Ok((merged.slice(0, merged.len())?, merged.duplicates))
}

/// The rows of one partition's merge, not yet copied: which row of which part goes where.
/// Taking them a slice at a time holds the input and one slice, not a second copy of it all.
pub(crate) struct Merged {
    table: Table,
    parts: Vec<RecordBatch>,
    /// (part, row) of the newest version of each key, in merge order.
    picks: Vec<(usize, usize)>,
    /// Older versions dropped.
    pub(crate) duplicates: u64,
}

impl Merged {
    /// Merges `parts` (oldest first).
    pub(crate) fn new(table: Table, parts: Vec<RecordBatch>) -> Result<Merged, LoadError> {
        let bad = LoadError::arrow(table);
        let received: usize = parts.iter().map(RecordBatch::num_rows).sum();
        if received == 0 {
            return Ok(Merged {
                table,
                parts,
                picks: Vec::new(),
                duplicates: 0,
            });
        }
        let newest = newest_versions(table, &parts).map_err(bad)?;
        let order = Comparable::order(table).map_err(bad)?;
        let column =
            |i: usize| -> Vec<&dyn Array> { parts.iter().map(|p| p.column(i).as_ref()).collect() };
        let order_columns = order
            .columns
            .iter()
            .map(|&i| interleave(&column(i), &newest))
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad)?;
        let order_rows = order
            .converter
            .convert_columns(&order_columns)
            .map_err(bad)?;
        let mut order: Vec<usize> = (0..newest.len()).collect();
        order.sort_unstable_by(|&a, &b| order_rows.row(a).cmp(&order_rows.row(b)));
        let picks: Vec<(usize, usize)> = order.into_iter().map(|i| newest[i]).collect();
        Ok(Merged {
            table,
            duplicates: (received - picks.len()) as u64,
            parts,
            picks,
        })
    }

    /// Rows after the merge.
    pub(crate) fn len(&self) -> usize {
        self.picks.len()
    }

    /// `len` merged rows from `start`, copied out of the parts.
    pub(crate) fn slice(&self, start: usize, len: usize) -> Result<RecordBatch, LoadError> {
        let bad = LoadError::arrow(self.table);
        let schema = self.table.schema();
        let picks = &self.picks[start.min(self.picks.len())..(start + len).min(self.picks.len())];
        if picks.is_empty() {
            return Ok(RecordBatch::new_empty(schema));
        }
        let columns = (0..schema.fields().len())
            .map(|i| {
                let arrays: Vec<&dyn Array> =
                    self.parts.iter().map(|p| p.column(i).as_ref()).collect();
                interleave(&arrays, picks)
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad)?;
        let options = RecordBatchOptions::new().with_row_count(Some(picks.len()));
        RecordBatch::try_new_with_options(schema, columns, &options).map_err(bad)
    }

    /// The merged rows, `rows` at a time.
    pub(crate) fn batches(
        &self,
        rows: usize,
    ) -> impl Iterator<Item = Result<RecordBatch, LoadError>> + '_ {
        (0..self.len())
            .step_by(rows.max(1))
            .map(move |start| self.slice(start, rows))
    }
}

/// Named columns of a table's rows as comparable bytes (ascending, nulls first): the one
/// definition of how keys, versions and the order of rows in a file compare, for the in-memory
/// merge and the streamed one alike.
pub(crate) struct Comparable {
    converter: RowConverter,
    /// The columns compared, found by name in each batch (which may hold only some of the
    /// table's columns).
    names: Vec<&'static str>,
    /// Their indices in the table's schema.
    columns: Vec<usize>,
}

impl Comparable {
    fn new(table: Table, names: &[&'static str]) -> Result<Comparable, arrow::error::ArrowError> {
        let schema = table.schema();
        let columns = names
            .iter()
            .map(|name| schema.index_of(name))
            .collect::<Result<Vec<_>, _>>()?;
        let nulls_first = SortOptions {
            descending: false,
            nulls_first: true,
        };
        let fields = columns
            .iter()
            .map(|&i| SortField::new_with_options(schema.field(i).data_type().clone(), nulls_first))
            .collect();
        Ok(Comparable {
            converter: RowConverter::new(fields)?,
            names: names.to_vec(),
            columns,
        })
    }

    /// The key columns: versions of one row share them.
    pub(crate) fn key(table: Table) -> Result<Comparable, arrow::error::ArrowError> {
        Comparable::new(table, table.key_columns())
    }

    /// The version columns: the greater version wins.
    pub(crate) fn version(table: Table) -> Result<Comparable, arrow::error::ArrowError> {
        Comparable::new(table, table.version_columns())
    }

    /// The order of rows in a file: by the table's sort column, then by its key, so that the
    /// order is total and every file of a partition is a sorted input that
    /// [`merge_sorted`](crate::write::sorted_inputs::merge_sorted) can merge as a stream.
    pub(crate) fn order(table: Table) -> Result<Comparable, arrow::error::ArrowError> {
        let names: Vec<&'static str> = std::iter::once(table.sort_column())
            .chain(table.key_columns().iter().copied())
            .collect();
        Comparable::new(table, &names)
    }

    /// The compared columns of a batch, by name.
    fn columns_of(&self, batch: &RecordBatch) -> Result<Vec<ArrayRef>, arrow::error::ArrowError> {
        let schema = batch.schema();
        self.names
            .iter()
            .map(|name| Ok(Arc::clone(batch.column(schema.index_of(name)?))))
            .collect()
    }

    /// The rows of a batch.
    pub(crate) fn rows(&self, batch: &RecordBatch) -> Result<Rows, arrow::error::ArrowError> {
        self.converter.convert_columns(&self.columns_of(batch)?)
    }

    /// Room for `rows` rows of about `bytes` bytes each.
    pub(crate) fn empty_rows(&self, rows: usize, bytes: usize) -> Rows {
        self.converter.empty_rows(rows, rows * bytes)
    }

    /// Appends the rows of a batch.
    fn append(&self, rows: &mut Rows, batch: &RecordBatch) -> Result<(), arrow::error::ArrowError> {
        self.converter.append(rows, &self.columns_of(batch)?)
    }
}

/// The newest version of each key across `parts` (oldest first), as (part, row), in
/// first-seen order.
pub(crate) fn newest_versions(
    table: Table,
    parts: &[RecordBatch],
) -> Result<Vec<(usize, usize)>, arrow::error::ArrowError> {
    let (keys, versions) = (Comparable::key(table)?, Comparable::version(table)?);
    let received: usize = parts.iter().map(RecordBatch::num_rows).sum();
    let mut key_rows = keys.empty_rows(received, 48);
    let mut version_rows = versions.empty_rows(received, 16);
    let mut at = Vec::with_capacity(received);
    for (index, part) in parts.iter().enumerate() {
        keys.append(&mut key_rows, part)?;
        versions.append(&mut version_rows, part)?;
        at.extend((0..part.num_rows()).map(|row| (index, row)));
    }

    let mut winner: HashMap<&[u8], usize> = HashMap::with_capacity(received);
    let mut order: Vec<usize> = Vec::with_capacity(received);
    for row in 0..received {
        match winner.entry(key_rows.row(row).data()) {
            Entry::Vacant(slot) => {
                slot.insert(order.len());
                order.push(row);
            }
            Entry::Occupied(slot) => {
                let held = &mut order[*slot.get()];
                // `>=`: with equal versions, the row read later wins.
                if version_rows.row(row) >= version_rows.row(*held) {
                    *held = row;
                }
            }
        }
    }
    if let Some(group) = table.group_column() {
        newest_groups(table, group, parts, &version_rows, &mut order)?;
    }
    Ok(order.into_iter().map(|row| at[row]).collect())
}

/// Keeps, of the winning rows in `order`, those of the newest version of their group: a
/// group written again replaces all its older rows, also those whose key it no longer has.
fn newest_groups(
    table: Table,
    group: &'static str,
    parts: &[RecordBatch],
    version_rows: &arrow::row::Rows,
    order: &mut Vec<usize>,
) -> Result<(), arrow::error::ArrowError> {
    let groups = Comparable::new(table, &[group])?;
    let received: usize = parts.iter().map(RecordBatch::num_rows).sum();
    let mut group_rows = groups.empty_rows(received, 48);
    for part in parts {
        groups.append(&mut group_rows, part)?;
    }
    let mut newest: HashMap<&[u8], usize> = HashMap::new();
    for &row in order.iter() {
        let slot = newest.entry(group_rows.row(row).data()).or_insert(row);
        if version_rows.row(row) > version_rows.row(*slot) {
            *slot = row;
        }
    }
    order.retain(|&row| {
        newest
            .get(group_rows.row(row).data())
            .is_none_or(|&best| version_rows.row(row) >= version_rows.row(best))
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{
        AsArray, Int64Array, StringArray, TimestampMicrosecondArray, new_null_array,
    };
    use arrow::datatypes::{DataType, Int64Type};

    /// One pipeline-runs version: (repo_uuid, uuid, run_number, completed_at, exported_at);
    /// created_at orders the file, so it is the uuid's number.
    type Version = (&'static str, &'static str, Option<i64>, Option<i64>, i64);

    fn runs(rows: &[Version]) -> RecordBatch {
        let schema = Table::PipelineRuns.schema();
        let n = rows.len();
        let text = |f: fn(&Version) -> &str| -> ArrayRef {
            Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>()))
        };
        let time = |values: Vec<Option<i64>>| -> ArrayRef {
            Arc::new(TimestampMicrosecondArray::from(values).with_timezone("UTC"))
        };
        let columns = schema
            .fields()
            .iter()
            .map(|field| match field.name().as_str() {
                "repo_uuid" => text(|r| r.0),
                "uuid" => text(|r| r.1),
                "run_number" => Arc::new(Int64Array::from(
                    rows.iter().map(|r| r.2).collect::<Vec<_>>(),
                )),
                "completed_at" => time(rows.iter().map(|r| r.3).collect()),
                "exported_at" => time(rows.iter().map(|r| Some(r.4)).collect()),
                "created_at" => time(
                    rows.iter()
                        .map(|r| r.1.trim_start_matches('r').parse().ok())
                        .collect(),
                ),
                _ if field.is_nullable() => new_null_array(field.data_type(), n),
                _ => match field.data_type() {
                    DataType::Int64 => Arc::new(Int64Array::from(vec![0; n])) as ArrayRef,
                    _ => Arc::new(StringArray::from(vec!["x"; n])),
                },
            })
            .collect();
        RecordBatch::try_new(schema, columns).unwrap()
    }

    /// A merged row: (repo_uuid, uuid, run_number, exported_at).
    type Merged = (String, String, Option<i64>, i64);

    /// The merged rows, in file order, and how many versions were dropped.
    fn merged(parts: &[RecordBatch]) -> (Vec<Merged>, u64) {
        let (rows, dropped) = merge_partition(Table::PipelineRuns, parts).unwrap();
        let text = |name: &str| {
            rows.column_by_name(name)
                .unwrap()
                .as_string::<i32>()
                .clone()
        };
        let (repos, uuids) = (text("repo_uuid"), text("uuid"));
        let numbers = rows
            .column_by_name("run_number")
            .unwrap()
            .as_primitive::<Int64Type>()
            .clone();
        let exported = rows
            .column_by_name("exported_at")
            .unwrap()
            .as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
            .clone();
        let out = (0..rows.num_rows())
            .map(|i| {
                (
                    repos.value(i).to_string(),
                    uuids.value(i).to_string(),
                    numbers.is_valid(i).then(|| numbers.value(i)),
                    exported.value(i),
                )
            })
            .collect();
        (out, dropped)
    }

    #[test]
    fn merging_keeps_the_newest_version_of_each_key_sorted() {
        type Case = (
            &'static str,
            Vec<Vec<Version>>,
            Vec<(&'static str, &'static str, Option<i64>, i64)>,
            u64,
        );
        let cases: Vec<Case> = vec![
            (
                "a re-run (higher run_number) wins whichever part holds it",
                vec![
                    vec![("a", "r1", Some(2), Some(5), 1)],
                    vec![("a", "r1", Some(1), Some(9), 2)],
                ],
                vec![("a", "r1", Some(2), 1)],
                1,
            ),
            (
                "a completed version beats a running one of the same attempt",
                vec![
                    vec![("a", "r1", Some(1), Some(7), 1)],
                    vec![("a", "r1", Some(1), None, 2)],
                ],
                vec![("a", "r1", Some(1), 1)],
                1,
            ),
            (
                "otherwise the version read last wins",
                vec![
                    vec![("a", "r1", Some(1), Some(7), 1)],
                    vec![("a", "r1", Some(1), Some(7), 2)],
                ],
                vec![("a", "r1", Some(1), 2)],
                1,
            ),
            (
                "equal in every version column: the later part wins",
                vec![
                    vec![("a", "r1", Some(1), None, 3)],
                    vec![("a", "r1", Some(1), None, 3)],
                ],
                vec![("a", "r1", Some(1), 3)],
                1,
            ),
            (
                "the key is (repo_uuid, uuid): one uuid in two repositories is two rows",
                vec![vec![
                    ("a", "r1", Some(1), None, 1),
                    ("b", "r1", Some(1), None, 1),
                ]],
                vec![("a", "r1", Some(1), 1), ("b", "r1", Some(1), 1)],
                0,
            ),
            (
                "rows come out sorted by created_at, not in arrival order",
                vec![
                    vec![("a", "r3", Some(1), None, 1)],
                    vec![("a", "r1", Some(1), None, 1), ("a", "r2", None, None, 1)],
                ],
                vec![
                    ("a", "r1", Some(1), 1),
                    ("a", "r2", None, 1),
                    ("a", "r3", Some(1), 1),
                ],
                0,
            ),
            ("nothing in, nothing out", vec![], vec![], 0),
        ];
        for (name, parts, want, dropped) in cases {
            let parts: Vec<RecordBatch> = parts.iter().map(|rows| runs(rows)).collect();
            let want: Vec<Merged> = want
                .into_iter()
                .map(|(repo, uuid, n, e)| (repo.into(), uuid.into(), n, e))
                .collect();
            assert_eq!(merged(&parts), (want, dropped), "{name}");
        }
    }
}
