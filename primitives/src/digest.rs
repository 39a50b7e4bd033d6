//! Result digests: what a committee member computes from a task's outputs and reveals, by the
//! kernel's [`AggregationRule`], and the digest of one training step that a member's epoch
//! commitment (a [`crate::merkle`] root) is built from. One definition, used by the
//! proof-of-compute pallet, `verity-worker` and the tests; the vectors in
//! `tests/vectors/digests.json` (written by `scripts/gen-digest-vectors.py`, an independent
//! implementation in Python) fix every rule.
//!
//! # Outputs
//!
//! A task's outputs are the kernel's output tensors in order, each with its dimensions and its
//! values as IEEE-754 `f32`, row-major (outputs of another dtype are converted to `f32` first).
//!
//! # `ExactDigest` and `QuantisedDigest`
//!
//! ```text
//! digest = sha2-256( "verity/output/v1"             16 bytes, ASCII
//!                  ‖ kind                            1 byte: 1 exact, 2 quantised
//!                  ‖ decimals                        1 byte: 0 for exact
//!                  ‖ tensors                         1 byte: number of output tensors
//!                  ‖ for each tensor:
//!                      ndim                          1 byte
//!                    ‖ dims                          u64 little endian each
//!                    ‖ values )                      exact: f32 bits, 4 bytes LE each;
//!                                                    quantised: quantise(x, decimals), i64 LE each
//! ```
//!
//! [`quantise`]`(x, d)` is the real value `x · 10^d` rounded half to even to an integer — exactly,
//! computed in integers from the float's bits (no floating-point arithmetic, so every
//! implementation agrees) — saturated to `±(2^63 − 1)`; `±∞` saturate; NaN becomes `i64::MIN`,
//! which no number reaches.
//!
//! # `NumericTolerance { len, .. }`
//!
//! The member reveals a summary vector of `len` values ([`summary`]): the outputs' values, all
//! tensors concatenated in order (`n` in all), are cut into `len` contiguous segments, segment
//! `i` holding values `⌊i·n/len⌋ .. ⌊(i+1)·n/len⌋`; each segment's value is the mean of its values
//! in units of 10^-9 (each value [`quantise`]d to 9 decimals, the sum divided by the count,
//! rounded half to even, saturated to i64), `0` for an empty segment. The digest is
//! [`summary_digest`]: sha2-256 of the values as i64 little endian, in order, which the chain
//! checks against the revealed vector.
//!
//! # Training steps
//!
//! [`step_digest`]: sha2-256(`"verity/grad/v1"` ‖ step u64 LE ‖ count u64 LE ‖ values f32 LE) of
//! a member's local gradient at a global step, flattened in the archive's parameter order. An
//! epoch's commitment is the [`crate::merkle::merkle_root`] of its step digests in step order.

use alloc::vec::Vec;
use polkadot_sdk::sp_core::H256;
use sha2::{Digest, Sha256};

use crate::kernel::AggregationRule;

/// Domain tag of output digests.
pub const OUTPUT_PREFIX: &[u8; 16] = b"verity/output/v1";
/// Domain tag of training-step digests.
pub const STEP_PREFIX: &[u8; 14] = b"verity/grad/v1";
/// Decimal places of a summary vector's fixed point (units of 10^-9).
pub const SUMMARY_DECIMALS: u8 = 9;

/// One output tensor: dimensions and row-major values.
#[derive(Clone, Copy, Debug)]
pub struct Output<'a> {
	/// Dimensions, outermost first.
	pub dims: &'a [u64],
	/// The values, `dims.iter().product()` of them.
	pub values: &'a [f32],
}

/// Why outputs cannot be digested.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DigestError {
	/// The rule's parameters are out of their bounds ([`AggregationRule::is_valid`]).
	InvalidRule,
	/// More than 255 output tensors.
	TooManyTensors,
	/// A tensor with more than 255 dimensions.
	TooManyDims,
	/// A tensor whose value count is not the product of its dimensions.
	ShapeMismatch {
		/// Which output tensor.
		tensor: usize,
	},
}

impl core::fmt::Display for DigestError {
	fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
		match self {
			DigestError::InvalidRule => f.write_str("aggregation rule out of bounds"),
			DigestError::TooManyTensors => f.write_str("more than 255 output tensors"),
			DigestError::TooManyDims => f.write_str("an output tensor with more than 255 dims"),
			DigestError::ShapeMismatch { tensor } => {
				write!(f, "output tensor {tensor}: value count is not the product of its dims")
			}
		}
	}
}

/// What a member reveals for a task: the digest, and for `NumericTolerance` the summary vector
/// the digest is taken of (empty for the digest rules).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ResultDigest {
	/// The digest committed to and revealed.
	pub digest: H256,
	/// The summary vector (`NumericTolerance` only).
	pub summary: Vec<i64>,
}

/// The digest of `outputs` under `rule` (see the module docs).
pub fn result_digest(
	rule: &AggregationRule,
	outputs: &[Output<'_>],
) -> Result<ResultDigest, DigestError> {
	if !rule.is_valid() {
		return Err(DigestError::InvalidRule);
	}
	let tensors = u8::try_from(outputs.len()).map_err(|_| DigestError::TooManyTensors)?;
	for (tensor, out) in outputs.iter().enumerate() {
		if out.dims.len() > usize::from(u8::MAX) {
			return Err(DigestError::TooManyDims);
		}
		let count = out.dims.iter().try_fold(1u64, |acc, d| acc.checked_mul(*d));
		if count != Some(out.values.len() as u64) {
			return Err(DigestError::ShapeMismatch { tensor });
		}
	}
	let (kind, decimals) = match *rule {
		AggregationRule::ExactDigest => (1u8, 0u8),
		AggregationRule::QuantisedDigest { decimals } => (2, decimals),
		AggregationRule::NumericTolerance { len, .. } => {
			let summary = summary(outputs, len);
			return Ok(ResultDigest { digest: summary_digest(&summary), summary });
		}
	};
	let mut h = Sha256::new();
	h.update(OUTPUT_PREFIX);
	h.update([kind, decimals, tensors]);
	let mut buf = Vec::with_capacity(8 * 4096);
	for out in outputs {
		h.update([out.dims.len() as u8]);
		for d in out.dims {
			h.update(d.to_le_bytes());
		}
		for values in out.values.chunks(4096) {
			buf.clear();
			for v in values {
				if kind == 1 {
					buf.extend_from_slice(&v.to_bits().to_le_bytes());
				} else {
					buf.extend_from_slice(&quantise(*v, decimals).to_le_bytes());
				}
			}
			h.update(&buf);
		}
	}
	Ok(ResultDigest { digest: H256(h.finalize().into()), summary: Vec::new() })
}

/// `x · 10^decimals` rounded half to even to an integer, exactly (integer arithmetic on the
/// float's bits), saturated to `±(2^63 − 1)`; NaN gives `i64::MIN`.
pub fn quantise(x: f32, decimals: u8) -> i64 {
	let bits = x.to_bits();
	let negative = bits >> 31 == 1;
	let exponent = (bits >> 23) & 0xff;
	let fraction = u128::from(bits & 0x7f_ffff);
	if exponent == 0xff {
		return match (fraction != 0, negative) {
			(true, _) => i64::MIN,
			(false, false) => i64::MAX,
			(false, true) => -i64::MAX,
		};
	}
	// |x| = mantissa · 2^shift exactly.
	let (mantissa, shift) = if exponent == 0 {
		(fraction, -149i32)
	} else {
		(fraction | 0x80_0000, exponent as i32 - 150)
	};
	// mantissa < 2^24 and 10^decimals ≤ 10^38; past 10^25 every non-zero value saturates anyway.
	let product = 10u128
		.checked_pow(u32::from(decimals))
		.and_then(|scale| mantissa.checked_mul(scale))
		.unwrap_or(u128::MAX);
	let magnitude = if product == 0 {
		0
	} else if shift >= 0 {
		let shift = shift.unsigned_abs();
		if shift >= product.leading_zeros() {
			u128::MAX
		} else {
			product << shift
		}
	} else {
		let shift = shift.unsigned_abs();
		if shift >= 128 {
			// product < 2^127 = half of 2^128: rounds to zero.
			0
		} else {
			let quotient = product >> shift;
			let rest = product & ((1u128 << shift) - 1);
			let half = 1u128 << (shift - 1);
			if rest > half || (rest == half && quotient & 1 == 1) {
				quotient + 1
			} else {
				quotient
			}
		}
	};
	let magnitude = i64::try_from(magnitude).unwrap_or(i64::MAX);
	if negative {
		-magnitude
	} else {
		magnitude
	}
}

/// `numerator / denominator` (denominator > 0) rounded half to even.
fn div_round_half_even(numerator: i128, denominator: i128) -> i128 {
	let quotient = numerator.div_euclid(denominator);
	let rest = numerator.rem_euclid(denominator);
	let twice = rest.saturating_mul(2);
	if twice > denominator || (twice == denominator && quotient.rem_euclid(2) == 1) {
		quotient.saturating_add(1)
	} else {
		quotient
	}
}

/// The `len` segment means of the outputs' values, in units of 10^-9 (see the module docs).
pub fn summary(outputs: &[Output<'_>], len: u16) -> Vec<i64> {
	let n = outputs.iter().map(|o| o.values.len() as u128).sum::<u128>();
	let len_wide = u128::from(len).max(1);
	let mut values = outputs.iter().flat_map(|o| o.values.iter());
	let mut at = 0u128;
	(0..u128::from(len))
		.map(|i| {
			let end = i.saturating_add(1).saturating_mul(n) / len_wide;
			let (mut sum, mut count) = (0i128, 0i128);
			while at < end {
				let Some(v) = values.next() else { break };
				sum = sum.saturating_add(i128::from(quantise(*v, SUMMARY_DECIMALS)));
				count = count.saturating_add(1);
				at = at.saturating_add(1);
			}
			if count == 0 {
				0
			} else {
				let mean = div_round_half_even(sum, count);
				i64::try_from(mean).unwrap_or(if mean < 0 { i64::MIN } else { i64::MAX })
			}
		})
		.collect()
}

/// The digest of a summary vector: sha2-256 of its values as little-endian `i64`, in order.
pub fn summary_digest(values: &[i64]) -> H256 {
	let mut h = Sha256::new();
	for v in values {
		h.update(v.to_le_bytes());
	}
	H256(h.finalize().into())
}

/// The digest of a member's local gradient at global `step` (a leaf of its epoch's Merkle tree).
pub fn step_digest(step: u64, gradient: &[f32]) -> H256 {
	let mut h = Sha256::new();
	h.update(STEP_PREFIX);
	h.update(step.to_le_bytes());
	h.update((gradient.len() as u64).to_le_bytes());
	for values in gradient.chunks(4096) {
		let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_bits().to_le_bytes()).collect();
		h.update(&bytes);
	}
	H256(h.finalize().into())
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::{commit::commitment, merkle};
	use serde_json::Value;

	/// `tests/vectors/digests.json`, written by `scripts/gen-digest-vectors.py`.
	pub(crate) fn vectors() -> Value {
		serde_json::from_str(include_str!("../../tests/vectors/digests.json")).unwrap()
	}

	fn h256(v: &Value) -> H256 {
		H256::from_slice(&hex::decode(v.as_str().unwrap().trim_start_matches("0x")).unwrap())
	}

	fn rule(v: &Value) -> AggregationRule {
		match v["kind"].as_str().unwrap() {
			"exact_digest" => AggregationRule::ExactDigest,
			"quantised_digest" => {
				AggregationRule::QuantisedDigest { decimals: v["decimals"].as_u64().unwrap() as u8 }
			}
			"numeric_tolerance" => AggregationRule::NumericTolerance {
				len: v["len"].as_u64().unwrap() as u16,
				abs_tolerance: v["abs_tolerance"].as_u64().unwrap(),
				rel_tolerance_ppm: v["rel_tolerance_ppm"].as_u64().unwrap() as u32,
			},
			other => panic!("unknown rule {other}"),
		}
	}

	fn tensors(v: &Value) -> Vec<(Vec<u64>, Vec<f32>)> {
		v.as_array()
			.unwrap()
			.iter()
			.map(|t| {
				let dims = t["dims"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap());
				let values = t["values"].as_array().unwrap().iter();
				(
					dims.collect(),
					values.map(|b| f32::from_bits(b.as_u64().unwrap() as u32)).collect(),
				)
			})
			.collect()
	}

	fn digest_of(rule: &AggregationRule, t: &[(Vec<u64>, Vec<f32>)]) -> ResultDigest {
		let outputs: Vec<Output> = t.iter().map(|(dims, values)| Output { dims, values }).collect();
		result_digest(rule, &outputs).unwrap()
	}

	#[test]
	fn quantise_matches_the_vectors() {
		let v = vectors();
		let cases = v["quantise"].as_array().unwrap();
		assert!(cases.len() > 300);
		for case in cases {
			let bits = case["bits"].as_u64().unwrap() as u32;
			let decimals = case["decimals"].as_u64().unwrap() as u8;
			let want: i64 = case["value"].as_str().unwrap().parse().unwrap();
			assert_eq!(
				quantise(f32::from_bits(bits), decimals),
				want,
				"bits {bits:#x} d {decimals}"
			);
		}
	}

	#[test]
	fn quantise_rounds_half_to_even_exactly() {
		assert_eq!(quantise(0.5, 0), 0);
		assert_eq!(quantise(1.5, 0), 2);
		assert_eq!(quantise(2.5, 0), 2);
		assert_eq!(quantise(-2.5, 0), -2);
		// 0.125 is exact in binary: 1.25 at one decimal, a tie, to even.
		assert_eq!(quantise(0.125, 2), 12);
		assert_eq!(quantise(0.375, 2), 38);
		// 0.0015 as f32 is 0.00150000001303851604…: not a tie, rounds up.
		assert_eq!(quantise(0.0015, 3), 2);
		assert_eq!(quantise(f32::MAX, 0), i64::MAX);
		assert_eq!(quantise(f32::NEG_INFINITY, 3), -i64::MAX);
		assert_eq!(quantise(f32::NAN, 3), i64::MIN);
		assert_eq!(quantise(-0.0, 3), 0);
		assert_eq!(quantise(f32::from_bits(1), 12), 0);
	}

	#[test]
	fn output_digests_match_the_vectors() {
		let v = vectors();
		for case in v["outputs"].as_array().unwrap() {
			let got = digest_of(&rule(&case["rule"]), &tensors(&case["outputs"]));
			assert_eq!(got.digest, h256(&case["digest"]), "{}", case["rule"]);
			assert!(got.summary.is_empty());
		}
	}

	#[test]
	fn summaries_match_the_vectors() {
		let v = vectors();
		for case in v["summaries"].as_array().unwrap() {
			let got = digest_of(&rule(&case["rule"]), &tensors(&case["outputs"]));
			let want: Vec<i64> = case["summary"]
				.as_array()
				.unwrap()
				.iter()
				.map(|s| s.as_str().unwrap().parse().unwrap())
				.collect();
			assert_eq!(got.summary, want);
			assert_eq!(got.digest, h256(&case["digest"]));
			assert_eq!(got.digest, summary_digest(&want));
		}
	}

	#[test]
	fn commitments_match_the_vectors() {
		let v = vectors();
		for case in v["commitments"].as_array().unwrap() {
			let member: [u8; 32] = h256(&case["member"]).0;
			let round: u64 = case["round"].as_str().unwrap().parse().unwrap();
			let got = commitment(round, &h256(&case["digest"]), &h256(&case["nonce"]), &member);
			assert_eq!(got, h256(&case["commitment"]));
		}
	}

	#[test]
	fn merkle_trees_match_the_vectors() {
		let v = vectors();
		for case in v["merkle"].as_array().unwrap() {
			let items: Vec<H256> = case["items"].as_array().unwrap().iter().map(h256).collect();
			let root = merkle::merkle_root(&items);
			assert_eq!(root, h256(&case["root"]));
			for (i, proof) in case["proofs"].as_array().unwrap().iter().enumerate() {
				let proof: Vec<H256> = proof.as_array().unwrap().iter().map(h256).collect();
				assert_eq!(merkle::merkle_proof(&items, i).unwrap(), proof);
				let n = items.len() as u64;
				assert!(merkle::verify_merkle_proof(&root, n, i as u64, &items[i], &proof));
			}
		}
	}

	#[test]
	fn step_digests_match_the_vectors() {
		let v = vectors();
		for case in v["steps"].as_array().unwrap() {
			let step: u64 = case["step"].as_str().unwrap().parse().unwrap();
			let grad: Vec<f32> = case["gradient"]
				.as_array()
				.unwrap()
				.iter()
				.map(|b| f32::from_bits(b.as_u64().unwrap() as u32))
				.collect();
			assert_eq!(step_digest(step, &grad), h256(&case["digest"]));
		}
	}

	#[test]
	fn bad_outputs_are_refused() {
		let values = [1.0f32, 2.0, 3.0];
		let ok = [Output { dims: &[3], values: &values }];
		let bad = [Output { dims: &[2, 2], values: &values }];
		let rule = AggregationRule::ExactDigest;
		assert!(result_digest(&rule, &ok).is_ok());
		assert_eq!(result_digest(&rule, &bad), Err(DigestError::ShapeMismatch { tensor: 0 }));
		let too_fine = AggregationRule::QuantisedDigest { decimals: 13 };
		assert_eq!(result_digest(&too_fine, &ok), Err(DigestError::InvalidRule));
		let overflow = [Output { dims: &[u64::MAX, 2], values: &values }];
		assert_eq!(result_digest(&rule, &overflow), Err(DigestError::ShapeMismatch { tensor: 0 }));
	}

	#[test]
	fn quantised_digest_ignores_changes_below_the_precision() {
		let rule = AggregationRule::QuantisedDigest { decimals: 3 };
		let a = [0.25f32, -1.0, 7.5];
		let b = [0.250_01f32, -1.000_02, 7.500_03];
		let c = [0.251f32, -1.0, 7.5];
		let d = |v: &[f32]| result_digest(&rule, &[Output { dims: &[3], values: v }]).unwrap();
		assert_eq!(d(&a), d(&b));
		assert_ne!(d(&a), d(&c));
	}
}
