//! A file larger than the upload part size goes to S3 as a multipart upload and reads back whole.

// Test and benchmark code fails loudly: unwrap and panic are how it reports.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../../tests/e2e/common/s3.rs"]
#[allow(dead_code)] // shared with the end-to-end tests, which use all of it
mod s3;

use arrow::array::{ArrayRef, BooleanArray, RecordBatch, StringArray, TimestampMicrosecondArray};
use bbpipe_load::{Destination, LoadOptions, ParquetSink, StoreOptions};
use bbpipe_model::{Granularity, Message, Table, TableBatch};
use object_store::ObjectStoreExt;
use std::sync::Arc;

const ROWS: usize = 150_000;

/// Repositories with incompressible text: about 10 MiB of Parquet.
fn big_batch() -> RecordBatch {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut random_hex = |len: usize| -> String {
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                char::from_digit((state % 16) as u32, 16).unwrap()
            })
            .collect()
    };
    let text = |f: &mut dyn FnMut(usize) -> String| -> ArrayRef {
        Arc::new(StringArray::from((0..ROWS).map(f).collect::<Vec<_>>()))
    };
    let uuid = text(&mut |_| format!("{{{}}}", random_hex(32)));
    let slug = text(&mut |i| format!("repo-{i}"));
    let description = text(&mut |_| random_hex(48));
    let none: ArrayRef = Arc::new(StringArray::from(vec![None::<&str>; ROWS]));
    let times: ArrayRef =
        Arc::new(TimestampMicrosecondArray::from(vec![None; ROWS]).with_timezone("UTC"));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec!["acme"; ROWS])),
        uuid,
        slug.clone(),
        none.clone(),
        text(&mut |i| format!("acme/repo-{i}")),
        Arc::new(BooleanArray::from(vec![true; ROWS])),
        description,
        none.clone(),
        none.clone(),
        none.clone(),
        none,
        times.clone(),
        times,
        text(&mut |i| format!("https://bitbucket.org/acme/repo-{i}")),
    ];
    RecordBatch::try_new(Table::Repositories.schema(), columns).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn large_files_upload_in_parts() {
    let bucket = s3::bucket("multipart");
    for (key, value) in s3::env() {
        // SAFETY: set before any thread of this test reads the environment.
        unsafe { std::env::set_var(key, value) };
    }
    let destination =
        Destination::open(&format!("s3://{bucket}/data"), &StoreOptions::default()).unwrap();
    let options = LoadOptions {
        max_buffered_bytes: 1 << 30,
        upload_part_bytes: 5 << 20,
        run_id: "test".into(),
        source: "test".into(),
        partition_by: Granularity::Month,
        format: bbpipe_model::Format::Parquet,
    };
    let sink = ParquetSink::open(destination.clone(), options, &["acme".to_string()])
        .await
        .unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let batch = TableBatch {
        table: Table::Repositories,
        workspace: "acme".into(),
        batch: big_batch(),
    };
    tx.send(Message::Data(batch)).await.unwrap();
    tx.send(Message::Complete).await.unwrap();
    let summary = sink.run(rx).await.unwrap();
    let manifest = summary.manifests.last().unwrap().clone();

    let file = &summary.files[0];
    assert_eq!(file.rows, ROWS as u64);
    assert!(
        file.bytes > 6 << 20,
        "the file must exceed one part: {} bytes",
        file.bytes
    );
    let head = s3::store(&bucket)
        .head(&object_store::path::Path::from(format!(
            "data/{}",
            file.path
        )))
        .await
        .unwrap();
    assert_eq!(head.size, file.bytes);
    let etag = head.e_tag.unwrap_or_default();
    assert!(
        etag.contains('-'),
        "a multipart upload's ETag ends in -<parts>: {etag}"
    );
    assert_eq!(manifest.tables["repositories"].added[0].rows, ROWS as u64);

    let report = bbpipe_load::verify(&destination).await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.rows["repositories"], ROWS as u64);
}
