//! Result digests, gradient digests and the checkpoint format.
//!
//! **Output digest** (what a committee member commits to; see the proof-of-compute pallet):
//! sha2-256 over
//! `"verity/output/v1" ‖ kind u8 ‖ fractional_bits u8 ‖ ndim u8 ‖ dims (u64 LE each) ‖ values`,
//! where kind 1 means raw f32 values (IEEE-754 bits, little-endian) and kind 2 means quantised
//! values: each f32 `x` becomes the i32 `round(x · 2^fractional_bits)` (half away from zero,
//! saturating; NaN becomes 0), little-endian. The kernel's aggregation rule picks the kind.
//!
//! **Gradient digest** of one training step of one member (a leaf of the epoch's Merkle tree that
//! the chain audits): sha2-256 over `"verity/grad/v1" ‖ step u64 LE ‖ count u64 LE ‖ f32 LE values`
//! of the member's local gradient, flattened in the archive's parameter order. The epoch root is
//! [`verity_primitives::voucher::merkle_root`] over the digests in step order.
//!
//! **Checkpoints** are safetensors files (tensors sorted by the format's own canonical order,
//! metadata as strings), so the same state always has the same bytes and the same CID, and
//! `safetensors.torch.load_file` reads them.

use crate::error::{bail, Context, Result};
use crate::kernel::Aggregation;
use polkadot_sdk::sp_core::H256;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use tch::{Device, Kind, Tensor};

/// Digest of a kernel's output tensor under its aggregation rule.
pub fn output_digest(output: &Tensor, rule: Aggregation) -> Result<H256> {
	let t = output.to_device(Device::Cpu).to_kind(Kind::Float).contiguous();
	let values = Vec::<f32>::try_from(&t.flatten(0, -1))?;
	let dims: Vec<i64> = t.size();
	let mut h = Sha256::new();
	h.update(b"verity/output/v1");
	let (kind, bits) = match rule {
		Aggregation::Exact => (1u8, 0u8),
		Aggregation::Quantised { fractional_bits } => (2u8, fractional_bits),
	};
	if bits > 30 {
		bail!("quantisation to {bits} fractional bits does not fit i32");
	}
	h.update([kind, bits, dims.len() as u8]);
	for d in &dims {
		h.update((*d as u64).to_le_bytes());
	}
	let scale = (1u64 << bits) as f32;
	let mut buf = Vec::with_capacity(values.len() * 4);
	for v in values {
		match kind {
			1 => buf.extend_from_slice(&v.to_le_bytes()),
			_ => buf.extend_from_slice(&quantise(v, scale).to_le_bytes()),
		}
	}
	h.update(&buf);
	Ok(H256(h.finalize().into()))
}

/// `round(x · scale)` as i32, half away from zero, saturating, NaN → 0.
pub fn quantise(x: f32, scale: f32) -> i32 {
	let y = (f64::from(x) * f64::from(scale)).round();
	if y.is_nan() {
		0
	} else {
		y.clamp(i32::MIN as f64, i32::MAX as f64) as i32
	}
}

/// Digest of a member's local gradient at `step`.
pub fn gradient_digest(step: u64, gradient: &[f32]) -> H256 {
	let mut h = Sha256::new();
	h.update(b"verity/grad/v1");
	h.update(step.to_le_bytes());
	h.update((gradient.len() as u64).to_le_bytes());
	let mut buf = Vec::with_capacity(gradient.len() * 4);
	for v in gradient {
		buf.extend_from_slice(&v.to_le_bytes());
	}
	h.update(&buf);
	H256(h.finalize().into())
}

fn dtype(kind: Kind) -> Result<Dtype> {
	Ok(match kind {
		Kind::Float => Dtype::F32,
		Kind::Double => Dtype::F64,
		Kind::Int64 => Dtype::I64,
		Kind::Int => Dtype::I32,
		Kind::Uint8 => Dtype::U8,
		other => bail!("tensor kind {other:?} is not stored in checkpoints"),
	})
}

fn kind(dtype: Dtype) -> Result<Kind> {
	Ok(match dtype {
		Dtype::F32 => Kind::Float,
		Dtype::F64 => Kind::Double,
		Dtype::I64 => Kind::Int64,
		Dtype::I32 => Kind::Int,
		Dtype::U8 => Kind::Uint8,
		other => bail!("safetensors dtype {other:?} is not supported"),
	})
}

/// Serialises CPU tensors with metadata as safetensors bytes. The metadata go into one header entry,
/// `verity`, holding a JSON object with sorted keys: the format's own metadata map is a hash map
/// whose order (and so whose bytes) would change from run to run.
pub fn to_safetensors(
	tensors: &[(String, Tensor)],
	meta: BTreeMap<String, String>,
) -> Result<Vec<u8>> {
	let meta = HashMap::from([("verity".to_string(), serde_json::to_string(&meta)?)]);
	let mut raw: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
	for (name, t) in tensors {
		let t = t.to_device(Device::Cpu).contiguous();
		let mut bytes = vec![0u8; t.numel() * t.kind().elt_size_in_bytes()];
		t.f_copy_data_u8(&mut bytes, t.numel())?;
		raw.push((
			name.clone(),
			dtype(t.kind())?,
			t.size().iter().map(|d| *d as usize).collect(),
			bytes,
		));
	}
	let views: BTreeMap<String, TensorView> = raw
		.iter()
		.map(|(n, d, s, b)| Ok((n.clone(), TensorView::new(*d, s.clone(), b)?)))
		.collect::<Result<_, safetensors::SafeTensorError>>()
		.map_err(|e| crate::error::invalid!("safetensors: {e:?}"))?;
	safetensors::tensor::serialize(views, &Some(meta))
		.map_err(|e| crate::error::invalid!("safetensors: {e:?}"))
}

/// Reads safetensors bytes into CPU tensors (sorted by name) and the metadata.
#[allow(clippy::type_complexity)]
pub fn from_safetensors(bytes: &[u8]) -> Result<(Vec<(String, Tensor)>, BTreeMap<String, String>)> {
	let st = SafeTensors::deserialize(bytes)
		.map_err(|e| crate::error::invalid!("not a safetensors file: {e:?}"))?;
	let (_, header) = SafeTensors::read_metadata(bytes)
		.map_err(|e| crate::error::invalid!("not a safetensors file: {e:?}"))?;
	let mut meta: BTreeMap<String, String> = BTreeMap::new();
	for (k, v) in header.metadata().clone().unwrap_or_default() {
		if k == "verity" {
			let inner: BTreeMap<String, String> = serde_json::from_str(&v)
				.context("checkpoint metadata `verity` is not a JSON object of strings")?;
			meta.extend(inner);
		} else {
			meta.insert(k, v);
		}
	}
	let mut out = Vec::new();
	for (name, view) in st.tensors() {
		let shape: Vec<i64> = view.shape().iter().map(|d| *d as i64).collect();
		let t = Tensor::f_from_data_size(view.data(), &shape, kind(view.dtype())?)
			.with_context(|| format!("tensor {name}"))?;
		out.push((name, t));
	}
	out.sort_by(|a, b| a.0.cmp(&b.0));
	Ok((out, meta))
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn quantisation_rounds_half_away_and_saturates() {
		assert_eq!(quantise(1.5 / 256.0, 256.0), 2);
		assert_eq!(quantise(-1.5 / 256.0, 256.0), -2);
		assert_eq!(quantise(1e30, 256.0), i32::MAX);
		assert_eq!(quantise(f32::NAN, 256.0), 0);
	}

	#[test]
	fn output_digest_changes_with_values_and_shape() {
		let a = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0]).view([2, 2]);
		let exact = Aggregation::Exact;
		let q = Aggregation::Quantised { fractional_bits: 8 };
		let d = output_digest(&a, exact).unwrap();
		assert_eq!(d, output_digest(&a.copy(), exact).unwrap());
		assert_ne!(d, output_digest(&a.view([4, 1]), exact).unwrap());
		assert_ne!(d, output_digest(&(&a + 1e-3), exact).unwrap());
		// Below the quantisation step the quantised digest does not change; above it, it does.
		assert_eq!(output_digest(&a, q).unwrap(), output_digest(&(&a + 1e-4), q).unwrap());
		assert_ne!(output_digest(&a, q).unwrap(), output_digest(&(&a + 1e-2), q).unwrap());
	}

	#[test]
	fn safetensors_round_trip_is_byte_stable() {
		let t = vec![
			("b".to_string(), Tensor::from_slice(&[1.0f32, 2.0])),
			("a".to_string(), Tensor::from_slice(&[3i64, 4, 5])),
		];
		let meta = BTreeMap::from([
			("step".to_string(), "3".to_string()),
			("epoch".to_string(), "1".to_string()),
			("kernel".to_string(), "k".to_string()),
		]);
		let bytes = to_safetensors(&t, meta.clone()).unwrap();
		assert_eq!(bytes, to_safetensors(&t, meta).unwrap());
		let (back, m) = from_safetensors(&bytes).unwrap();
		assert_eq!(m.get("step").map(String::as_str), Some("3"));
		assert_eq!(back[0].0, "a");
		assert_eq!(Vec::<i64>::try_from(&back[0].1).unwrap(), vec![3, 4, 5]);
		assert!(from_safetensors(b"garbage").is_err());
	}
}
