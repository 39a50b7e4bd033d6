//! The inference pipeline, shared by `verity-worker infer` and (next) the provider daemon's tasks
//! and inference server: check the input against the kernel record's input spec, run the kernel
//! in batches, check the output against the output spec, digest it by the record's aggregation
//! rule, and encode it as a content-addressed blob.

use crate::{
	checkpoint, digest,
	error::{bail, Result},
	kernel::{Dataset, Model, Task},
};
use std::num::NonZeroUsize;
use tch::{Kind, Tensor};
use verity_primitives::{digest::ResultDigest, kernel::DType};

/// A finished inference.
pub struct Inference {
	/// The output tensor, on the CPU.
	pub output: Tensor,
	/// Its digest (and summary vector) under the kernel's rule.
	pub digest: ResultDigest,
	/// The output as a safetensors blob (one tensor, `output`): what is stored under its CID.
	pub blob: Vec<u8>,
}

/// The kernel's element type of a libtorch kind, if it has one.
pub fn dtype_of(kind: Kind) -> Option<DType> {
	Some(match kind {
		Kind::Float => DType::F32,
		Kind::Half => DType::F16,
		Kind::BFloat16 => DType::BF16,
		Kind::Double => DType::F64,
		Kind::Int64 => DType::I64,
		Kind::Int => DType::I32,
		Kind::Uint8 => DType::U8,
		_ => return None,
	})
}

/// The kernel's input tensor from a dataset: its rows `x` (classification), or its token stream
/// cut into context windows (next-token).
pub fn input_of(model: &Model, data: Dataset) -> Result<Tensor> {
	match (model.manifest.task, data) {
		(Task::Classification, Dataset::Labelled { x, .. }) => Ok(x),
		(Task::NextToken, data @ Dataset::Tokens(_)) => Ok(data.windows(model.context()?, None)?.0),
		(task, _) => bail!("input data does not fit a {task:?} kernel"),
	}
}

fn check(what: &str, t: &Tensor, spec: &verity_primitives::kernel::TensorSpec) -> Result<()> {
	let dims: Vec<u64> = t.size().iter().map(|d| *d as u64).collect();
	match dtype_of(t.kind()) {
		Some(dtype) if spec.accepts(dtype, &dims) => Ok(()),
		_ => bail!(
			"{what} is {:?} {:?}; the kernel record declares {:?} {:?} (0 = any size)",
			t.kind(),
			t.size(),
			spec.dtype,
			spec.shape.as_slice()
		),
	}
}

/// Runs `model` over `input` in batches of `batch` rows (see the module docs); `what` labels the
/// progress bar a terminal shows.
pub fn run(
	model: &mut Model,
	input: &Tensor,
	batch: NonZeroUsize,
	what: &str,
) -> Result<Inference> {
	let record = &model.manifest.record;
	let (input_spec, output_spec) = match (record.inputs.first(), record.outputs.first()) {
		(Some(i), Some(o)) => (i.clone(), o.clone()),
		_ => bail!("the kernel record declares no input or no output"),
	};
	check("the input", input, &input_spec)?;
	let rule = record.rule;
	let bar = crate::progress::bar(input.size().first().copied().unwrap_or(0) as u64, what);
	let output = model.infer_with(input, batch.get() as i64, |rows| bar.inc(rows))?;
	bar.finish_and_clear();
	check("the kernel's output", &output, &output_spec)?;
	let digest = digest::output_digest(&[&output], &rule)?;
	let blob =
		checkpoint::encode(&[("output".into(), output.shallow_clone())], Default::default())?;
	Ok(Inference { output, digest, blob })
}
