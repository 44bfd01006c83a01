//! Micro-benchmarks of load's hot paths: `cargo bench -p bbpipe-load`. A replay of 100k runs
//! writes 320 daily partitions of ~310 rows; of 1M runs, 320 of ~3,100: per file, splitting
//! batches by day, merging a partition's parts and encoding it as Parquet is the work.

// Test and benchmark code fails loudly: unwrap and panic are how it reports.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use arrow::array::{
    ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::DataType;
use bbpipe_load::{encode, merge_partition, split};
use bbpipe_model::{Granularity, Table, TableBatch};
use std::hint::black_box;
use std::sync::Arc;

const DAY_MICROS: i64 = 86_400_000_000;

fn main() {
    divan::main();
}

/// `rows` pipeline runs spread over `days` days, with values shaped like the real ones:
/// unique uuids and urls, a few distinct statuses and branches, some nulls.
fn runs(rows: usize, days: i64) -> RecordBatch {
    let schema = Table::PipelineRuns.schema();
    let start = 20_000 * DAY_MICROS;
    let step = days * DAY_MICROS / rows as i64;
    let columns = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(c, field)| -> ArrayRef {
            let null = |i: usize| field.is_nullable() && (i + c).is_multiple_of(7);
            match field.data_type() {
                DataType::Utf8 => Arc::new(StringArray::from_iter((0..rows).map(|i| {
                    let value = match field.name().as_str() {
                        "workspace" => "acme".to_string(),
                        "uuid" | "url" | "commit_sha" => {
                            format!("{{{i:08x}-5d1e-4f0a-9c3b-{c:012x}}}")
                        }
                        name => format!("{name}-{}", i % 5),
                    };
                    (!null(i)).then_some(value)
                }))),
                DataType::Int64 => Arc::new(Int64Array::from_iter(
                    (0..rows).map(|i| (!null(i)).then_some(i as i64)),
                )),
                DataType::Boolean => Arc::new(BooleanArray::from_iter(
                    (0..rows).map(|i| (!null(i)).then_some(i.is_multiple_of(3))),
                )),
                DataType::Timestamp(_, _) => Arc::new(
                    TimestampMicrosecondArray::from_iter(
                        (0..rows).map(|i| (!null(i)).then_some(start + step * (rows - i) as i64)),
                    )
                    .with_timezone("UTC"),
                ),
                other => panic!("no bench values for {other}"),
            }
        })
        .collect();
    RecordBatch::try_new(schema, columns).expect("bench batch")
}

/// One batch from transform (4096 rows over 27 days, as at 100k runs) split by month or day.
#[divan::bench(args = [Granularity::Month, Granularity::Day])]
fn split_batch(bencher: divan::Bencher, granularity: Granularity) {
    let batch = runs(4096, 27);
    bencher.bench(|| {
        let parts = split(
            TableBatch {
                table: Table::PipelineRuns,
                workspace: "acme".into(),
                batch: black_box(batch.clone()),
            },
            granularity,
        );
        parts.map(|p| p.len()).unwrap_or_default()
    });
}

/// A day's rows arriving in four parts: the newest version of each run, sorted, one copy.
#[divan::bench(args = [310, 3100])]
fn merge_day(bencher: divan::Bencher, rows: usize) {
    let day = runs(rows, 1);
    let parts: Vec<RecordBatch> = (0..4).map(|i| day.slice(i * rows / 4, rows / 4)).collect();
    bencher.bench(|| {
        merge_partition(Table::PipelineRuns, black_box(&parts)).map(|(r, _)| r.num_rows())
    });
}

/// A merged day encoded as one zstd Parquet file (33 column chunks).
#[divan::bench(args = [310, 3100])]
fn encode_day(bencher: divan::Bencher, rows: usize) {
    let day = runs(rows, 1);
    bencher.bench(|| encode(Table::PipelineRuns, black_box(&day)).map(|(bytes, _)| bytes.len()));
}
