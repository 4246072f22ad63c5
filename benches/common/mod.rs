//! What the benchmarks that run the real binary share.

/// The agentmux binary: cargo's, or `AGENTMUX_BENCH_EXE` (to run a copied bench binary against
/// a copied agentmux).
pub fn exe() -> String {
    std::env::var("AGENTMUX_BENCH_EXE").unwrap_or_else(|_| env!("CARGO_BIN_EXE_agentmux").into())
}

/// The `p` quantile (0 to 1) of sorted figures; NaN for none.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Whether any thread of `pid` still has a child process (an agent's CLI).
pub fn has_children(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return false };
    tasks.flatten().any(|t| {
        std::fs::read_to_string(t.path().join("children")).is_ok_and(|c| !c.trim().is_empty())
    })
}
