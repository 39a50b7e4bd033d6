//! Arguments several subcommands share: the chain account, libtorch's device and threads, the
//! libp2p node, and how a training step is taken.

use anyhow::{bail, Context};
use libp2p::{Multiaddr, PeerId};
use std::{net::SocketAddr, num::NonZeroUsize, time::Duration};
use tch::Device;
use tokio::sync::mpsc;
use verity_worker::{
	collective::Wire,
	kernel::Adam,
	p2p::{self, key_from_seed, AllReduceEvent, Inbound, Net, NetConfig, StatusRequest},
	store::{remote, ContentStore},
	train::{Mode, TrainConfig},
};

/// The node a subcommand talks to and the account that signs its transactions.
#[derive(clap::Args)]
pub struct ChainAccount {
	/// The node's WebSocket RPC address.
	#[arg(long, default_value = "ws://127.0.0.1:9944")]
	pub node: String,
	/// The account's secret URI (mnemonic, 0x seed, or `//Alice`-style dev path). Prefer
	/// --key-file outside dev chains: command lines are visible to other users.
	#[arg(long, conflicts_with = "key_file")]
	pub suri: Option<String>,
	/// A file holding the account's secret URI (mode 600).
	#[arg(long)]
	pub key_file: Option<std::path::PathBuf>,
}

impl ChainAccount {
	/// The account's key pair.
	pub fn signer(&self) -> anyhow::Result<subxt_signer::sr25519::Keypair> {
		Ok(verity_worker::chain::keys::load(self.suri.as_deref(), self.key_file.as_deref())?)
	}
}

/// Where kernels run.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum DeviceArg {
	/// The CPU.
	Cpu,
	/// CUDA device 0 (an error without one).
	Cuda,
	/// CUDA when libtorch sees a device, else the CPU.
	Auto,
}

#[derive(clap::Args, Clone)]
pub struct TorchArgs {
	#[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
	pub device: DeviceArg,
	/// libtorch intra-op threads (part of the reproducibility environment).
	#[arg(long, default_value = "1")]
	pub threads: NonZeroUsize,
}

impl TorchArgs {
	/// Sets libtorch's threads and returns the device.
	pub fn init(&self) -> anyhow::Result<Device> {
		verity_worker::torch_env::init_torch(self.threads.get());
		Ok(match self.device {
			DeviceArg::Cpu => Device::Cpu,
			DeviceArg::Cuda if tch::Cuda::is_available() => Device::Cuda(0),
			DeviceArg::Cuda => bail!("--device cuda: libtorch reports no CUDA device"),
			DeviceArg::Auto => Device::cuda_if_available(),
		})
	}
}

#[derive(clap::Args, Clone)]
pub struct NetArgs {
	/// Identity: the ed25519 secret key is sha2-256 of this string (`peer-id` prints the id).
	#[arg(long)]
	pub identity: String,
	/// Listen address.
	#[arg(long, default_value = "/ip4/127.0.0.1/tcp/0")]
	pub listen: Multiaddr,
	/// TCP port of the AllReduce's bulk lane, on the listen address's IP (0: one the system
	/// chooses; fix it to open it in a firewall or forward it through a NAT).
	#[arg(long, default_value_t = 0)]
	pub bulk_port: u16,
	/// Other group members, `/ip4/…/tcp/…/p2p/<peer id>` (repeat).
	#[arg(long = "peer")]
	pub peers: Vec<Multiaddr>,
	/// Seconds without progress before an AllReduce round fails.
	#[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
	pub stall_timeout: u64,
	/// AllReduce chunk size in KiB (at most 64 MiB, the protocol's limit).
	#[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=65536))]
	pub chunk_kib: u64,
	/// Serve Prometheus metrics on this address (`/metrics`).
	#[arg(long)]
	pub metrics: Option<SocketAddr>,
}

/// A started node: the handle, the inbound receivers of the AllReduce and the group protocol
/// (for a trainer to take; dropping them refuses those requests), and the peers named on the
/// command line (being dialled).
pub struct Node {
	pub net: Net,
	pub allreduce: mpsc::Receiver<AllReduceEvent>,
	pub group: mpsc::Receiver<StatusRequest>,
	pub peers: Vec<PeerId>,
}

impl NetArgs {
	/// Starts the node, serves `store`'s blobs if given, and starts dialling the peers (they may
	/// still be starting: requests to them wait for the connection, and a failed dial fails only
	/// the requests waiting for it).
	pub async fn start(&self, store: Option<ContentStore>) -> anyhow::Result<Node> {
		let mut peers = Vec::new();
		for addr in &self.peers {
			peers.push(p2p::split_peer_addr(addr).with_context(|| format!("--peer {addr}"))?);
		}
		let config = NetConfig {
			key: key_from_seed(&self.identity),
			listen: self.listen.clone(),
			request_timeout: Duration::from_secs(60),
			bulk: Some(self.bulk_port),
		};
		let (net, Inbound { allreduce, blobs, group }, event_loop) = p2p::new(config).await?;
		tokio::spawn(event_loop.run());
		if let Some(store) = store {
			tokio::spawn(remote::serve(store, blobs));
		}
		peers.retain(|(peer, _)| *peer != net.peer_id);
		for (peer, addr) in &peers {
			net.add_peer(*peer, addr.clone()).await?;
		}
		tracing::info!(peer_id = %net.peer_id, addr = %net.addr, "listening");
		Ok(Node { net, allreduce, group, peers: peers.into_iter().map(|(p, _)| p).collect() })
	}
}

/// How a training step is taken (the same on every member, and when a step is replayed).
#[derive(clap::Args, Clone)]
pub struct StepArgs {
	/// Global batch size.
	#[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
	pub batch: u64,
	/// Adam learning rate.
	#[arg(long, default_value_t = 1e-3)]
	pub lr: f64,
	/// Seed of the data order.
	#[arg(long, default_value_t = 7)]
	pub data_seed: u64,
	#[arg(long, value_enum, default_value_t = ModeArg::Sync)]
	pub mode: ModeArg,
	/// Number format of the AllReduce's values on the wire (bf16: half the bytes, sums in f32).
	#[arg(long, value_enum, default_value_t = WireArg::F32)]
	pub wire: WireArg,
}

/// [`verity_worker::collective::Wire`] on the command line.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum WireArg {
	/// 4 bytes a value, exact.
	F32,
	/// 2 bytes a value (bfloat16).
	Bf16,
}

/// How gradients are combined.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum ModeArg {
	/// AllReduce of gradients every step.
	Sync,
	/// DiLoCo: H local steps, then AllReduce of pseudo-gradients and an outer Nesterov step.
	Diloco,
}

/// DiLoCo's outer loop (ignored in sync mode).
#[derive(clap::Args, Clone)]
pub struct DilocoArgs {
	/// Local steps per outer round.
	#[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
	pub inner_steps: u64,
	#[arg(long, default_value_t = 0.7)]
	pub outer_lr: f64,
	#[arg(long, default_value_t = 0.9)]
	pub outer_momentum: f64,
}

impl StepArgs {
	/// The training settings: `epochs` and DiLoCo's outer loop (`None` to replay a step).
	pub fn config(
		&self,
		epochs: u64,
		diloco: Option<&DilocoArgs>,
		max_reforms: u32,
	) -> TrainConfig {
		let (inner_steps, outer_lr, outer_momentum) =
			diloco.map(|d| (d.inner_steps, d.outer_lr, d.outer_momentum)).unwrap_or((1, 0.0, 0.0));
		TrainConfig {
			epochs,
			batch: self.batch as usize,
			adam: Adam { lr: self.lr, ..Adam::default() },
			seed: self.data_seed,
			mode: match self.mode {
				ModeArg::Sync => Mode::Sync,
				ModeArg::Diloco => Mode::Diloco,
			},
			inner_steps,
			outer_lr,
			outer_momentum,
			wire: match self.wire {
				WireArg::F32 => Wire::F32,
				WireArg::Bf16 => Wire::Bf16,
			},
			max_reforms,
			shard: None,
			generation: 0,
			ring: Vec::new(),
		}
	}
}

/// `0.012` VER → smallest units (12 decimals).
pub fn parse_ver(s: &str) -> Result<u128, String> {
	let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
	if whole.is_empty() && frac.is_empty() || frac.len() > 12 {
		return Err(format!("{s:?} is not an amount of VER with at most 12 decimals"));
	}
	let digits = |t: &str| t.chars().all(|c| c.is_ascii_digit());
	if !digits(whole) || !digits(frac) {
		return Err(format!("{s:?} is not an amount of VER"));
	}
	let whole: u128 =
		if whole.is_empty() { 0 } else { whole.parse().map_err(|e| format!("{e}"))? };
	let frac: u128 = format!("{frac:0<12}").parse().map_err(|e| format!("{e}"))?;
	let v = whole
		.checked_mul(verity_primitives::currency::VER)
		.and_then(|w| w.checked_add(frac))
		.ok_or("amount too large")?;
	if v == 0 {
		return Err("the price must be above zero".into());
	}
	Ok(v)
}

pub fn parse_h256(s: &str) -> Result<polkadot_sdk::sp_core::H256, String> {
	let bytes = hex::decode(s.trim_start_matches("0x")).map_err(|e| format!("{s:?}: {e}"))?;
	let raw: [u8; 32] = bytes.try_into().map_err(|_| format!("{s:?} is not 32 bytes"))?;
	Ok(polkadot_sdk::sp_core::H256(raw))
}
