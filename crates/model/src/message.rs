/// What travels on a channel between two stages.
///
/// A stage sends its items, then [`Message::Complete`] once it has finished without error. A
/// channel that closes without `Complete` means the sender failed or was cancelled: the receiver
/// must then not commit anything, so a failed run never publishes half a dataset as if whole.
#[derive(Debug)]
pub enum Message<T> {
    Data(T),
    Complete,
}
