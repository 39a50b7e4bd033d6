//! `put`, `serve` and `fetch`: blobs in the content store and between workers.

use super::args::NetArgs;
use anyhow::Context;
use std::path::PathBuf;
use verity_primitives::cid::Cid;
use verity_worker::store::{parse_cid, remote, ContentStore};

#[derive(clap::Args)]
pub struct PutArgs {
	#[arg(long)]
	store: PathBuf,
	file: PathBuf,
}

pub fn put(a: PutArgs) -> anyhow::Result<()> {
	let cid = ContentStore::open(&a.store)?.put_file(&a.file)?;
	println!("{cid}");
	Ok(())
}

#[derive(clap::Args)]
pub struct ServeArgs {
	#[arg(long)]
	store: PathBuf,
	#[command(flatten)]
	net: NetArgs,
}

pub async fn serve(a: ServeArgs) -> anyhow::Result<()> {
	let store = ContentStore::open(&a.store)?;
	let node = a.net.start(Some(store)).await?;
	// Line 1: the address to dial. Line 2: the same as an on-chain endpoint
	// (`marketplace.setEndpoint`: peer id and address in their binary forms).
	// A reader that stops after the first line must not stop the server: write errors on stdout
	// are ignored.
	use std::io::Write;
	let mut out = std::io::stdout();
	let _ = writeln!(out, "{}", node.net.addr);
	let mut addr = node.net.addr.clone();
	addr.pop();
	let _ = writeln!(
		out,
		"{}",
		serde_json::json!({
			"event": "endpoint",
			"peer": format!("0x{}", hex::encode(node.net.peer_id.to_bytes())),
			"addrs": [format!("0x{}", hex::encode(addr.to_vec()))],
		})
	);
	let _ = out.flush();
	// Until SIGINT or SIGTERM (`cli::until_signal`).
	std::future::pending().await
}

#[derive(clap::Args)]
pub struct FetchArgs {
	#[arg(long)]
	store: PathBuf,
	#[command(flatten)]
	net: NetArgs,
	/// The blob's CID (text form).
	#[arg(long, value_parser = parse_cid)]
	cid: Cid,
}

pub async fn fetch(a: FetchArgs) -> anyhow::Result<()> {
	let store = ContentStore::open(&a.store)?;
	let node = a.net.start(Some(store.clone())).await?;
	let peer = *node.peers.first().context("--peer is required")?;
	let bytes = remote::fetch(&node.net, &store, peer, &a.cid).await?;
	println!("{} {} bytes", a.cid, bytes.len());
	Ok(())
}
