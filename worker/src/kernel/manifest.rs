//! A kernel's manifest, `kernel.json`: the chain's kernel record as it is registered
//! ([`KernelSpec`], defined once in `verity-primitives`), plus what the worker needs to feed the
//! archive and compute its loss (the [`Task`], a next-token kernel's context length). Unknown
//! fields are refused, so a manifest and the record the chain stores cannot drift apart.

use serde::{Deserialize, Serialize};
use verity_primitives::{
	cid::Cid,
	kernel::{DType, KernelSpec},
};

/// What a kernel's loss is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Task {
	/// Inputs `x` [B, …], labels `y` [B]; cross-entropy over the logits.
	Classification,
	/// Token windows [B, T]; cross-entropy of each position against the next token.
	NextToken,
}

/// A kernel's manifest (`kernel.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
	/// Human-readable name (shown in reports and benchmarks; not part of the record).
	pub name: String,
	/// How the archive's outputs become a loss, and how data is laid out.
	pub task: Task,
	/// Tokens per window of a next-token kernel.
	#[serde(default, skip_serializing_if = "Option::is_none")]
	pub context: Option<i64>,
	/// The characters a character-level kernel's token ids stand for, in id order.
	#[serde(default, skip_serializing_if = "Option::is_none")]
	pub vocab: Option<String>,
	/// The kernel record, exactly as the registry stores it.
	pub record: KernelSpec,
}

/// Why a manifest does not describe a kernel the worker can run.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
	/// Not JSON of a manifest.
	#[error("not a kernel manifest: {0}")]
	Json(#[from] serde_json::Error),
	/// A next-token kernel without a positive context length.
	#[error("a next-token kernel needs a positive `context`")]
	NoContext,
	/// The worker runs one input and one output tensor per kernel.
	#[error("the record declares {inputs} inputs and {outputs} outputs; the worker runs kernels with one of each")]
	Arity {
		/// Inputs declared.
		inputs: usize,
		/// Outputs declared.
		outputs: usize,
	},
	/// Archive bytes that are not the archive the record names.
	#[error("kernel archive {actual} is not the archive the manifest's record names ({named})")]
	WrongArchive {
		/// The CID of the bytes given.
		actual: Cid,
		/// The CID the record names.
		named: Cid,
	},
	/// A dtype the task cannot take.
	#[error("a {task:?} kernel takes {expected:?} input, the record declares {got:?}")]
	InputDType {
		/// The task.
		task: Task,
		/// What it takes.
		expected: DType,
		/// What the record says.
		got: DType,
	},
}

impl Manifest {
	/// Parses and checks `kernel.json`.
	pub fn from_json(bytes: &[u8]) -> Result<Self, ManifestError> {
		let manifest: Manifest = serde_json::from_slice(bytes)?;
		manifest.check()?;
		Ok(manifest)
	}

	/// The manifest of a kernel known only from its record on chain (a provider running a
	/// buyer's job): the task follows from the input's element type (f32 rows: classification;
	/// i64 token windows: next-token, the context being the input's second dimension).
	pub fn from_record(record: KernelSpec) -> Result<Self, ManifestError> {
		let input = record.inputs.first();
		let (task, context) = match input.map(|i| i.dtype) {
			Some(DType::I64) => {
				(Task::NextToken, input.and_then(|i| i.shape.get(1)).map(|c| i64::from(*c)))
			}
			_ => (Task::Classification, None),
		};
		let name = format!("kernel {}", hex::encode(&record.content_hash().as_bytes()[..8]));
		let manifest = Manifest { name, task, context, vocab: None, record };
		manifest.check()?;
		Ok(manifest)
	}

	/// Checks that `archive` is the archive the record names; returns its CID.
	pub fn check_archive(&self, archive: &[u8]) -> Result<Cid, ManifestError> {
		let actual = Cid::of_raw_bytes(archive);
		match actual == self.record.archive {
			true => Ok(actual),
			false => Err(ManifestError::WrongArchive { actual, named: self.record.archive }),
		}
	}

	/// Checks what serde cannot: the task's needs against the record.
	pub fn check(&self) -> Result<(), ManifestError> {
		let (inputs, outputs) = (self.record.inputs.len(), self.record.outputs.len());
		if inputs != 1 || outputs != 1 {
			return Err(ManifestError::Arity { inputs, outputs });
		}
		let expected = match self.task {
			Task::Classification => DType::F32,
			Task::NextToken => DType::I64,
		};
		let got = self.record.inputs[0].dtype;
		if got != expected {
			return Err(ManifestError::InputDType { task: self.task, expected, got });
		}
		if self.task == Task::NextToken && self.context.is_none_or(|c| c < 1) {
			return Err(ManifestError::NoContext);
		}
		Ok(())
	}
}
