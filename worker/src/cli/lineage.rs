//! `verity-worker lineage`: a trained kernel version's history, read from the chain and checked
//! (its training job, every epoch's checkpoints and roots, and its archive re-exported from the
//! base kernel and the job's final checkpoint).

use anyhow::{bail, Context};
use libp2p::{identity::Keypair, Multiaddr};
use std::{path::PathBuf, time::Duration};
use verity_worker::{
	chain,
	output::Output,
	p2p::{self, NetConfig},
	provider::lineage,
	store::ContentStore,
};

#[derive(clap::Args)]
pub struct LineageArgs {
	/// The node's WebSocket RPC address.
	#[arg(long, default_value = "ws://127.0.0.1:9944")]
	node: String,
	/// The kernel version's id (0x…).
	#[arg(long)]
	kernel: String,
	/// Where the base kernel's archive and the final checkpoint are fetched to.
	#[arg(long)]
	store: PathBuf,
	/// Check only what the chain holds: fetch nothing, re-export nothing.
	#[arg(long)]
	no_fetch: bool,
	/// Listen address of the libp2p node that fetches.
	#[arg(long, default_value = "/ip4/127.0.0.1/tcp/0")]
	listen: Multiaddr,
}

pub async fn run(a: LineageArgs) -> anyhow::Result<()> {
	verity_worker::torch_env::init_torch(1);
	let bytes = hex::decode(a.kernel.trim_start_matches("0x")).context("--kernel is not hex")?;
	let id: [u8; 32] =
		bytes.try_into().map_err(|_| anyhow::anyhow!("--kernel is not a 32-byte kernel id"))?;
	let id = polkadot_sdk::sp_core::H256(id);
	let node = chain::connect(&a.node).await?;
	// The finalized block: a lineage is settled history, not what a fork says.
	let at = node.client.at_current_block().await.map_err(chain::subxt_err)?;
	let mut found = lineage::read(&at, id).await?;
	if !a.no_fetch {
		let store = ContentStore::open(&a.store)?;
		let config = NetConfig {
			key: Keypair::generate_ed25519(),
			listen: a.listen,
			request_timeout: Duration::from_secs(60),
			// Only fetches blobs: no AllReduce, no bulk listener.
			bulk: None,
		};
		let (net, _inbound, event_loop) = p2p::new(config).await?;
		tokio::spawn(event_loop.run());
		lineage::reexport(&at, &net, &store, &mut found).await?;
	}
	Output::Lineage(&found).print()?;
	if !found.problems.is_empty() {
		bail!("the lineage of kernel {id:?} does not hold: {}", found.problems.join("; "));
	}
	Ok(())
}
