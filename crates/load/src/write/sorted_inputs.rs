//! Merging a large partition as a stream. Its rows come in sorted inputs (the partition's file
//! written early or committed before, its spilled rows, its rows still in memory), each in
//! merge order ([`Comparable::order`]) with every key once. Merging them a batch at a time
//! keeps memory to a batch per input and the encoded file, however large the partition: a month
//! of a busy workspace does not have to fit in the memory budget.
//!
//! Versions of one key meet only if they sort together, which holds for tables whose sort
//! value never changes for a key ([`Table::merges_as_stream`]). Should data break that (a key
//! met twice apart, or an input out of order), the merge says so and the caller merges in memory.

use crate::dataset::reader::decode_file;
use crate::error::LoadError;
use crate::write::merge::{Comparable, Merged};
use crate::write::spill;
use arrow::array::{Array, RecordBatch};
use arrow::compute::interleave;
use arrow::row::Rows;
use bbpipe_model::Table;
use bytes::Bytes;
use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::path::PathBuf;

/// Rows per batch read from an input and per batch handed on.
const BATCH_ROWS: usize = 2048;

/// One sorted input of a partition's rows.
pub(crate) enum SortedInput {
    /// Rows in memory, merged (not yet copied into merge order).
    Rows(Merged),
    /// A spill file, written merged.
    Spill(PathBuf),
    /// A data file of the partition, fetched whole (compressed, it is small): its path as
    /// shown to users, and its bytes.
    File { shown: String, bytes: Bytes },
}

type Batches<'a> = Box<dyn Iterator<Item = Result<RecordBatch, LoadError>> + Send + 'a>;

impl SortedInput {
    pub(crate) fn open<'a>(
        &'a self,
        table: Table,
        workspace: &str,
    ) -> Result<Batches<'a>, LoadError> {
        Ok(match self {
            SortedInput::Rows(rows) => Box::new(rows.batches(BATCH_ROWS)),
            SortedInput::Spill(path) => Box::new(spill::open(path)?),
            SortedInput::File { shown, bytes } => Box::new(decode_file(
                table,
                workspace,
                bytes.clone(),
                shown,
                BATCH_ROWS,
            )?),
        })
    }
}

/// What a streamed merge did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Streamed {
    /// Rows handed on.
    pub(crate) rows: u64,
    /// Older versions dropped.
    pub(crate) duplicates: u64,
    /// Whether the rows handed on are exactly the first input's: then a partition whose first
    /// input is its committed file is unchanged.
    pub(crate) same_as_first: bool,
}

/// Merges `inputs` (oldest first) of one partition of `table` and hands the newest version of
/// each key, in merge order, to `emit`, a batch at a time. `None` when the inputs cannot be merged
/// as a stream (a key met twice apart, or an input out of order): then `emit` has seen some rows
/// that must be discarded, and the caller merges in memory.
pub(crate) fn merge_sorted(
    table: Table,
    workspace: &str,
    inputs: &[&SortedInput],
    emit: &mut dyn FnMut(RecordBatch) -> Result<(), LoadError>,
) -> Result<Option<Streamed>, LoadError> {
    let bad = LoadError::arrow(table);
    let converters = Converters::new(table).map_err(bad)?;
    let mut cursors = Vec::with_capacity(inputs.len());
    for input in inputs {
        cursors.push(Cursor::open(
            table,
            input.open(table, workspace)?,
            &converters,
        )?);
    }
    let mut pending = Pending {
        picks: Vec::with_capacity(BATCH_ROWS),
        first: Some(Vec::with_capacity(BATCH_ROWS)),
    };
    let mut seen: HashSet<u64> = HashSet::new();
    let hasher = RandomState::new();
    let mut streamed = Streamed {
        rows: 0,
        duplicates: 0,
        same_as_first: true,
    };
    // The order row handed on last: every input must be in order (empty: none yet).
    let mut last: Vec<u8> = Vec::new();
    let mut tied = Vec::with_capacity(cursors.len());
    while let Some(first) = smallest(&cursors) {
        // Every input whose head equals the smallest holds a version of the same key.
        let head = cursors[first].head();
        tied.clear();
        tied.extend((0..cursors.len()).filter(|&i| cursors[i].head() == head));
        let head = cursors[first].order.row(cursors[first].position).data();
        if !last.is_empty() && head < last.as_slice() {
            return Ok(None); // an input out of order
        }
        last.clear();
        last.extend_from_slice(head);
        // The newest version wins; with equal versions, the later input.
        let winner = tied
            .iter()
            .copied()
            .reduce(|held, i| {
                if cursors[i].version() >= cursors[held].version() {
                    i
                } else {
                    held
                }
            })
            .unwrap_or(first);
        if !seen.insert(hasher.hash_one(cursors[winner].key())) {
            return Ok(None); // a key met twice apart
        }
        streamed.duplicates += tied.len() as u64 - 1;
        pending.picks.push((winner, cursors[winner].position));
        // While the output may still equal the first input, note the first input's row here.
        match (&mut pending.first, tied.first()) {
            (Some(first), Some(0)) => first.push((0, cursors[0].position)),
            _ => pending.first = None,
        }
        for &i in &tied {
            if cursors[i].at_last_row() {
                // Its batch is about to go: hand on what points into it first.
                streamed.rows += pending.flush(&cursors, emit)?;
            }
            cursors[i].advance(&converters)?;
        }
        if pending.picks.len() >= BATCH_ROWS {
            streamed.rows += pending.flush(&cursors, emit)?;
        }
    }
    streamed.rows += pending.flush(&cursors, emit)?;
    streamed.same_as_first =
        pending.first.is_some() && cursors.first().is_some_and(|c| c.read == streamed.rows);
    Ok(Some(streamed))
}

/// The input with the smallest head (the first of equals), if any input has rows left.
fn smallest(cursors: &[Cursor<'_>]) -> Option<usize> {
    let mut best: Option<(usize, arrow::row::Row<'_>)> = None;
    for (i, cursor) in cursors.iter().enumerate() {
        if let Some(head) = cursor.head()
            && best.as_ref().is_none_or(|(_, held)| head < *held)
        {
            best = Some((i, head));
        }
    }
    best.map(|(i, _)| i)
}

/// Rows picked and not handed on yet, as (input, row of its current batch); and, while the
/// output equals the first input so far, the first input's rows at the same places.
struct Pending {
    picks: Vec<(usize, usize)>,
    first: Option<Vec<(usize, usize)>>,
}

impl Pending {
    /// Hands on the picked rows as one batch.
    fn flush(
        &mut self,
        cursors: &[Cursor<'_>],
        emit: &mut dyn FnMut(RecordBatch) -> Result<(), LoadError>,
    ) -> Result<u64, LoadError> {
        if self.picks.is_empty() {
            return Ok(0);
        }
        let batch = take(cursors, &self.picks)?;
        if let Some(first) = &mut self.first {
            if take(cursors, first)? != batch {
                self.first = None;
            } else {
                first.clear();
            }
        }
        let rows = batch.num_rows() as u64;
        self.picks.clear();
        emit(batch)?;
        Ok(rows)
    }
}

/// The rows at `picks` of the inputs' current batches.
fn take(cursors: &[Cursor<'_>], picks: &[(usize, usize)]) -> Result<RecordBatch, LoadError> {
    let bad = |e: arrow::error::ArrowError| LoadError::Batch {
        table: "merge",
        message: e.to_string(),
    };
    let schema = cursors.first().map(|c| c.batch.schema()).ok_or_else(|| {
        bad(arrow::error::ArrowError::InvalidArgumentError(
            "no input".into(),
        ))
    })?;
    let columns = (0..schema.fields().len())
        .map(|i| {
            let arrays: Vec<&dyn Array> =
                cursors.iter().map(|c| c.batch.column(i).as_ref()).collect();
            interleave(&arrays, picks)
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    RecordBatch::try_new(schema, columns).map_err(bad)
}

/// How a table's merge order, keys and versions compare.
struct Converters {
    order: Comparable,
    key: Comparable,
    version: Comparable,
}

impl Converters {
    fn new(table: Table) -> Result<Converters, arrow::error::ArrowError> {
        Ok(Converters {
            order: Comparable::order(table)?,
            key: Comparable::key(table)?,
            version: Comparable::version(table)?,
        })
    }
}

/// An input being read: its current batch, as order, key and version rows.
struct Cursor<'a> {
    batches: Batches<'a>,
    batch: RecordBatch,
    order: Rows,
    key: Rows,
    version: Rows,
    position: usize,
    /// Rows read from the input so far.
    read: u64,
    done: bool,
}

impl<'a> Cursor<'a> {
    fn open(
        table: Table,
        batches: Batches<'a>,
        converters: &Converters,
    ) -> Result<Cursor<'a>, LoadError> {
        let empty = |c: &Comparable| c.empty_rows(0, 0);
        let mut cursor = Cursor {
            batches,
            batch: RecordBatch::new_empty(table.schema()),
            order: empty(&converters.order),
            key: empty(&converters.key),
            version: empty(&converters.version),
            position: 0,
            read: 0,
            done: false,
        };
        cursor.next_batch(converters)?;
        Ok(cursor)
    }

    fn next_batch(&mut self, converters: &Converters) -> Result<(), LoadError> {
        loop {
            match self.batches.next() {
                None => {
                    self.done = true;
                    return Ok(());
                }
                Some(batch) => {
                    let batch = batch?;
                    if batch.num_rows() == 0 {
                        continue;
                    }
                    let corrupt = |e: arrow::error::ArrowError| LoadError::Batch {
                        table: "merge",
                        message: e.to_string(),
                    };
                    self.order = converters.order.rows(&batch).map_err(corrupt)?;
                    self.key = converters.key.rows(&batch).map_err(corrupt)?;
                    self.version = converters.version.rows(&batch).map_err(corrupt)?;
                    self.read += batch.num_rows() as u64;
                    self.batch = batch;
                    self.position = 0;
                    return Ok(());
                }
            }
        }
    }

    fn head(&self) -> Option<arrow::row::Row<'_>> {
        (!self.done).then(|| self.order.row(self.position))
    }

    fn key(&self) -> &[u8] {
        self.key.row(self.position).data()
    }

    fn version(&self) -> arrow::row::Row<'_> {
        self.version.row(self.position)
    }

    fn at_last_row(&self) -> bool {
        self.position + 1 == self.batch.num_rows()
    }

    fn advance(&mut self, converters: &Converters) -> Result<(), LoadError> {
        self.position += 1;
        if self.position == self.batch.num_rows() {
            self.next_batch(converters)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::write::merge::merge_partition;
    use arrow::array::{
        ArrayRef, AsArray, Int64Array, StringArray, TimestampMicrosecondArray, new_null_array,
    };
    use arrow::compute::concat_batches;
    use arrow::datatypes::DataType;
    use std::sync::Arc;

    /// Pipeline-input versions: (uuid, created_at, run_number, exported_at).
    fn inputs(rows: &[(String, i64, i64, i64)]) -> RecordBatch {
        let schema = Table::PipelineRuns.schema();
        let n = rows.len();
        let time = |values: Vec<i64>| -> ArrayRef {
            Arc::new(TimestampMicrosecondArray::from(values).with_timezone("UTC"))
        };
        let columns = schema
            .fields()
            .iter()
            .map(|field| match field.name().as_str() {
                "repo_uuid" => Arc::new(StringArray::from(vec!["{r}"; n])) as ArrayRef,
                "uuid" => Arc::new(StringArray::from(
                    rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
                )),
                "created_at" => time(rows.iter().map(|r| r.1).collect()),
                "run_number" => Arc::new(Int64Array::from(
                    rows.iter().map(|r| r.2).collect::<Vec<_>>(),
                )),
                "exported_at" => time(rows.iter().map(|r| r.3).collect()),
                _ if field.is_nullable() => new_null_array(field.data_type(), n),
                _ => match field.data_type() {
                    DataType::Int64 => Arc::new(Int64Array::from(vec![0; n])) as ArrayRef,
                    DataType::Timestamp(..) => time(vec![0; n]),
                    _ => Arc::new(StringArray::from(vec!["x"; n])),
                },
            })
            .collect();
        RecordBatch::try_new(schema, columns).unwrap()
    }

    fn streamed(parts: &[RecordBatch]) -> Option<(RecordBatch, Streamed)> {
        let sorted: Vec<SortedInput> = parts
            .iter()
            .map(|p| SortedInput::Rows(Merged::new(Table::PipelineRuns, vec![p.clone()]).unwrap()))
            .collect();
        let refs: Vec<&SortedInput> = sorted.iter().collect();
        let mut out = Vec::new();
        let mut emit = |b: RecordBatch| {
            out.push(b);
            Ok(())
        };
        let result = merge_sorted(Table::PipelineRuns, "acme", &refs, &mut emit).unwrap()?;
        Some((
            concat_batches(&Table::PipelineRuns.schema(), &out).unwrap(),
            result,
        ))
    }

    fn uuids_and_numbers(rows: &RecordBatch) -> Vec<(String, i64, i64)> {
        let uuid = rows.column_by_name("uuid").unwrap().as_string::<i32>();
        let number = rows
            .column_by_name("run_number")
            .unwrap()
            .as_primitive::<arrow::datatypes::Int64Type>();
        let exported = rows
            .column_by_name("exported_at")
            .unwrap()
            .as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
        (0..rows.num_rows())
            .map(|i| {
                (
                    uuid.value(i).to_string(),
                    number.value(i),
                    exported.value(i),
                )
            })
            .collect()
    }

    /// Runs of random versions, some keys in several inputs, many sort values equal: the stream
    /// gives exactly what merging everything in memory gives, row for row.
    #[test]
    fn streaming_equals_merging_in_memory() {
        let mut seed = 7u64;
        let mut next = |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        for case in 0..200 {
            let parts: Vec<RecordBatch> = (0..1 + next(5))
                .map(|part| {
                    let rows: Vec<_> = (0..next(40))
                        .map(|_| {
                            let key = next(30);
                            // A key's created_at never changes; many keys share one.
                            (
                                format!("{{u{key}}}"),
                                (key / 3) as i64,
                                next(3) as i64,
                                part as i64,
                            )
                        })
                        .collect();
                    inputs(&rows)
                })
                .collect();
            let (memory, dropped) = merge_partition(Table::PipelineRuns, &parts).unwrap();
            let (stream, result) = streamed(&parts).expect("mergeable as a stream");
            assert_eq!(
                uuids_and_numbers(&stream),
                uuids_and_numbers(&memory),
                "case {case}"
            );
            assert_eq!(result.rows, memory.num_rows() as u64);
            let total: usize = parts.iter().map(RecordBatch::num_rows).sum();
            let within: u64 = parts
                .iter()
                .map(|p| {
                    merge_partition(Table::PipelineRuns, std::slice::from_ref(p))
                        .unwrap()
                        .1
                })
                .sum();
            assert_eq!(
                within + result.duplicates,
                dropped,
                "case {case}, {total} rows"
            );
        }
    }

    #[test]
    fn a_key_whose_sort_value_changed_is_left_to_the_in_memory_merge() {
        let parts = [
            inputs(&[("{a}".into(), 1, 1, 0), ("{b}".into(), 2, 1, 0)]),
            inputs(&[("{a}".into(), 3, 2, 1)]),
        ];
        assert!(streamed(&parts).is_none());
    }

    #[test]
    fn the_output_is_unchanged_only_if_it_equals_the_first_run() {
        let committed = inputs(&[("{a}".into(), 1, 1, 0), ("{b}".into(), 2, 1, 0)]);
        let cases = [
            ("alone", vec![committed.clone()], true),
            (
                "an equal version read again",
                vec![committed.clone(), inputs(&[("{b}".into(), 2, 1, 0)])],
                true,
            ),
            (
                "a newer version",
                vec![committed.clone(), inputs(&[("{b}".into(), 2, 2, 0)])],
                false,
            ),
            (
                "a new key",
                vec![committed.clone(), inputs(&[("{c}".into(), 0, 1, 0)])],
                false,
            ),
            (
                "a version read later, otherwise equal",
                vec![committed.clone(), inputs(&[("{a}".into(), 1, 1, 5)])],
                false,
            ),
        ];
        for (name, parts, same) in cases {
            let (_, result) = streamed(&parts).unwrap();
            assert_eq!(result.same_as_first, same, "{name}");
        }
    }
}
