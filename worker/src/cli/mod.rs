//! The command line: [`Cli`], its subcommands, and one function per subcommand (in the files
//! beside this one). `anyhow` lives here and in `main.rs` only.

mod args;
mod bench;
mod blob;
mod buy;
mod infer;
mod kernel;
mod lineage;
mod provide;
mod replay;
mod train;

use clap::{Parser, Subcommand};
use std::num::NonZeroUsize;

/// Verity compute worker: AIVM kernels on libtorch, AllReduce over libp2p.
#[derive(Parser)]
#[command(name = "verity-worker", version)]
pub struct Cli {
	/// Threads of the async runtime (networking; libtorch has its own, `--threads`).
	#[arg(long, global = true, default_value = "2")]
	pub runtime_threads: NonZeroUsize,
	#[command(subcommand)]
	pub cmd: Cmd,
}

/// The subcommands.
#[derive(Subcommand)]
pub enum Cmd {
	/// Prints the peer id of an identity string.
	PeerId {
		#[arg(long)]
		identity: String,
	},
	/// Prints a kernel directory's record as the chain will store it: its id when `--owner`
	/// registers it, archive CID and SCALE encoding.
	Kernel {
		/// Kernel directory (kernel.json, kernel.pt), as written by scripts/kernels.py.
		#[arg(long)]
		kernel: std::path::PathBuf,
		/// The account that registers it (SS58): the owner is part of the kernel id.
		#[arg(long)]
		owner: verity_worker::chain::AccountId,
	},
	/// Writes a kernel's new version whose archive carries a training checkpoint's parameters
	/// and whose record supersedes the base kernel; prints its id and record.
	Export(kernel::ExportArgs),
	/// Reads a trained kernel version's lineage from the chain and checks it: its training job,
	/// every epoch's checkpoints, roots and audits, and its archive re-exported from the base
	/// kernel and the job's final checkpoint (fetched by CID).
	Lineage(lineage::LineageArgs),
	/// Trains a kernel in a group (3 workers: run this 3 times with each other as --peer).
	Train(train::TrainArgs),
	/// Runs a kernel on inputs and prints the output CID and digest.
	Infer(infer::InferArgs),
	/// Re-executes one member's training step from a checkpoint and prints its gradient digest.
	ReplayStep(replay::ReplayArgs),
	/// Measures sustained GEMM throughput and memory bandwidth; prints capacity in WU/s.
	BenchHw(bench::HwArgs),
	/// Ring AllReduce goodput of n in-process workers over loopback libp2p.
	BenchAllreduce(bench::AllReduceArgs),
	/// One member of a ring AllReduce across processes (the network-namespace benchmark,
	/// `scripts/bench-wan.sh`): prints each round's seconds.
	BenchAllreduceMember(bench::MemberArgs),
	/// Seal-and-open throughput of the transport's cipher beside AES-256-GCM and memcpy.
	BenchCipher(bench::CipherArgs),
	/// Times a training step (forward, backward, Adam) of a kernel.
	BenchStep(bench::StepArgs),
	/// The inference server's anchor: a kernel's batched throughput, and the per-request cost
	/// of the voucher check and the receipt.
	BenchServeRaw(bench::ServeRawArgs),
	/// Sells this machine's compute on a Verity chain: offers measured capacity, runs assigned
	/// tasks, verifies others' results in committees, submits signed results.
	Provide(Box<provide::ProvideArgs>),
	/// Buys inference from a provider's server: opens payment channels, sends requests paid by
	/// vouchers and keeps their signed receipts, or puts load on a server.
	Buy(buy::BuyArgs),
	/// Stores a file; prints its CID.
	Put(blob::PutArgs),
	/// Serves the store's blobs to peers until interrupted.
	Serve(blob::ServeArgs),
	/// Fetches a blob from a peer, checks it against its CID and stores it.
	Fetch(blob::FetchArgs),
}

/// Runs a subcommand.
pub async fn run(cmd: Cmd) -> anyhow::Result<()> {
	match cmd {
		Cmd::PeerId { identity } => {
			println!("{}", verity_worker::p2p::key_from_seed(&identity).public().to_peer_id());
			Ok(())
		}
		Cmd::Kernel { kernel: dir, owner } => kernel::show(&dir, &owner),
		Cmd::Export(a) => kernel::export(a),
		Cmd::Lineage(a) => lineage::run(a).await,
		Cmd::Train(a) => train::run(a).await,
		Cmd::Infer(a) => infer::run(a),
		Cmd::ReplayStep(a) => replay::run(a),
		Cmd::BenchHw(a) => bench::hw(a),
		Cmd::BenchAllreduce(a) => bench::allreduce(a).await,
		Cmd::BenchAllreduceMember(a) => bench::member(a).await,
		Cmd::BenchCipher(a) => bench::cipher(a),
		Cmd::BenchStep(a) => bench::step(a),
		Cmd::BenchServeRaw(a) => bench::serve_raw(a),
		Cmd::Provide(a) => until_signal(provide::run(*a)).await,
		Cmd::Buy(a) => buy::run(a).await,
		Cmd::Put(a) => blob::put(a),
		Cmd::Serve(a) => until_signal(blob::serve(a)).await,
		Cmd::Fetch(a) => blob::fetch(a).await,
	}
}

/// Runs a long-lived subcommand until it ends or the process gets SIGINT or SIGTERM (then
/// `Ok`). The signal handlers are installed before the subcommand starts, not when it reaches its
/// main loop: a signal during start-up (the capacity benchmark, bonding) is acted on, not lost —
/// and a daemon started in the background by a non-interactive shell, which inherits SIGINT
/// ignored, stops on it all the same (tokio's handler replaces the ignored disposition).
async fn until_signal(
	work: impl std::future::Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<()> {
	use tokio::signal::unix::{signal, SignalKind};
	let mut interrupt = signal(SignalKind::interrupt())?;
	let mut terminate = signal(SignalKind::terminate())?;
	tokio::select! {
		r = work => r,
		_ = interrupt.recv() => {
			tracing::info!("SIGINT: stopping");
			Ok(())
		}
		_ = terminate.recv() => {
			tracing::info!("SIGTERM: stopping");
			Ok(())
		}
	}
}
