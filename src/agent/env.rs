//! TODO(engine)
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    #[error("env sets {0}, which agentmux does not pass to agents (it could change what runs)")]
    Forbidden(String),
}
