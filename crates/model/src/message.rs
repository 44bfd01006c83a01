use std::collections::BTreeMap;

/// What travels on a channel between two stages.
///
/// A stage sends its items, then [`Message::Complete`] once it has finished without error. A
/// channel that closes without `Complete` means the sender failed or was cancelled: the receiver
/// must then not commit anything after its last checkpoint, so a failed run never publishes half
/// a dataset as if whole.
#[derive(Debug)]
pub enum Message<T> {
    /// Rows or pages.
    Data(T),
    /// Everything sent before this mark may be committed, with the state it carries.
    Checkpoint(Checkpoint),
    /// Upstream finished without error: commit the rest.
    Complete,
}

/// A commit point in the middle of a run: the data sent before it is whole for the
/// repositories whose state it carries.
///
/// Extract sends one whenever repositories finished or enough requests were made; transform
/// forwards one copy per worker (each after that worker's earlier batches), and load commits once
/// it has received all `copies`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checkpoint {
    /// Numbers the checkpoints of one run, from 1.
    pub id: u64,
    /// How many copies load must receive before committing (set by transform).
    pub copies: usize,
    /// Sync state to commit with the data, per workspace: entries keyed by whatever extract
    /// names them (a repository uuid), folded over a workspace's commits, later entries winning.
    pub state: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    /// Requests made to the API so far.
    pub requests: u64,
}
