//! `verity-worker replay-step`: re-executes one member's training step (an audit).

use super::args::{StepArgs, TorchArgs};
use anyhow::{bail, Context};
use std::path::PathBuf;
use verity_worker::{
	kernel::{KernelDir, Model},
	output::Output,
	train::{self, Learner, TorchLearner},
};

#[derive(clap::Args)]
pub struct ReplayArgs {
	#[arg(long)]
	kernel: PathBuf,
	/// Checkpoint file: the state before the step (sync), or at the start of the outer round or a
	/// step-chain state of the round (DiLoCo).
	#[arg(long)]
	checkpoint: PathBuf,
	/// Global step number to re-execute.
	#[arg(long)]
	step: u64,
	/// DiLoCo: the first step of the outer round the checkpoint starts.
	#[arg(long)]
	from_step: Option<u64>,
	#[arg(long)]
	rank: usize,
	#[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
	group_size: u64,
	#[command(flatten)]
	train: StepArgs,
	#[command(flatten)]
	torch: TorchArgs,
}

pub fn run(a: ReplayArgs) -> anyhow::Result<()> {
	let group_size = a.group_size as usize;
	if a.rank >= group_size {
		bail!("--rank {} is not below --group-size {group_size}", a.rank);
	}
	let device = a.torch.init()?;
	let kernel = KernelDir::open(&a.kernel)?;
	let model = Model::load(kernel.manifest.clone(), &kernel.archive, device)?;
	let mut learner = TorchLearner { model, train: kernel.train()?, test: None };
	let checkpoint = std::fs::read(&a.checkpoint)
		.with_context(|| format!("reading {}", a.checkpoint.display()))?;
	learner.restore(&checkpoint)?;
	let cfg = a.train.config(0, None, 0);
	let from = a.from_step.unwrap_or(a.step);
	let (digest, leaf) = train::replay_step(&mut learner, &cfg, from, a.step, a.rank, group_size)?;
	Output::Replay { step: a.step, rank: a.rank, digest, leaf }.print()?;
	Ok(())
}
