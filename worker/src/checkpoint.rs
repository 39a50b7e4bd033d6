//! The checkpoint and blob format: safetensors (tensors in the format's own canonical order,
//! metadata as strings in one sorted JSON entry), so the same state always has the same bytes and
//! the same CID, and `safetensors.torch.load_file` reads it. Checkpoints, datasets and inference
//! outputs are all stored this way.

use crate::error::{bail, Context, Result};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::{BTreeMap, HashMap};
use tch::{Device, Kind, Tensor};

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
pub fn encode(tensors: &[(String, Tensor)], meta: BTreeMap<String, String>) -> Result<Vec<u8>> {
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
pub fn decode(bytes: &[u8]) -> Result<(Vec<(String, Tensor)>, BTreeMap<String, String>)> {
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
		let bytes = encode(&t, meta.clone()).unwrap();
		assert_eq!(bytes, encode(&t, meta).unwrap());
		let (back, m) = decode(&bytes).unwrap();
		assert_eq!(m.get("step").map(String::as_str), Some("3"));
		assert_eq!(back[0].0, "a");
		assert_eq!(Vec::<i64>::try_from(&back[0].1).unwrap(), vec![3, 4, 5]);
		assert!(decode(b"garbage").is_err());
	}
}
