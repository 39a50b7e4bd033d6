//! `verity-worker provide`: the provider daemon (see `verity_worker::provider`).

use super::args::{parse_h256, parse_ver, ChainAccount, TorchArgs};
use anyhow::{bail, Context};
use libp2p::{multiaddr::Protocol, Multiaddr};
use std::{net::SocketAddr, num::NonZeroUsize, path::PathBuf, time::Duration};
use tch::Device;
use verity_worker::{
	bench,
	metrics::Metrics,
	provider::{compute::RunConfig, setup::Price, Daemon, ProvideConfig},
	serve::{self, batch::BatchConfig, ServeConfig},
};

/// Sell this machine's compute on a Verity chain: publish an offer of its measured capacity,
/// run the tasks the chain assigns, verify others' results in committees, and submit signed
/// results. Needs an account with the minimum provider stake (or `--bond`).
#[derive(clap::Args)]
pub struct ProvideArgs {
	#[command(flatten)]
	account: ChainAccount,
	/// Data directory: journal, blob store, libp2p identity. One per provider.
	#[arg(long)]
	data: PathBuf,
	/// Resource class to offer (default: 0 `cpu` on the CPU, 2 `datacenter-gpu` on CUDA).
	#[arg(long)]
	class: Option<u8>,
	/// Fixed price per work unit, in VER (e.g. 0.012).
	#[arg(long, value_parser = parse_ver, conflicts_with = "price_factor")]
	price: Option<u128>,
	/// Price as a factor of the class's price index, followed as the index moves (default 1.0:
	/// the chain prices each assignment at the index; otherwise the offer is re-set when the
	/// index moves it by more than 2 %, checked every 10 blocks).
	#[arg(long, value_parser = parse_factor)]
	price_factor: Option<u32>,
	/// Offered capacity in milli-WU/s instead of measuring it with bench-hw at start.
	#[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
	capacity: Option<u64>,
	/// Smallest job taken, WU.
	#[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
	min_job: u64,
	/// Largest job taken, WU.
	#[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
	max_job: u64,
	/// Bond the missing provider stake from the account at start.
	#[arg(long)]
	bond: bool,
	/// Sell compute only: do not register as a verifier (no committee seats).
	#[arg(long)]
	no_verify: bool,
	/// Take training tasks (one job at a time): train with the group the chain formed, commit
	/// every epoch, answer audits. Without it training tasks are declined.
	#[arg(long)]
	train: bool,
	/// libp2p listen address (blobs for other workers and buyers).
	#[arg(long, default_value = "/ip4/127.0.0.1/tcp/0")]
	listen: Multiaddr,
	/// TCP port of the AllReduce's bulk lane (training), on the listen address's IP (0: one the
	/// system chooses; fix it to open it in a firewall or forward it through a NAT).
	#[arg(long, default_value_t = 0)]
	bulk_port: u16,
	/// Address to publish instead of the listen address (repeat; at most 4).
	#[arg(long)]
	announce: Vec<Multiaddr>,
	/// Serve Prometheus metrics on this address (`/metrics`).
	#[arg(long)]
	metrics: Option<SocketAddr>,
	/// Rows per forward pass.
	#[arg(long, default_value = "256")]
	batch: NonZeroUsize,
	/// Serve paid inference over HTTP on this address (`/v1/kernels/{id}/infer`, vouchers of
	/// fee-settlement channels); published on chain with the endpoint.
	#[arg(long)]
	serve: Option<SocketAddr>,
	/// A registered kernel (id, 0x hex) the server answers requests for (repeat).
	#[arg(long, value_parser = parse_h256, requires = "serve")]
	serve_kernel: Vec<polkadot_sdk::sp_core::H256>,
	/// `ID=MANIFEST`: serve the registered character-level kernel ID as text too, at the
	/// OpenAI-style `/v1/completions`, with the vocabulary of MANIFEST (the `kernel.json` of it or
	/// of the kernel it was trained from: the chain's record does not hold the characters) (repeat).
	#[arg(long, value_parser = parse_text_kernel, requires = "serve")]
	serve_text: Vec<(polkadot_sdk::sp_core::H256, String)>,
	/// Rows per served batch, at most (also the most rows one request may carry).
	#[arg(long, default_value = "256")]
	serve_batch: NonZeroUsize,
	/// How long a served request waits for others to batch with, milliseconds.
	#[arg(long, default_value = "2")]
	serve_wait_ms: u64,
	/// Requests queued per kernel, at most; more get 503 with Retry-After.
	#[arg(long, default_value = "1024")]
	serve_queue: NonZeroUsize,
	/// The largest request body, bytes.
	#[arg(long, default_value = "1048576")]
	serve_max_body: NonZeroUsize,
	/// Finalized blocks between redeems of the latest vouchers.
	#[arg(long, default_value = "20", value_parser = clap::value_parser!(u64).range(1..))]
	redeem_every: u64,
	#[command(flatten)]
	torch: TorchArgs,
	/// Test-only fault: submit and reveal a wrong output (builds with `fault-injection` only).
	#[cfg(feature = "fault-injection")]
	#[arg(long)]
	fault_wrong_output: bool,
	/// Test-only fault: commit made-up digests for training steps (builds with
	/// `fault-injection` only).
	#[cfg(feature = "fault-injection")]
	#[arg(long)]
	fault_fake_steps: bool,
	/// Test-only fault: serve no step chains to auditors (builds with `fault-injection` only).
	#[cfg(feature = "fault-injection")]
	#[arg(long)]
	fault_withhold_chains: bool,
}

/// `1.25` → 1250 per mille, between 0.001 and 1000.
/// `ID=MANIFEST` of `--serve-text`: the kernel id and the manifest's vocabulary.
fn parse_text_kernel(s: &str) -> Result<(polkadot_sdk::sp_core::H256, String), String> {
	let (id, path) = s.split_once('=').ok_or("expected ID=MANIFEST")?;
	let id = parse_h256(id)?;
	let bytes = std::fs::read(path).map_err(|e| format!("reading {path}: {e}"))?;
	let manifest =
		verity_worker::kernel::Manifest::from_json(&bytes).map_err(|e| format!("{path}: {e}"))?;
	let vocab = manifest.vocab.ok_or_else(|| format!("{path} has no `vocab`"))?;
	Ok((id, vocab))
}

fn parse_factor(s: &str) -> Result<u32, String> {
	let f: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
	if !(0.001..=1000.0).contains(&f) {
		return Err("the factor must be between 0.001 and 1000".into());
	}
	Ok((f * 1000.0).round() as u32)
}

pub async fn run(a: ProvideArgs) -> anyhow::Result<()> {
	let signer = a.account.signer()?;
	let mut kernels = a.serve_kernel.clone();
	for (id, _) in &a.serve_text {
		if !kernels.contains(id) {
			kernels.push(*id);
		}
	}
	if a.serve.is_some() && kernels.is_empty() {
		bail!("--serve needs a kernel to serve (--serve-kernel or --serve-text)");
	}
	if a.min_job > a.max_job {
		bail!("--min-job {} is above --max-job {}", a.min_job, a.max_job);
	}
	// The chain keeps 4 addresses per endpoint; the inference server's is one of them.
	if a.announce.len() + usize::from(a.serve.is_some()) > 4 {
		bail!("at most 4 --announce addresses (3 with --serve)");
	}
	let device = a.torch.init()?;
	let capacity = match a.capacity {
		Some(c) => c,
		None => {
			let hw = tokio::task::spawn_blocking(move || bench::bench_hw(device, 512, 5)).await?;
			tracing::info!(device = %hw.device, capacity_wu_s = hw.capacity_wu_per_s, "measured capacity (bench-hw)");
			hw.capacity_milli_wu_per_s.max(1)
		}
	};
	let class = a.class.unwrap_or(match device {
		Device::Cpu => 0,
		_ => 2,
	});
	let price = match a.price {
		Some(p) => Price::Fixed(p),
		None => Price::Index { permille: a.price_factor.unwrap_or(1000) },
	};
	#[cfg(feature = "fault-injection")]
	let (wrong_output, fake_steps, withhold_chains) =
		(a.fault_wrong_output, a.fault_fake_steps, a.fault_withhold_chains);
	#[cfg(not(feature = "fault-injection"))]
	let (wrong_output, fake_steps, withhold_chains) = (false, false, false);
	let metrics = Metrics::new();
	if let Some(addr) = a.metrics {
		let bound = metrics.clone().serve(addr).await.context("serving metrics")?;
		tracing::info!(%bound, "metrics");
	}
	let serve_addr = a.serve.map(|addr| {
		let ip = match addr.ip() {
			std::net::IpAddr::V4(ip) => Protocol::Ip4(ip),
			std::net::IpAddr::V6(ip) => Protocol::Ip6(ip),
		};
		Multiaddr::empty().with(ip).with(Protocol::Tcp(addr.port())).with(Protocol::Http)
	});
	let data = a.data.clone();
	let node = a.account.node.clone();
	let cfg = ProvideConfig {
		url: a.account.node,
		data: a.data,
		class,
		capacity,
		price,
		min_job: a.min_job,
		max_job: a.max_job,
		bond: a.bond,
		verify: !a.no_verify,
		train: a.train,
		listen: a.listen,
		bulk_port: a.bulk_port,
		announce: a.announce,
		run: RunConfig { device, batch: a.batch, wrong_output, fake_steps, withhold_chains },
		serving: None,
	};
	let mut daemon = Daemon::new(cfg, signer.clone(), metrics.clone()).await?;
	println!(
		"{}",
		serde_json::json!({ "event": "provider", "account": daemon.account().to_string() })
	);
	if let Some(listen) = a.serve {
		let cfg = ServeConfig {
			url: node,
			listen,
			kernels,
			vocabs: a.serve_text.into_iter().collect(),
			class,
			batch: BatchConfig {
				max_rows: a.serve_batch.get(),
				max_wait: Duration::from_millis(a.serve_wait_ms),
				queue: a.serve_queue.get(),
			},
			max_body: a.serve_max_body.get(),
			redeem_every: a.redeem_every,
			data,
			device,
		};
		let (store, net, submitter) = daemon.serving_parts();
		let bound = serve::start(cfg, signer, submitter, store, net, metrics)
			.await
			.context("starting the inference server")?;
		daemon.set_serving(serve_addr.map(|a| {
			let mut a: Multiaddr =
				a.iter().filter(|p| !matches!(p, Protocol::Tcp(_) | Protocol::Http)).collect();
			a.push(Protocol::Tcp(bound.port()));
			a.push(Protocol::Http);
			a
		}));
		tracing::info!(%bound, "inference server listening");
		println!("{}", serde_json::json!({ "event": "serving", "addr": bound.to_string() }));
	}
	// SIGINT and SIGTERM end this future from outside (`cli::until_signal`).
	daemon.run().await.map_err(Into::into)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn prices_parse_exactly_and_nonsense_is_refused() {
		assert_eq!(parse_ver("0.012"), Ok(12_000_000_000));
		assert_eq!(parse_ver("1"), Ok(1_000_000_000_000));
		assert_eq!(parse_ver(".5"), Ok(500_000_000_000));
		for bad in ["", ".", "0", "0.0", "1e3", "-1", "0.0000000000001", "x"] {
			assert!(parse_ver(bad).is_err(), "{bad}");
		}
		assert_eq!(parse_factor("1.25"), Ok(1250));
		assert!(parse_factor("0").is_err());
	}
}
