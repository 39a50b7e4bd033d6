//! Digests of libtorch tensors by the specification in [`verity_primitives::digest`] (the one the
//! chain's proof-of-compute pallet aggregates): a task's output digest under its kernel's
//! aggregation rule, and a training step's gradient digest.

use crate::error::{invalid, Result};
use polkadot_sdk::sp_core::H256;
use tch::{Device, Kind, Tensor};
use verity_primitives::{
	digest::{self, Output, ResultDigest},
	kernel::AggregationRule,
};

/// The result digest of a kernel's output tensors under `rule`: the values as `f32` on the CPU,
/// row-major.
pub fn output_digest(outputs: &[&Tensor], rule: &AggregationRule) -> Result<ResultDigest> {
	let mut host: Vec<(Vec<u64>, Vec<f32>)> = Vec::with_capacity(outputs.len());
	for t in outputs {
		let t = t.to_device(Device::Cpu).to_kind(Kind::Float).contiguous();
		let dims = t.size().iter().map(|d| *d as u64).collect();
		host.push((dims, Vec::<f32>::try_from(&t.flatten(0, -1))?));
	}
	let views: Vec<Output> = host.iter().map(|(dims, values)| Output { dims, values }).collect();
	digest::result_digest(rule, &views).map_err(|e| invalid!("output digest: {e}"))
}

/// The digest of a member's local gradient at global `step`.
pub fn gradient_digest(step: u64, gradient: &[f32]) -> H256 {
	digest::step_digest(step, gradient)
}

#[cfg(test)]
mod tests {
	use super::*;
	use serde_json::Value;

	fn vectors() -> Value {
		serde_json::from_str(include_str!("../../tests/vectors/digests.json")).unwrap()
	}

	fn h256(v: &Value) -> H256 {
		H256::from_slice(&hex::decode(v.as_str().unwrap().trim_start_matches("0x")).unwrap())
	}

	/// The vectors' outputs as libtorch tensors of their shapes.
	fn tensors(v: &Value) -> Vec<Tensor> {
		v.as_array()
			.unwrap()
			.iter()
			.map(|t| {
				let dims: Vec<i64> =
					t["dims"].as_array().unwrap().iter().map(|d| d.as_i64().unwrap()).collect();
				let values: Vec<f32> = t["values"]
					.as_array()
					.unwrap()
					.iter()
					.map(|b| f32::from_bits(b.as_u64().unwrap() as u32))
					.collect();
				Tensor::from_slice(&values).view(dims.as_slice())
			})
			.collect()
	}

	#[test]
	fn digests_of_tensors_match_the_shared_vectors() {
		let v = vectors();
		for case in
			v["outputs"].as_array().unwrap().iter().chain(v["summaries"].as_array().unwrap())
		{
			let rule: AggregationRule = serde_json::from_value(case["rule"].clone()).unwrap();
			let ts = tensors(&case["outputs"]);
			let refs: Vec<&Tensor> = ts.iter().collect();
			let got = output_digest(&refs, &rule).unwrap();
			assert_eq!(got.digest, h256(&case["digest"]), "{}", case["rule"]);
			// Strided and double-precision views of the same values digest the same.
			let wide: Vec<Tensor> = ts.iter().map(|t| t.to_kind(Kind::Double)).collect();
			let wide: Vec<&Tensor> = wide.iter().collect();
			assert_eq!(output_digest(&wide, &rule).unwrap(), got);
		}
		for case in v["steps"].as_array().unwrap() {
			let grad: Vec<f32> = case["gradient"]
				.as_array()
				.unwrap()
				.iter()
				.map(|b| f32::from_bits(b.as_u64().unwrap() as u32))
				.collect();
			let step = case["step"].as_str().unwrap().parse().unwrap();
			assert_eq!(gradient_digest(step, &grad), h256(&case["digest"]));
		}
	}

	#[test]
	fn a_transposed_output_is_digested_in_its_logical_order() {
		let t = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]).view([2, 3]);
		let rule = AggregationRule::ExactDigest;
		let transposed = t.tr();
		let copy = transposed.contiguous();
		assert_eq!(
			output_digest(&[&transposed], &rule).unwrap(),
			output_digest(&[&copy], &rule).unwrap()
		);
		assert_ne!(output_digest(&[&t], &rule).unwrap(), output_digest(&[&copy], &rule).unwrap());
	}
}
