//! What `verity-worker` prints on stdout: one JSON object per line, each an [`Output`] tagged by
//! its `event` field, so scripts and tests parse typed fields (CIDs as text, digests as
//! `0x`-prefixed hex), never `Debug` renderings.

use crate::{
	bench::{AllReduceFigure, CipherFigure, HwReport, MemberFigure, StepFigure},
	train::{EpochRecord, TrainReport},
};
use polkadot_sdk::sp_core::H256;
use serde::Serialize;
use std::io::Write;
use verity_primitives::{cid::Cid, kernel::KernelId};

/// One line of output.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Output<'a> {
	/// A training epoch finished.
	Epoch {
		/// What it produced.
		record: &'a EpochRecord,
	},
	/// Training finished.
	Done {
		/// The whole run.
		report: &'a TrainReport,
	},
	/// An inference finished.
	Inference {
		/// The stored output blob.
		output_cid: Cid,
		/// Its digest by the kernel's rule (what a committee member commits to).
		digest: H256,
		/// The summary vector (numeric-tolerance kernels; empty otherwise).
		summary: Vec<i64>,
		/// The output's shape.
		shape: Vec<i64>,
	},
	/// A training step was replayed.
	Replay {
		/// The global step.
		step: u64,
		/// The member replayed.
		rank: usize,
		/// Its gradient digest.
		digest: H256,
		/// DiLoCo: the step's leaf in the member's step chain (`crate::steps`), what an audit
		/// compares; the state the replay started the step from is its first link.
		#[serde(skip_serializing_if = "Option::is_none")]
		leaf: Option<H256>,
	},
	/// A kernel directory's record, as the chain will store it.
	Kernel {
		/// Its id on chain when `--owner` registers it (`KernelSpec::id`).
		id: KernelId,
		/// The archive CID.
		archive: Cid,
		/// The record's SCALE encoding, hex (what `aivmRegistry.kernels(id).spec` holds).
		encoded: String,
	},
	/// A kernel's new version, written by `export` from a training checkpoint.
	Exported {
		/// The new version's id on chain.
		id: KernelId,
		/// Its archive CID.
		archive: Cid,
		/// The kernel it supersedes.
		supersedes: KernelId,
		/// The checkpoint whose parameters it carries.
		checkpoint: Cid,
		/// Its record's SCALE encoding, hex (what `aivmRegistry.registerKernel` takes).
		encoded: String,
	},
	/// A trained kernel version's lineage, read from the chain and checked (`lineage`).
	Lineage(&'a crate::provider::lineage::Lineage),
	/// `bench-hw`.
	BenchHw(&'a HwReport),
	/// One `bench-allreduce` size.
	BenchAllreduce(&'a AllReduceFigure),
	/// `bench-allreduce-member`: one member's rounds.
	BenchAllreduceMember(&'a MemberFigure),
	/// `bench-step`.
	BenchStep(&'a StepFigure),
	/// One `bench-cipher` line.
	BenchCipher(&'a CipherFigure),
}

impl Output<'_> {
	/// Prints the line and flushes (a reader may be waiting for it).
	pub fn print(&self) -> std::io::Result<()> {
		let mut out = std::io::stdout().lock();
		serde_json::to_writer(&mut out, self)?;
		writeln!(out)?;
		out.flush()
	}
}
