//! TODO(engine)
#[derive(Debug, thiserror::Error)]
pub enum ArgvError {
    #[error("the prompt is {0} bytes; one argument may hold at most 128 KiB on Linux")]
    PromptTooLong(usize),
}
