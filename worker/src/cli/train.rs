//! `verity-worker train`: one member of a training group.

use super::args::{DilocoArgs, NetArgs, StepArgs, TorchArgs};
use anyhow::bail;
use libp2p::PeerId;
use std::path::PathBuf;
use verity_worker::{
	collective::{Collective, CollectiveConfig},
	group::Membership,
	kernel::{dir, KernelDir, Model},
	metrics::Metrics,
	output::Output,
	store::ContentStore,
	train::{Mode, Regroup, Shard, TorchLearner, Trainer},
};

#[derive(clap::Args)]
pub struct TrainArgs {
	/// Kernel directory (kernel.pt, kernel.json, train.safetensors, test.safetensors), as
	/// written by scripts/kernels.py.
	#[arg(long)]
	kernel: PathBuf,
	/// Content store directory.
	#[arg(long)]
	store: PathBuf,
	#[command(flatten)]
	net: NetArgs,
	#[command(flatten)]
	torch: TorchArgs,
	#[arg(long, default_value_t = 10)]
	epochs: u64,
	#[command(flatten)]
	step: StepArgs,
	#[command(flatten)]
	diloco: DilocoArgs,
	/// Most re-formations of the group before giving up.
	#[arg(long, default_value_t = 10)]
	max_reforms: u32,
	/// Train on examples FIRST..FIRST+LEN only, `--batch` of them per inner step (DiLoCo), as a
	/// chain job's member does on its task's shard.
	#[arg(long, value_parser = parse_shard)]
	shard: Option<Shard>,
	/// The ring's order: every member's peer id, repeated in order (a chain job's task order);
	/// by default the ring is ordered by peer id.
	#[arg(long = "ring")]
	ring: Vec<PeerId>,
	/// Write the final report (JSON) here too.
	#[arg(long)]
	report: Option<PathBuf>,
}

/// `FIRST:LEN`.
fn parse_shard(s: &str) -> Result<Shard, String> {
	let (first, len) = s.split_once(':').ok_or("expected FIRST:LEN")?;
	let first = first.parse().map_err(|e| format!("FIRST: {e}"))?;
	let len = len.parse().map_err(|e| format!("LEN: {e}"))?;
	if len == 0 {
		return Err("LEN must be at least 1".into());
	}
	Ok(Shard { first, len })
}

pub async fn run(a: TrainArgs) -> anyhow::Result<()> {
	let device = a.torch.init()?;
	let kernel = KernelDir::open(&a.kernel)?;
	let (train, test) = (kernel.train()?, kernel.test()?);
	let mut cfg = a.step.config(a.epochs, Some(&a.diloco), a.max_reforms);
	if let Some(shard) = a.shard {
		if cfg.mode != Mode::Diloco {
			bail!("--shard trains DiLoCo on a shard: it needs --mode diloco");
		}
		let examples = train.examples(kernel.manifest.context).max(0) as u64;
		if shard.first.saturating_add(shard.len) > examples {
			bail!(
				"--shard {}:{} is outside the training set's {examples} examples",
				shard.first,
				shard.len
			);
		}
	}
	cfg.shard = a.shard;
	cfg.ring = a.ring;
	tch::manual_seed(kernel.manifest.record.environment.seed as i64);
	let model = Model::load(kernel.manifest.clone(), &kernel.archive, device)?;
	// Everything read and checked: now the store (peers fetch the kernel and data by CID).
	let store = ContentStore::open(&a.store)?;
	store.put(&kernel.archive)?;
	store.put_file(a.kernel.join(dir::TRAIN))?;
	store.put_file(a.kernel.join(dir::TEST))?;
	let node = a.net.start(Some(store.clone())).await?;
	let metrics = Metrics::new();
	if let Some(addr) = a.net.metrics {
		let at = metrics.clone().serve(addr).await?;
		tracing::info!(%at, "metrics");
	}
	let collective = Collective::start(
		node.net.clone(),
		node.allreduce,
		CollectiveConfig {
			chunk_bytes: a.net.chunk_kib as usize * 1024,
			stall_timeout: std::time::Duration::from_secs(a.net.stall_timeout),
			..CollectiveConfig::default()
		},
	);
	let trainer = Trainer {
		learner: TorchLearner { model, train, test: Some(test) },
		cfg,
		store,
		membership: Membership::start(node.net, node.group),
		collective,
		runtime: tokio::runtime::Handle::current(),
		metrics,
		on_epoch: Box::new(|record| {
			let _ = Output::Epoch { record }.print();
		}),
		regroup: Regroup::Shrink,
		known: Default::default(),
	};
	let peers = node.peers;
	let report = tokio::task::spawn_blocking(move || trainer.run(peers)).await??;
	Output::Done { report: &report }.print()?;
	if let Some(path) = a.report {
		std::fs::write(&path, serde_json::to_vec_pretty(&report)?)?;
	}
	Ok(())
}
