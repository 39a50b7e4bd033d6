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
	/// Send chunks over `/verity/allreduce/1` (request-response on the Noise + yamux connection)
	/// instead of the bulk lane: the path before the bulk lane, for comparison.
	#[arg(long)]
	libp2p_only: bool,
}

pub async fn allreduce(a: AllReduceArgs) -> anyhow::Result<()> {
	let cfg = CollectiveConfig {
		chunk_bytes: a.chunk_kib as usize * 1024,
		window: a.window as usize,
		stall_timeout: Duration::from_secs(60),
	};
	let sizes: Vec<usize> = a.sizes_mib.iter().map(|m| (*m as usize) << 20).collect();
	for f in
		bench::bench_allreduce(a.n as usize, &sizes, a.reps as usize, cfg, !a.libp2p_only).await?
	{
		Output::BenchAllreduce(&f).print()?;
	}
	Ok(())
}

#[derive(clap::Args)]
pub struct MemberArgs {
	/// Every member's `ip:port`, in rank order (the same list for every member).
	#[arg(long, value_delimiter = ',', required = true)]
	members: Vec<std::net::SocketAddr>,
	/// This member's rank in `--members`.
	#[arg(long)]
	rank: usize,
	/// Tensor sizes in MiB, comma-separated.
	#[arg(long, value_delimiter = ',', default_value = "16,64", value_parser = clap::value_parser!(u64).range(1..=4096))]
	sizes_mib: Vec<u64>,
	#[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
	reps: u64,
	#[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=65536))]
	chunk_kib: u64,
	/// Send chunks over `/verity/allreduce/1` instead of the bulk lane.
	#[arg(long)]
	libp2p_only: bool,
}

pub async fn member(a: MemberArgs) -> anyhow::Result<()> {
	anyhow::ensure!(a.members.len() >= 2, "--members: at least 2");
	anyhow::ensure!(a.rank < a.members.len(), "--rank {} is not below {}", a.rank, a.members.len());
	let cfg = CollectiveConfig {
		chunk_bytes: a.chunk_kib as usize * 1024,
		stall_timeout: Duration::from_secs(120),
		..CollectiveConfig::default()
	};
	let sizes: Vec<usize> = a.sizes_mib.iter().map(|m| (*m as usize) << 20).collect();
	let member = bench::Member { members: a.members, rank: a.rank, bulk: !a.libp2p_only };
	for f in bench::bench_allreduce_member(&member, &sizes, a.reps as usize, cfg).await? {
		Output::BenchAllreduceMember(&f).print()?;
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

#[derive(clap::Args)]
pub struct ServeRawArgs {
	/// Kernel directory (kernel.json, kernel.pt, test.safetensors).
	#[arg(long)]
	kernel: PathBuf,
	/// Rows per forward pass, comma-separated.
	#[arg(long, value_delimiter = ',', default_value = "1,8,64,256")]
	rows: Vec<u64>,
	/// Seconds per size.
	#[arg(long, default_value_t = 3.0)]
	seconds: f64,
	#[command(flatten)]
	torch: TorchArgs,
}

/// The anchor of the serving benchmark: the kernel's own batched throughput (no HTTP, no
/// vouchers), and what the server's per-request work costs: the voucher check (with its
/// signature verification), the request hash and the receipt signature.
pub fn serve_raw(a: ServeRawArgs) -> anyhow::Result<()> {
	use polkadot_sdk::{
		sp_core::{sr25519, Pair, H256},
		sp_runtime::AccountId32,
	};
	use std::time::Instant;
	use verity_primitives::voucher::{sign::sign_voucher, Voucher};
	use verity_worker::serve::{book, protocol};

	let device = a.torch.init()?;
	let kernel = KernelDir::open(&a.kernel)?;
	let data = kernel.test()?;
	let mut model = Model::load(kernel.manifest, &kernel.archive, device)?;
	let x = verity_worker::infer::input_of(&model, data)?;
	let n = x.size()[0];
	for rows in &a.rows {
		let rows = *rows as i64;
		let idx = tch::Tensor::arange(rows, (tch::Kind::Int64, tch::Device::Cpu)).remainder(n);
		let input = x.index_select(0, &idx);
		let start = Instant::now();
		let mut done = 0u64;
		while start.elapsed().as_secs_f64() < a.seconds {
			let _ = std::hint::black_box(model.infer(&input, rows)?);
			done += rows as u64;
		}
		let secs = start.elapsed().as_secs_f64();
		println!(
			"{}",
			serde_json::json!({ "event": "serve-raw", "rows_per_pass": rows, "rows_per_s": done as f64 / secs })
		);
	}
	// The per-request work, on a channel that has served 1,000 requests.
	let buyer = sr25519::Pair::from_string("//Alice", None)?;
	let provider = sr25519::Pair::from_string("//Bob", None)?;
	let me = AccountId32::from(provider.public().0);
	let genesis = H256::repeat_byte(7);
	let mut served = book::Served::default();
	for i in 0..1000u64 {
		served.log.push(&H256::from_low_u64_be(i));
	}
	let chain = book::OnChain {
		buyer: AccountId32::from(buyer.public().0),
		provider: me.clone(),
		deposit: u128::MAX,
		paid: 0,
		nonce: 0,
		closes_at: None,
	};
	let entry = book::Entry { chain: Some(chain), served: served.clone() };
	let iters = 2000u32;
	let kernel_id = H256::repeat_byte(3);
	let body = vec![b'1'; 1200];
	let mut vouchers = Vec::new();
	for i in 0..iters {
		let request = protocol::request_hash(
			&H256::repeat_byte(1),
			1001,
			&kernel_id,
			&[&body[..], &i.to_le_bytes()].concat(),
		);
		let mut log = served.log.clone();
		log.push(&request);
		let v = Voucher {
			channel: H256::repeat_byte(1),
			cumulative: 228,
			nonce: 1001,
			requests_root: log.root(),
		};
		let sig = sign_voucher(&buyer, &genesis, &v);
		vouchers.push((request, v, sig));
	}
	let start = Instant::now();
	for (request, v, sig) in &vouchers {
		book::check(&me, &genesis, &entry, v, sig, request, 228)
			.map_err(|e| anyhow::anyhow!("{e}"))?;
	}
	let check_us = start.elapsed().as_secs_f64() * 1e6 / f64::from(iters);
	let start = Instant::now();
	for i in 0..iters {
		let r = protocol::request_hash(&H256::repeat_byte(1), u64::from(i), &kernel_id, &body);
		let d = protocol::output_digest(verity_primitives::kernel::DType::F32, &[1, 10], &[0; 40]);
		std::hint::black_box(provider.sign(&protocol::receipt_payload(&genesis, &r, &d)));
	}
	let receipt_us = start.elapsed().as_secs_f64() * 1e6 / f64::from(iters);
	println!(
		"{}",
		serde_json::json!({ "event": "serve-costs", "voucher_check_us": check_us, "hash_and_receipt_us": receipt_us })
	);
	Ok(())
}
