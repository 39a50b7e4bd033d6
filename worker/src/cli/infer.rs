//! `verity-worker infer`: runs a kernel on inputs, stores the output, prints its CID and digest.

use super::args::TorchArgs;
use anyhow::Context;
use std::{num::NonZeroUsize, path::PathBuf};
use verity_worker::{
	infer,
	kernel::{Dataset, KernelDir, Model},
	output::Output,
	store::ContentStore,
};

#[derive(clap::Args)]
pub struct InferArgs {
	#[arg(long)]
	kernel: PathBuf,
	/// A checkpoint (file) whose parameters to use instead of the archive's.
	#[arg(long)]
	checkpoint: Option<PathBuf>,
	/// Inputs: safetensors with `x` (or `tokens`, cut into context windows).
	#[arg(long)]
	input: PathBuf,
	/// Rows per forward pass.
	#[arg(long, default_value = "256")]
	batch: NonZeroUsize,
	#[arg(long)]
	store: PathBuf,
	#[command(flatten)]
	torch: TorchArgs,
}

pub fn run(a: InferArgs) -> anyhow::Result<()> {
	let device = a.torch.init()?;
	let kernel = KernelDir::open(&a.kernel)?;
	let mut model = Model::load(kernel.manifest.clone(), &kernel.archive, device)?;
	if let Some(c) = &a.checkpoint {
		model.restore(&std::fs::read(c).with_context(|| format!("reading {}", c.display()))?)?;
	}
	let input_bytes =
		std::fs::read(&a.input).with_context(|| format!("reading {}", a.input.display()))?;
	let data = Dataset::from_bytes(&input_bytes)
		.with_context(|| format!("dataset {}", a.input.display()))?;
	let input = infer::input_of(&model, data)?;
	let done = infer::run(&mut model, &input, a.batch, "inference")?;
	// Computed and checked: now the store (the archive, the input and the output, by CID).
	let store = ContentStore::open(&a.store)?;
	store.put(&kernel.archive)?;
	store.put(&input_bytes)?;
	let output_cid = store.put(&done.blob)?;
	Output::Inference {
		output_cid,
		digest: done.digest.digest,
		summary: done.digest.summary,
		shape: done.output.size(),
	}
	.print()?;
	Ok(())
}
