//! The Delta kernel's engine over the destination's object store.
//!
//! The kernel is synchronous and drives its I/O through an executor: its calls run on a
//! blocking thread, their I/O on the export's own runtime.

use crate::destination::Destination;
use crate::error::LoadError;
use bbpipe_model::Table;
use delta_kernel::{Engine, KernelResult};
use delta_kernel_default_engine::DefaultEngine;
use delta_kernel_default_engine::executor::tokio::TokioMultiThreadExecutor;
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use std::sync::Arc;
use url::Url;

/// An engine reading and writing one destination's Delta tables.
#[derive(Clone)]
pub(crate) struct DeltaEngine {
    engine: Arc<DefaultEngine<TokioMultiThreadExecutor>>,
    /// Where tables are: `file:///<dir>/` for a local destination, `bbpipe://dataset/` over the
    /// destination's own store otherwise.
    root: Url,
    display: String,
}

impl DeltaEngine {
    /// An engine over the destination. A local directory is addressed by `file://` URLs (the
    /// kernel sorts local listings itself); an object store through the destination's own
    /// store, rooted at its prefix, by URLs whose path is the path under that root
    /// (`bbpipe://dataset/<table>/`): object stores list in order, as the kernel expects.
    pub(crate) fn new(destination: &Destination) -> Result<DeltaEngine, LoadError> {
        let fail = |message: String| LoadError::Delta {
            table: destination.display().to_string(),
            message,
        };
        // The kernel blocks a thread on its I/O, driven by the caller's runtime: that needs
        // worker threads besides the blocked one.
        let handle = tokio::runtime::Handle::try_current()
            .ok()
            .filter(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
            .ok_or_else(|| {
                fail("Delta tables are written from a multi-threaded tokio runtime only".into())
            })?;
        let executor = TokioMultiThreadExecutor::new(handle);
        let (store, root): (Arc<dyn ObjectStore>, Url) = match destination.local_root() {
            Some(dir) => {
                let dir = std::path::absolute(dir).map_err(|e| fail(e.to_string()))?;
                let root = Url::from_directory_path(&dir)
                    .map_err(|()| fail(format!("{} is not an absolute path", dir.display())))?;
                (Arc::new(LocalFileSystem::new()), root)
            }
            None => (
                Arc::clone(destination.store()),
                Url::parse("bbpipe://dataset/").map_err(|e| fail(e.to_string()))?,
            ),
        };
        let engine = DefaultEngine::builder(store)
            .with_task_executor(Arc::new(executor))
            .build();
        Ok(DeltaEngine {
            engine: Arc::new(engine),
            root,
            display: destination.display().to_string(),
        })
    }

    /// The URL of `table`'s root, as the engine addresses it.
    pub(crate) fn table_url(&self, table: Table) -> Result<Url, LoadError> {
        self.root
            .join(&format!("{}/", table.name()))
            .map_err(|e| self.error(table, e))
    }

    /// Runs `work` with the engine on a blocking thread; a kernel error names the table.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        table: Table,
        work: impl FnOnce(&dyn Engine) -> Result<T, LoadError> + Send + 'static,
    ) -> Result<T, LoadError> {
        let engine = Arc::clone(&self.engine);
        tokio::task::spawn_blocking(move || work(engine.as_ref()))
            .await
            .map_err(|e| self.error(table, e.to_string()))?
    }

    /// A kernel error about `table`, naming where it is.
    pub(crate) fn error(&self, table: Table, message: impl std::fmt::Display) -> LoadError {
        LoadError::Delta {
            table: format!("{}/{}", self.display, table.name()),
            message: message.to_string(),
        }
    }
}

/// Names the table in a kernel error.
pub(crate) fn kernel<T>(table: Table, result: KernelResult<T>) -> Result<T, LoadError> {
    result.map_err(|e| LoadError::Delta {
        table: table.name().to_string(),
        message: e.to_string(),
    })
}
