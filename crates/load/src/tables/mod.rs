//! What load does for particular tables, beside the generic sink: the deployments NDJSON file
//! (`--deployments-ndjson`, rewritten at each commit) and the rejected runs that later exports
//! retry and withdraw.

pub(crate) mod deployments_ndjson;
pub(crate) mod rejects;
