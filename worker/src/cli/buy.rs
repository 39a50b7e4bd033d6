//! `buy`: the buyer's side of paid inference. `open` opens payment channels to a provider,
//! `infer` sends requests through one (each paid by a voucher, each receipt checked against the
//! channel's provider on chain and kept), `load` drives a server with concurrent clients and
//! reports throughput and latency.

use super::args::{parse_h256, parse_ver, ChainAccount};
use anyhow::{bail, Context};
use polkadot_sdk::sp_core::H256;
use std::{
	path::PathBuf,
	sync::Arc,
	time::{Duration, Instant},
};
use verity_worker::{
	chain::{self, api, Submitter},
	kernel::Dataset,
	serve::{
		self,
		client::{append_receipts, read_receipts, rows_of, Buyer, ClientError},
	},
};

#[derive(clap::Args)]
pub struct BuyArgs {
	#[command(subcommand)]
	cmd: BuyCmd,
}

#[derive(clap::Subcommand)]
enum BuyCmd {
	/// Opens payment channels to a provider (deposits held on chain); prints their ids.
	Open(OpenArgs),
	/// Sends paid requests through one channel: one voucher each, every receipt checked against
	/// the channel's provider and appended to the receipts file, which the next run continues.
	Infer(InferArgs),
	/// Load on an inference server: for each number of concurrent clients (each on its own
	/// channel, opened here) and rows per request, requests/s, rows/s and p50/p99 latency.
	Load(LoadArgs),
}

#[derive(clap::Args)]
struct OpenArgs {
	#[command(flatten)]
	account: ChainAccount,
	/// The provider (SS58).
	#[arg(long)]
	provider: chain::AccountId,
	/// Deposit of each channel, in VER.
	#[arg(long, value_parser = parse_ver, default_value = "1")]
	deposit: u128,
	/// Channels to open (in one transaction).
	#[arg(long, default_value = "1")]
	count: std::num::NonZeroU32,
}

#[derive(clap::Args)]
struct InferArgs {
	#[command(flatten)]
	account: ChainAccount,
	/// The inference server (`http://host:port`).
	#[arg(long)]
	url: String,
	/// The channel (`0x` hex) that pays.
	#[arg(long, value_parser = parse_h256)]
	channel: H256,
	/// The kernel (`0x` hex id).
	#[arg(long, value_parser = parse_h256)]
	kernel: H256,
	/// A labelled dataset (safetensors with `x` and `y`, e.g. a kernel directory's
	/// test.safetensors): its rows are the inputs, its labels score the answers.
	#[arg(long)]
	input: PathBuf,
	/// Requests to send.
	#[arg(long, default_value = "1")]
	count: u64,
	/// Rows per request.
	#[arg(long, default_value = "1")]
	rows: std::num::NonZeroUsize,
	/// Receipts file (JSON lines): read first (the channel goes on from its last request),
	/// appended to after every answer.
	#[arg(long)]
	receipts: PathBuf,
	/// Print every answer's output (one JSON line each).
	#[arg(long)]
	print_outputs: bool,
}

#[derive(clap::Args)]
struct LoadArgs {
	#[command(flatten)]
	account: ChainAccount,
	/// The inference server (`http://host:port`).
	#[arg(long)]
	url: String,
	/// The kernel (`0x` hex id).
	#[arg(long, value_parser = parse_h256)]
	kernel: H256,
	/// A labelled dataset whose rows are sent.
	#[arg(long)]
	input: PathBuf,
	/// Concurrent clients, one phase each (comma-separated).
	#[arg(long, value_delimiter = ',', default_value = "1,8,64")]
	clients: Vec<usize>,
	/// Rows per request, one phase each (comma-separated).
	#[arg(long, value_delimiter = ',', default_value = "1,64")]
	rows: Vec<usize>,
	/// Seconds per phase.
	#[arg(long, default_value = "10")]
	seconds: f64,
	/// Deposit of each client's channel, in VER.
	#[arg(long, value_parser = parse_ver, default_value = "1000")]
	deposit: u128,
}

pub async fn run(a: BuyArgs) -> anyhow::Result<()> {
	match a.cmd {
		BuyCmd::Open(a) => open(a).await,
		BuyCmd::Infer(a) => infer(a).await,
		BuyCmd::Load(a) => load(a).await,
	}
}

/// Opens `count` channels from the signer to `provider`; their ids in order.
async fn open_channels(
	chain: &chain::Chain,
	submitter: &Submitter,
	provider: &chain::AccountId,
	deposit: u128,
	count: u32,
) -> anyhow::Result<Vec<H256>> {
	use api::runtime_types::verity_runtime::RuntimeCall;
	let open = || {
		api::tx().fee_settlement().open_channel(subxt::utils::MultiAddress::Id(*provider), deposit)
	};
	let included = if count == 1 {
		submitter.submit(&open()).await?
	} else {
		let calls = (0..count)
			.map(|_| {
				RuntimeCall::FeeSettlement(
					api::runtime_types::pallet_fee_settlement::pallet::Call::open_channel {
						provider: subxt::utils::MultiAddress::Id(*provider),
						deposit,
					},
				)
			})
			.collect();
		submitter.submit(&api::tx().utility().batch_all(calls)).await?
	};
	let mut ids = Vec::new();
	for e in included.events.find::<api::fee_settlement::events::ChannelOpened>() {
		ids.push(H256(e.map_err(chain::subxt_err).context("reading ChannelOpened")?.channel.0));
	}
	if ids.len() != count as usize {
		bail!("{} channels opened, {count} asked", ids.len());
	}
	// Servers follow finalized blocks: a channel is usable once its block is final.
	let deadline = Instant::now() + Duration::from_secs(120);
	loop {
		let at = chain.client.at_current_block().await.map_err(chain::subxt_err)?;
		if serve::chain::channel(&at, ids[ids.len() - 1]).await?.is_some() {
			return Ok(ids);
		}
		if Instant::now() > deadline {
			bail!("the channels' block (#{}) was not finalized within 120 s", included.number);
		}
		tokio::time::sleep(Duration::from_millis(500)).await;
	}
}

async fn connect(a: &ChainAccount) -> anyhow::Result<(chain::Chain, Submitter)> {
	let signer = a.signer()?;
	let chain = chain::connect(&a.node).await?;
	let submitter = Submitter::new(signer);
	submitter.set_chain(chain.clone()).await;
	Ok((chain, submitter))
}

async fn open(a: OpenArgs) -> anyhow::Result<()> {
	let (chain, submitter) = connect(&a.account).await?;
	for id in open_channels(&chain, &submitter, &a.provider, a.deposit, a.count.get()).await? {
		println!("{}", serde_json::json!({ "event": "channel", "channel": format!("{id:?}") }));
	}
	Ok(())
}

/// The inputs and labels of a labelled dataset, as `f32` rows and `i64` labels.
fn rows_and_labels(path: &std::path::Path) -> anyhow::Result<(Vec<f32>, usize, Vec<i64>)> {
	let Dataset::Labelled { x, y } = Dataset::read(path)? else {
		bail!("{} is a token stream; `buy` sends labelled rows", path.display());
	};
	let size = x.size();
	if size.len() != 2 {
		bail!("{}: x is {size:?}; `buy` sends rows of a 2-D x", path.display());
	}
	let x = Vec::<f32>::try_from(x.to_kind(tch::Kind::Float).contiguous().view([-1]))?;
	let y = Vec::<i64>::try_from(y.to_kind(tch::Kind::Int64).contiguous().view([-1]))?;
	Ok((x, size[1] as usize, y))
}

/// The server's price per row for `kernel` and its provider, after checking it serves this
/// chain (genesis).
async fn priced(buyer: &Buyer, kernel: H256, genesis: H256) -> anyhow::Result<(u128, String)> {
	let info = buyer.info().await?;
	if info["genesis"].as_str() != Some(&format!("{genesis:?}")) {
		bail!("the server serves chain {}, the node is {genesis:?}", info["genesis"]);
	}
	let k = info["kernels"]
		.as_array()
		.and_then(|ks| ks.iter().find(|k| k["id"].as_str() == Some(&format!("{kernel:?}"))))
		.with_context(|| format!("the server does not serve kernel {kernel:?}"))?;
	let price = k["price_per_row"]
		.as_str()
		.context("the server has no price yet (its provider has no offer)")?
		.parse()?;
	Ok((price, info["provider"].as_str().unwrap_or_default().to_string()))
}

async fn infer(a: InferArgs) -> anyhow::Result<()> {
	let (chain, submitter) = connect(&a.account).await?;
	let genesis = H256(chain.client.genesis_hash().0);
	let at = chain.client.at_current_block().await.map_err(chain::subxt_err)?;
	let on_chain = serve::chain::channel(&at, a.channel)
		.await?
		.with_context(|| format!("channel {:?} is not on chain", a.channel))?;
	if <[u8; 32]>::from(on_chain.buyer.clone()) != submitter.account().0 {
		bail!("channel {:?} is {}'s, not this signer's", a.channel, on_chain.buyer);
	}
	let (x, width, y) = rows_and_labels(&a.input)?;
	let signer = a.account.signer()?;
	let mut buyer = Buyer::new(
		&a.url,
		signer,
		genesis,
		a.channel,
		on_chain.provider.clone().into(),
		read_receipts(&a.receipts)?,
	)?;
	let (price, _) = priced(&buyer, a.kernel, genesis).await?;
	let (mut right, mut scored, mut bad) = (0u64, 0u64, 0u64);
	let start = Instant::now();
	let first = buyer.answered();
	for i in 0..a.count {
		let at = (first + i) as usize * a.rows.get();
		let input = rows_of(&x, width, a.rows.get(), at);
		let answer = loop {
			match buyer.infer(a.kernel, price, &input).await {
				Err(ClientError::Refused { retry_after: Some(s), .. }) => {
					tokio::time::sleep(Duration::from_secs(s.max(1))).await
				}
				other => break other,
			}
		};
		// Kept before anything else: an answered request's receipt is never lost.
		if let Some(r) = buyer.receipts().last().filter(|r| r.nonce == buyer.answered()) {
			append_receipts(&a.receipts, std::slice::from_ref(r))?;
		}
		let answer = match answer {
			Ok(answer) => answer,
			Err(e @ ClientError::BadReceipt { .. }) => {
				tracing::warn!(error = %e, "kept as evidence");
				bad += 1;
				continue;
			}
			Err(e) => return Err(e.into()),
		};
		if a.print_outputs {
			println!(
				"{}",
				serde_json::json!({ "event": "answer", "nonce": answer.receipt.nonce, "output": answer.output })
			);
		}
		// Score: the argmax of each output row against the row's label.
		let out: Vec<f64> = answer.output.data.iter().filter_map(|n| n.as_f64()).collect();
		let classes = out.len() / a.rows.get();
		for r in 0..a.rows.get() {
			let row = &out[r * classes..(r + 1) * classes];
			let best = (0..classes).max_by(|i, j| row[*i].total_cmp(&row[*j]));
			let label = y[(at + r) % y.len()];
			scored += 1;
			right += u64::from(best.map(|b| b as i64) == Some(label));
		}
	}
	let secs = start.elapsed().as_secs_f64();
	println!(
		"{}",
		serde_json::json!({
			"event": "summary",
			"channel": format!("{:?}", a.channel),
			"answered": a.count - bad,
			"bad_receipts": bad,
			"requests_on_channel": buyer.answered(),
			"cumulative": buyer.cumulative().to_string(),
			"accuracy": if scored > 0 { right as f64 / scored as f64 } else { 0.0 },
			"seconds": secs,
		})
	);
	if bad > 0 {
		bail!("{bad} answers did not verify (kept in {})", a.receipts.display());
	}
	Ok(())
}

async fn load(a: LoadArgs) -> anyhow::Result<()> {
	let (chain, submitter) = connect(&a.account).await?;
	let genesis = H256(chain.client.genesis_hash().0);
	let (x, width, _) = rows_and_labels(&a.input)?;
	let x = Arc::new(x);
	let signer = a.account.signer()?;
	let probe = Buyer::new(&a.url, signer.clone(), genesis, H256::zero(), [0; 32], Vec::new())?;
	let (price, provider) = priced(&probe, a.kernel, genesis).await?;
	let provider: chain::AccountId =
		provider.parse().map_err(|e| anyhow::anyhow!("the server's provider {provider:?}: {e}"))?;
	let kernel = a.kernel;
	let n = a.clients.iter().copied().max().unwrap_or(1).max(1);
	let channels = open_channels(&chain, &submitter, &provider, a.deposit, n as u32).await?;
	let mut buyers: Vec<Buyer> = channels
		.iter()
		.map(|c| Buyer::new(&a.url, signer.clone(), genesis, *c, provider.0, Vec::new()))
		.collect::<Result<_, _>>()?;
	for &rows in &a.rows {
		for &clients in &a.clients {
			let end = Instant::now() + Duration::from_secs_f64(a.seconds);
			let tasks: Vec<_> = buyers
				.drain(..clients.min(n))
				.enumerate()
				.map(|(k, mut buyer)| {
					let x = x.clone();
					tokio::spawn(async move {
						let (mut lat, mut busy) = (Vec::new(), 0u64);
						let mut at = k * 7;
						while Instant::now() < end {
							let input = rows_of(&x, width, rows, at);
							at += rows;
							let t0 = Instant::now();
							match buyer.infer(kernel, price, &input).await {
								Ok(_) => lat.push(t0.elapsed().as_secs_f64() * 1e3),
								Err(ClientError::Refused { status: 503, .. }) => {
									busy += 1;
									tokio::time::sleep(Duration::from_millis(50)).await;
								}
								Err(e) => return Err(e),
							}
						}
						Ok((buyer, lat, busy))
					})
				})
				.collect();
			let (mut lat, mut busy) = (Vec::new(), 0);
			let start = Instant::now();
			for t in tasks {
				let (buyer, l, b) = t.await??;
				buyers.push(buyer);
				lat.extend(l);
				busy += b;
			}
			let secs = start.elapsed().as_secs_f64();
			lat.sort_by(f64::total_cmp);
			let pct = |p: f64| {
				lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1))).copied()
			};
			println!(
				"{}",
				serde_json::json!({
					"event": "load",
					"clients": clients.min(n),
					"rows_per_request": rows,
					"requests": lat.len(),
					"requests_per_s": lat.len() as f64 / secs,
					"rows_per_s": (lat.len() * rows) as f64 / secs,
					"p50_ms": pct(0.5),
					"p99_ms": pct(0.99),
					"busy_503": busy,
				})
			);
		}
	}
	Ok(())
}
