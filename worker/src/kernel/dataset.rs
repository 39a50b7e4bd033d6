//! Training and input data: labelled rows, or a token stream cut into next-token windows, read
//! from safetensors blobs.

use crate::{
	checkpoint,
	error::{bail, Context, Result},
};
use tch::{Device, Kind, Tensor};

/// Training or evaluation data.
pub enum Dataset {
	/// Inputs and class labels.
	Labelled {
		/// Inputs [N, …].
		x: Tensor,
		/// Labels [N].
		y: Tensor,
	},
	/// A token stream.
	Tokens(Tensor),
}

impl Dataset {
	/// Reads a dataset file.
	pub fn read(path: &std::path::Path) -> Result<Self> {
		let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
		Self::from_bytes(&bytes).with_context(|| format!("dataset {}", path.display()))
	}

	/// Reads a dataset blob (safetensors with `x` and `y`, or `tokens`).
	pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
		let (tensors, _) = checkpoint::decode(bytes)?;
		let get = |k: &str| tensors.iter().find(|(n, _)| n == k).map(|(_, t)| t.shallow_clone());
		match (get("x"), get("y"), get("tokens")) {
			(Some(x), Some(y), _) => {
				if x.size()[0] != y.size()[0] {
					bail!("dataset has {} inputs but {} labels", x.size()[0], y.size()[0]);
				}
				Ok(Dataset::Labelled { x, y })
			}
			(_, _, Some(tokens)) => Ok(Dataset::Tokens(tokens)),
			_ => bail!("dataset has neither x and y nor tokens"),
		}
	}

	/// Number of training examples (rows, or token windows of `context`).
	pub fn examples(&self, context: Option<i64>) -> i64 {
		match self {
			Dataset::Labelled { y, .. } => y.size()[0],
			Dataset::Tokens(t) => (t.size()[0] - 1) / context.unwrap_or(1).max(1),
		}
	}

	/// Next-token windows: inputs [W, T] and targets shifted by one; `index` picks windows.
	pub fn windows(&self, context: i64, index: Option<&[i64]>) -> Result<(Tensor, Tensor)> {
		let Dataset::Tokens(t) = self else { bail!("not a token dataset") };
		let w = (t.size()[0] - 1) / context;
		let picks: Vec<i64> = index.map(<[i64]>::to_vec).unwrap_or_else(|| (0..w).collect());
		let starts = Tensor::from_slice(&picks) * context;
		let offsets = Tensor::arange(context, (Kind::Int64, Device::Cpu));
		let idx = starts.unsqueeze(1) + offsets.unsqueeze(0);
		Ok((
			t.index_select(0, &idx.view([-1])).view([-1, context]),
			t.index_select(0, &(idx + 1).view([-1])).view([-1, context]),
		))
	}

	/// The examples at `index` as (input, target).
	pub fn batch(&self, index: &[i64], context: Option<i64>) -> Result<(Tensor, Tensor)> {
		match self {
			Dataset::Labelled { x, y } => {
				let i = Tensor::from_slice(index);
				Ok((x.index_select(0, &i), y.index_select(0, &i)))
			}
			Dataset::Tokens(_) => {
				self.windows(context.context("token data needs a context")?, Some(index))
			}
		}
	}
}
