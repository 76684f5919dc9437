//! `dossier bench`: placeholder replaced by the benchmark harness.

use clap::Args;

/// Options of `dossier bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {}

/// Runs the benchmarks.
pub async fn bench(_args: BenchArgs) -> anyhow::Result<()> {
    anyhow::bail!("the benchmark harness is being written")
}
