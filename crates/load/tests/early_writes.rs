//! Past its memory budget the sink writes partitions before the input ends. A partition
//! written early that receives rows afterwards still ends as one file holding the newest
//! version of each run, and the early file is gone.

// Test and benchmark code fails loudly: unwrap and panic are how it reports.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../../tests/e2e/common/files.rs"]
mod files;

use arrow::array::{
    ArrayRef, AsArray, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
    new_null_array,
};
use arrow::datatypes::{DataType, Int64Type};
use bbpipe_load::{Destination, LoadOptions, ParquetSink, StoreOptions};
use bbpipe_model::{Granularity, Message, Table, TableBatch};
use files::parquet_files;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

const DAY: i64 = 86_400_000_000;

/// Pipeline runs of one repository: (uuid, day, run_number), created at noon of `day`.
fn runs(rows: &[(&str, i64, i64)]) -> TableBatch {
    let schema = Table::PipelineRuns.schema();
    let n = rows.len();
    let text = |value: &dyn Fn(usize) -> String| -> ArrayRef {
        Arc::new(StringArray::from((0..n).map(value).collect::<Vec<_>>()))
    };
    let columns = schema
        .fields()
        .iter()
        .map(|field| match field.name().as_str() {
            "uuid" => text(&|i| rows[i].0.to_string()),
            "repo_uuid" => text(&|_| "{repo}".into()),
            "run_number" => Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
            "created_at" | "exported_at" => Arc::new(
                TimestampMicrosecondArray::from_iter_values(
                    rows.iter().map(|r| r.1 * DAY + DAY / 2),
                )
                .with_timezone("UTC"),
            ),
            _ if field.is_nullable() => new_null_array(field.data_type(), n),
            _ => match field.data_type() {
                DataType::Utf8 => text(&|_| "x".into()),
                DataType::Int64 => Arc::new(Int64Array::from(vec![1; n])),
                other => panic!("no test value for {other}"),
            },
        })
        .collect();
    TableBatch {
        table: Table::PipelineRuns,
        workspace: "acme".into(),
        batch: RecordBatch::try_new(schema, columns).unwrap(),
    }
}

/// uuid → run_number, per partition directory name.
fn rows_by_partition(dir: &Path) -> BTreeMap<String, BTreeMap<String, i64>> {
    let mut found = BTreeMap::new();
    for file in parquet_files(&dir.join("pipeline_runs")) {
        let partition = file.parent().unwrap().file_name().unwrap();
        let rows: &mut BTreeMap<String, i64> = found
            .entry(partition.to_string_lossy().into_owned())
            .or_default();
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&file).unwrap())
            .unwrap()
            .build()
            .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            let uuids = batch.column_by_name("uuid").unwrap().as_string::<i32>();
            let numbers = batch.column_by_name("run_number").unwrap();
            let numbers = numbers.as_primitive::<Int64Type>();
            for row in 0..batch.num_rows() {
                let fresh = rows.insert(uuids.value(row).to_string(), numbers.value(row));
                assert!(
                    fresh.is_none(),
                    "{} twice in {partition:?}",
                    uuids.value(row)
                );
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_written_early_takes_later_rows_into_one_file() {
    early_then_late_rows().await;
}

/// The late rows of a partition written early are spilled to disk: that must not need a
/// multi-threaded runtime (it once called `block_in_place`, which panics on this one).
#[tokio::test(flavor = "current_thread")]
async fn spilling_works_on_a_current_thread_runtime() {
    early_then_late_rows().await;
}

/// A sink over `out` whose every batch overflows the budget: partitions go out as soon as
/// they can.
async fn tight_sink(out: &Path) -> (Destination, ParquetSink) {
    let destination = Destination::open(out.to_str().unwrap(), &StoreOptions::default()).unwrap();
    let options = LoadOptions {
        max_buffered_bytes: 1,
        upload_part_bytes: 5 << 20,
        run_id: "early".into(),
        source: "test".into(),
        partition_by: Granularity::Day,
        format: bbpipe_model::Format::Parquet,
    };
    let sink = ParquetSink::open(destination.clone(), options, &["acme".to_string()])
        .await
        .unwrap();
    (destination, sink)
}

/// A replay sends a partition's rows over many batches. One that outgrows the budget while
/// its rows still arrive is spilled, not written: written then, the rest of it would have to be
/// merged with that file at the end, writing it twice. It is written once, when the next
/// partition's rows show it has gone cold (its file is the partition's first: `-0001`), and
/// before the input ends even when all its rows were spilled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_still_receiving_rows_is_spilled_and_written_once() {
    let out = tempfile::tempdir().unwrap();
    let (destination, sink) = tight_sink(out.path()).await;
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let load = tokio::spawn(sink.run(rx));
    let batches = [
        runs(&[("{a1}", 20_000, 1)]),
        runs(&[("{a2}", 20_000, 1), ("{a1}", 20_000, 2)]),
        runs(&[("{a3}", 20_000, 1)]),
        runs(&[("{b1}", 19_999, 1)]),
        runs(&[("{b2}", 19_999, 1)]),
    ];
    for batch in batches {
        tx.send(Message::Data(batch)).await.unwrap();
    }
    // Every row of day 20000 was spilled; once day 19999's rows arrive it is written, before
    // the input ends, beside the rest of the work rather than after it.
    let early = out
        .path()
        .join("pipeline_runs/workspace=acme/created_date=2024-10-04");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while parquet_files(&early).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the spilled day was not written before the input ended"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tx.send(Message::Complete).await.unwrap();
    let summary = load.await.unwrap().unwrap();
    let found = rows_by_partition(out.path());
    let day = |rows: &[(&str, i64)]| -> BTreeMap<String, i64> {
        rows.iter().map(|(u, n)| (u.to_string(), *n)).collect()
    };
    assert_eq!(
        found["created_date=2024-10-04"],
        day(&[("{a1}", 2), ("{a2}", 1), ("{a3}", 1)])
    );
    assert_eq!(
        found["created_date=2024-10-03"],
        day(&[("{b1}", 1), ("{b2}", 1)])
    );
    let names: Vec<String> = parquet_files(&out.path().join("pipeline_runs"))
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names.iter().all(|n| n.ends_with("-0001.parquet")),
        "each partition written once: {names:?}"
    );
    assert_eq!(summary.duplicates_dropped(), 1);
    let report = bbpipe_load::verify(&destination).await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

async fn early_then_late_rows() {
    let out = tempfile::tempdir().unwrap();
    let (destination, sink) = tight_sink(out.path()).await;
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let load = tokio::spawn(sink.run(rx));
    let batches = [
        runs(&[("{a1}", 20_000, 1), ("{a2}", 20_001, 1)]),
        runs(&[("{b1}", 20_002, 1)]),
        // Day 20000 was written already: a new run and a re-run of a1 arrive for it.
        runs(&[("{c1}", 20_000, 1), ("{a1}", 20_000, 2)]),
        runs(&[("{b1}", 20_002, 3), ("{a2}", 20_001, 1)]),
    ];
    for batch in batches {
        tx.send(Message::Data(batch)).await.unwrap();
    }
    tx.send(Message::Complete).await.unwrap();
    let summary = load.await.unwrap().unwrap();
    let manifest = summary.manifests.last().unwrap().clone();

    let expected: BTreeMap<String, BTreeMap<String, i64>> = [
        ("created_date=2024-10-04", vec![("{a1}", 2), ("{c1}", 1)]),
        ("created_date=2024-10-05", vec![("{a2}", 1)]),
        ("created_date=2024-10-06", vec![("{b1}", 3)]),
    ]
    .into_iter()
    .map(|(day, rows)| {
        let rows = rows.into_iter().map(|(u, n)| (u.to_string(), n)).collect();
        (day.to_string(), rows)
    })
    .collect();
    assert_eq!(rows_by_partition(out.path()), expected);
    // One file per partition on disk and in the manifest: the early files were replaced.
    assert_eq!(parquet_files(&out.path().join("pipeline_runs")).len(), 3);
    assert_eq!(manifest.tables["pipeline_runs"].added.len(), 3);
    assert_eq!(
        summary.totals(Table::PipelineRuns),
        (3, 4, summary.totals(Table::PipelineRuns).2)
    );
    assert_eq!(summary.duplicates_dropped(), 3);
    let report = bbpipe_load::verify(&destination).await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}
