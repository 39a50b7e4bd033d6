//! The benchmark subcommands; `scripts/bench-worker.sh` runs them beside their anchors.

use super::args::TorchArgs;
use std::{path::PathBuf, time::Duration};
use verity_worker::{
	bench,
	collective::CollectiveConfig,
	kernel::{KernelDir, Model},
	output::Output,
};

#[derive(clap::Args)]
pub struct HwArgs {
	#[command(flatten)]
	torch: TorchArgs,
	/// Side of the square GEMM.
	#[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(i64).range(1..))]
	gemm_n: i64,
	#[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..))]
	reps: u64,
}

pub fn hw(a: HwArgs) -> anyhow::Result<()> {
	let device = a.torch.init()?;
	Output::BenchHw(&bench::bench_hw(device, a.gemm_n, a.reps as usize)).print()?;
	Ok(())
}

#[derive(clap::Args)]
pub struct AllReduceArgs {
	/// Workers in the ring.
	#[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(2..=64))]
	n: u64,
	/// Tensor sizes in MiB, comma-separated.
	#[arg(long, value_delimiter = ',', default_value = "1,16,64", value_parser = clap::value_parser!(u64).range(1..=4096))]
	sizes_mib: Vec<u64>,
	#[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
	reps: u64,
	#[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=65536))]
	chunk_kib: u64,
	/// Chunks in flight to the successor.
	#[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=1024))]
	window: u64,
}

pub async fn allreduce(a: AllReduceArgs) -> anyhow::Result<()> {
	let cfg = CollectiveConfig {
		chunk_bytes: a.chunk_kib as usize * 1024,
		window: a.window as usize,
		stall_timeout: Duration::from_secs(60),
	};
	let sizes: Vec<usize> = a.sizes_mib.iter().map(|m| (*m as usize) << 20).collect();
	for f in bench::bench_allreduce(a.n as usize, &sizes, a.reps as usize, cfg).await? {
		Output::BenchAllreduce(&f).print()?;
	}
	Ok(())
}

#[derive(clap::Args)]
pub struct CipherArgs {
	/// Record size in KiB.
	#[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=65536))]
	record_kib: u64,
	#[arg(long, default_value_t = 9, value_parser = clap::value_parser!(u64).range(1..))]
	reps: u64,
}

pub fn cipher(a: CipherArgs) -> anyhow::Result<()> {
	for f in bench::bench_cipher(a.record_kib as usize * 1024, a.reps as usize)? {
		Output::BenchCipher(&f).print()?;
	}
	Ok(())
}

#[derive(clap::Args)]
pub struct StepArgs {
	#[arg(long)]
	kernel: PathBuf,
	#[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
	batch: u64,
	#[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
	iters: u64,
	#[command(flatten)]
	torch: TorchArgs,
}

pub fn step(a: StepArgs) -> anyhow::Result<()> {
	let device = a.torch.init()?;
	let kernel = KernelDir::open(&a.kernel)?;
	let data = kernel.train()?;
	let mut model = Model::load(kernel.manifest, &kernel.archive, device)?;
	let figure = bench::bench_step(&mut model, &data, a.batch as usize, a.iters as usize)?;
	Output::BenchStep(&figure).print()?;
	Ok(())
}
