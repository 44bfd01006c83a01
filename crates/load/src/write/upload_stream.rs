//! A file uploaded while it is encoded, so that a large partition's file is never held whole:
//! the encoder, on a blocking thread, writes into [`Parts`], which hands the bytes a chunk at a
//! time to an async task feeding object_store's [`BufWriter`] (one put for a file smaller than a
//! part, a multipart upload past it). The file appears only once the encoder called
//! [`Parts::finish`] and the upload completed; dropping `Parts` without it, or the [`Upload`]
//! before it is done (the flush was cancelled), aborts the upload and leaves nothing at the
//! path.

use crate::destination::Destination;
use crate::error::LoadError;
use bytes::Bytes;
use object_store::buffered::BufWriter;
use object_store::path::Path;
use std::io::Write;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Bytes handed to the upload at a time: small beside a part, so that what waits in the chunk
/// and in the channel stays small beside what `BufWriter` holds (one part).
const CHUNK_BYTES: usize = 1 << 20;

enum Chunk {
    Bytes(Bytes),
    Complete,
}

/// The writing end: an [`std::io::Write`] for a blocking thread.
pub(crate) struct Parts {
    tx: mpsc::Sender<Chunk>,
    chunk: Vec<u8>,
    written: u64,
}

/// The upload, running: dropped before [`Upload::done`] returns, it is aborted.
pub(crate) struct Upload {
    task: JoinHandle<Result<bool, LoadError>>,
    /// Never sent: dropped with the `Upload`, it tells the task to abort.
    _wanted: oneshot::Sender<()>,
}

impl Upload {
    /// Waits for the upload: `Ok(true)` once the file is complete, `Ok(false)` when it was
    /// aborted because `Parts` was dropped unfinished.
    pub(crate) async fn done(self) -> Result<bool, LoadError> {
        let Upload { task, _wanted } = self;
        task.await.map_err(|e| LoadError::Batch {
            table: "load",
            message: format!("uploading a file: {e}"),
        })?
    }
}

/// Starts uploading to `path`, in parts of `part_bytes` past the first.
pub(crate) fn start(destination: &Destination, path: &Path, part_bytes: usize) -> (Parts, Upload) {
    let (tx, rx) = mpsc::channel(2);
    let (wanted, unwanted) = oneshot::channel();
    let store = Arc::clone(destination.store());
    let (path, shown) = (path.clone(), destination.describe(path));
    let task = tokio::spawn(upload(store, (path, shown), part_bytes, rx, unwanted));
    let upload = Upload {
        task,
        _wanted: wanted,
    };
    let parts = Parts {
        tx,
        chunk: Vec::with_capacity(CHUNK_BYTES),
        written: 0,
    };
    (parts, upload)
}

async fn upload(
    store: Arc<dyn object_store::ObjectStore>,
    (path, shown): (Path, String),
    part_bytes: usize,
    mut rx: mpsc::Receiver<Chunk>,
    mut unwanted: oneshot::Receiver<()>,
) -> Result<bool, LoadError> {
    let mut sink = BufWriter::with_capacity(store, path, part_bytes);
    loop {
        let chunk = tokio::select! {
            chunk = rx.recv() => chunk,
            _ = &mut unwanted => None,
        };
        let Some(chunk) = chunk else { break };
        match chunk {
            Chunk::Bytes(bytes) => {
                if let Err(source) = sink.put(bytes).await {
                    let _ = sink.abort().await;
                    return Err(LoadError::Store {
                        path: shown,
                        source,
                    });
                }
            }
            Chunk::Complete => {
                sink.shutdown().await.map_err(|source| LoadError::File {
                    path: shown,
                    source,
                })?;
                return Ok(true);
            }
        }
    }
    // The encoder stopped without finishing (an error, nothing to write, or a merge started
    // over in memory), or the flush was cancelled: nothing may appear at the path.
    let _ = sink.abort().await;
    Ok(false)
}

impl Parts {
    fn send(&mut self, chunk: Chunk) -> std::io::Result<()> {
        self.tx
            .blocking_send(chunk)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the upload stopped"))
    }

    fn send_chunk(&mut self) -> std::io::Result<()> {
        let full = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK_BYTES));
        self.send(Chunk::Bytes(Bytes::from(full)))
    }

    /// Sends the rest and completes the upload; returns the file's size. The upload task's
    /// result says whether it was stored.
    pub(crate) fn finish(mut self) -> std::io::Result<u64> {
        if !self.chunk.is_empty() {
            self.send_chunk()?;
        }
        self.send(Chunk::Complete)?;
        Ok(self.written)
    }
}

impl Write for Parts {
    /// Takes at most what fits in the chunk (`write_all` comes back for the rest): the Parquet
    /// writer hands over a whole column chunk at once, megabytes that would otherwise grow the
    /// chunk to their size and be held twice.
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let taken = data.len().min(CHUNK_BYTES - self.chunk.len());
        self.chunk.extend_from_slice(&data[..taken]);
        self.written += taken as u64;
        if self.chunk.len() >= CHUNK_BYTES {
            self.send_chunk()?;
        }
        Ok(taken)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoreOptions;

    fn destination(dir: &std::path::Path) -> Destination {
        Destination::open(dir.to_str().unwrap(), &StoreOptions::default()).unwrap()
    }

    /// Uploads `len` bytes of a pattern, written by `write`, and checks that the stored file
    /// holds every byte in order and that `finish` counted them.
    async fn upload_checked(len: usize, write: impl FnOnce(&mut Parts, &[u8]) + Send + 'static) {
        let pattern = |len: usize| -> Vec<u8> { (0..len).map(|i| (i % 251) as u8).collect() };
        let dir = tempfile::tempdir().unwrap();
        let destination = destination(dir.path());
        let path = Path::from("t/part-1.parquet");
        let (mut parts, upload) = start(&destination, &path, 5 << 20);
        let written = tokio::task::spawn_blocking(move || {
            write(&mut parts, &pattern(len));
            parts.finish().unwrap()
        })
        .await
        .unwrap();
        assert!(upload.done().await.unwrap());
        let stored = std::fs::read(dir.path().join("t/part-1.parquet")).unwrap();
        assert_eq!(written, stored.len() as u64);
        assert_eq!(stored.len(), len);
        assert!(
            stored == pattern(len),
            "the stored bytes differ from those written"
        );
    }

    /// Several chunks and more than one part: the file holds every byte in order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_finished_upload_holds_every_byte_in_order() {
        upload_checked(12 << 20, |parts, data| {
            for piece in data.chunks(300_001) {
                parts.write_all(piece).unwrap();
            }
        })
        .await;
    }

    /// Writes of several megabytes (a column chunk at a time) are taken a chunk at a time: the
    /// file holds every byte in order and the chunk never grows past its size.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_large_write_is_taken_a_chunk_at_a_time() {
        upload_checked((13 << 20) + 7, |parts, data| {
            let (small, large) = data.split_at(1000);
            parts.write_all(small).unwrap();
            let taken = parts.write(large).unwrap();
            assert_eq!(taken, CHUNK_BYTES - 1000);
            parts.write_all(&large[taken..]).unwrap();
            assert!(parts.chunk.capacity() <= CHUNK_BYTES);
        })
        .await;
    }

    /// Dropped without finishing, past a part already sent: nothing at the path, no error.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unfinished_upload_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let destination = destination(dir.path());
        let path = Path::from("t/part-1.parquet");
        let (mut parts, upload) = start(&destination, &path, 5 << 20);
        tokio::task::spawn_blocking(move || {
            parts.write_all(&vec![7u8; 11 << 20]).unwrap();
            drop(parts);
        })
        .await
        .unwrap();
        assert!(!upload.done().await.unwrap());
        assert!(!dir.path().join("t/part-1.parquet").exists());
        let left: Vec<_> = walk(dir.path());
        assert!(left.is_empty(), "left behind: {left:?}");
    }

    /// The flush that started it was cancelled (its `Upload` dropped) while the encoder still
    /// writes: the upload stops, the encoder's next chunk fails, and nothing is left.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancelled_upload_stops_the_encoder_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let destination = destination(dir.path());
        let path = Path::from("t/part-1.parquet");
        let (parts, upload) = start(&destination, &path, 5 << 20);
        let mut parts = tokio::task::spawn_blocking(move || {
            let mut parts = parts;
            parts.write_all(&vec![7u8; 6 << 20]).unwrap();
            parts
        })
        .await
        .unwrap();
        drop(upload);
        let encoder = tokio::task::spawn_blocking(move || {
            for _ in 0..64 {
                parts.write_all(&[1u8; 1 << 20])?;
            }
            parts.finish()
        });
        assert!(
            encoder.await.unwrap().is_err(),
            "the encoder must see the upload stop"
        );
        // The task aborts asynchronously: give it a moment, then nothing may be left.
        for _ in 0..100 {
            if walk(dir.path()).is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let left = walk(dir.path());
        assert!(left.is_empty(), "left behind: {left:?}");
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                found.extend(walk(&path));
            } else {
                found.push(path);
            }
        }
        found
    }
}
