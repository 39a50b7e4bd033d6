//! Pure parts of verification, testable without storage: committee draws and aggregation by
//! rule. The commitment and the digests are specified once in `verity-primitives`
//! ([`verity_primitives::commit`], [`verity_primitives::digest`]), shared with the worker.

use alloc::vec::Vec;
use codec::Encode;
use polkadot_sdk::sp_io::hashing::blake2_256;
use verity_primitives::kernel::AggregationRule;

use crate::types::Reveal;

pub use verity_primitives::{commit::commitment, digest::summary_digest};

/// A uniform pseudo-random number below `bound` (> 0) from `seed` and `index`.
pub fn pick(seed: &[u8; 32], index: u64, bound: u64) -> u64 {
	let h = blake2_256(&(seed, index).encode());
	let mut word = [0u8; 8];
	word.copy_from_slice(h.get(..8).unwrap_or(&[0; 8]));
	u64::from_le_bytes(word).checked_rem(bound).unwrap_or(0)
}

/// Draws `need` distinct members from `eligible` uniformly without replacement (a partial
/// Fisher–Yates shuffle keyed by `seed`); `None` if there are fewer than `need`.
pub fn draw<A: Clone>(mut eligible: Vec<A>, need: usize, seed: &[u8; 32]) -> Option<Vec<A>> {
	if eligible.len() < need {
		return None;
	}
	let n = eligible.len();
	for i in 0..need {
		let left = n.saturating_sub(i) as u64;
		let j = i.saturating_add(pick(seed, i as u64, left) as usize);
		eligible.swap(i, j);
	}
	eligible.truncate(need);
	Some(eligible)
}

/// Whether two summary vectors agree element-wise under the tolerance rule.
pub fn within(a: &[i64], b: &[i64], abs_tolerance: u64, rel_tolerance_ppm: u32) -> bool {
	a.len() == b.len()
		&& a.iter().zip(b).all(|(x, y)| {
			let (x, y) = (i128::from(*x), i128::from(*y));
			let diff = x.saturating_sub(y).abs();
			let scale = x.abs().max(y.abs());
			diff <= i128::from(abs_tolerance)
				|| diff.saturating_mul(1_000_000)
					<= scale.saturating_mul(i128::from(rel_tolerance_ppm))
		})
}

/// Whether reveal `r` agrees with `lead` under `rule`: the same digest, or for numeric
/// tolerance, summaries within tolerance.
pub fn agree(rule: &AggregationRule, lead: &Reveal, r: &Reveal) -> bool {
	match *rule {
		AggregationRule::ExactDigest | AggregationRule::QuantisedDigest { .. } => {
			r.digest == lead.digest
		}
		AggregationRule::NumericTolerance { abs_tolerance, rel_tolerance_ppm, .. } => {
			within(&lead.summary, &r.summary, abs_tolerance, rel_tolerance_ppm)
		}
	}
}

/// The accepted result of a committee of `size` members: the index (into `reveals`) of the
/// leading reveal and the indices of every reveal that agrees with it, if more than half of the
/// committee agrees; `None` otherwise.
pub fn aggregate(
	rule: &AggregationRule,
	size: usize,
	reveals: &[Reveal],
) -> Option<(usize, Vec<usize>)> {
	let quorum = size / 2 + 1;
	for (i, lead) in reveals.iter().enumerate() {
		let agreeing: Vec<usize> = reveals
			.iter()
			.enumerate()
			.filter(|(_, r)| agree(rule, lead, r))
			.map(|(j, _)| j)
			.collect();
		if agreeing.len() >= quorum {
			return Some((i, agreeing));
		}
	}
	None
}

#[cfg(test)]
mod tests {
	use super::*;
	use polkadot_sdk::sp_core::H256;
	use verity_primitives::cid::Cid;

	fn reveal(digest: u8, summary: &[i64]) -> Reveal {
		Reveal {
			digest: H256::repeat_byte(digest),
			result: Cid::of_raw_bytes(&[digest]),
			summary: summary.to_vec().try_into().unwrap(),
		}
	}

	#[test]
	fn digest_majority_needs_more_than_half_of_the_committee() {
		let rule = AggregationRule::ExactDigest;
		assert_eq!(
			aggregate(&rule, 3, &[reveal(1, &[]), reveal(1, &[]), reveal(2, &[])]),
			Some((0, vec![0, 1]))
		);
		assert_eq!(
			aggregate(&rule, 3, &[reveal(2, &[]), reveal(1, &[]), reveal(1, &[])]),
			Some((1, vec![1, 2]))
		);
		// Two of five agree: no quorum, even if the others did not reveal.
		assert_eq!(aggregate(&rule, 5, &[reveal(1, &[]), reveal(1, &[])]), None);
		assert_eq!(aggregate(&rule, 3, &[reveal(1, &[]), reveal(2, &[]), reveal(3, &[])]), None);
		assert_eq!(aggregate(&rule, 1, &[reveal(9, &[])]), Some((0, vec![0])));
	}

	#[test]
	fn numeric_tolerance_is_absolute_or_relative() {
		let rule = AggregationRule::NumericTolerance {
			len: 2,
			abs_tolerance: 10,
			rel_tolerance_ppm: 1_000,
		};
		// |diff| ≤ 10 absolute, or ≤ 0.1 % of the larger magnitude.
		assert!(within(&[100, 1_000_000], &[110, 1_000_900], 10, 1_000));
		assert!(!within(&[100, 1_000_000], &[111, 1_000_000], 10, 1_000));
		assert!(!within(&[0, 1_000_000], &[0, 1_001_100], 10, 1_000));
		assert!(within(&[i64::MIN, i64::MAX], &[i64::MIN, i64::MAX], 0, 0));
		assert!(!within(&[1], &[1, 2], 10, 10));
		let got = aggregate(
			&rule,
			3,
			&[reveal(1, &[0, 500]), reveal(2, &[5, 505]), reveal(3, &[900, 0])],
		);
		assert_eq!(got, Some((0, vec![0, 1])));
	}

	#[test]
	fn draws_are_distinct_and_complete() {
		let all: Vec<u32> = (0..10).collect();
		for s in 0..200u8 {
			let mut got = draw(all.clone(), 4, &[s; 32]).unwrap();
			got.sort();
			got.dedup();
			assert_eq!(got.len(), 4);
		}
		assert_eq!(draw(all.clone(), 11, &[0; 32]), None);
		assert_eq!(draw(all, 10, &[0; 32]).map(|v| v.len()), Some(10));
	}

	#[test]
	fn every_eligible_member_is_drawn_with_its_expected_frequency() {
		// 10 eligible, 3 drawn per committee: each is expected in 30 % of 20,000 committees
		// (6,000), standard deviation sqrt(20,000 × 0.3 × 0.7) ≈ 65; allow 5 deviations.
		let n = 10usize;
		let rounds = 20_000u64;
		let mut counts = vec![0u64; n];
		for r in 0..rounds {
			let seed = blake2_256(&r.to_le_bytes());
			for m in draw((0..n).collect(), 3, &seed).unwrap() {
				counts[m] += 1;
			}
		}
		for (m, c) in counts.iter().enumerate() {
			assert!((c.abs_diff(6_000)) <= 325, "member {m} drawn {c} times");
		}
	}

	#[test]
	fn commitments_and_summary_digests_match_the_shared_vectors() {
		// The vectors the worker and tests/e2e check too (scripts/gen-digest-vectors.py).
		let v: serde_json::Value =
			serde_json::from_str(include_str!("../../../tests/vectors/digests.json")).unwrap();
		let h = |x: &serde_json::Value| {
			let text = x.as_str().unwrap().trim_start_matches("0x");
			let bytes: Vec<u8> = (0..text.len())
				.step_by(2)
				.map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
				.collect();
			H256::from_slice(&bytes)
		};
		for c in v["commitments"].as_array().unwrap() {
			let round: u64 = c["round"].as_str().unwrap().parse().unwrap();
			let member: [u8; 32] = h(&c["member"]).0;
			assert_eq!(
				commitment(round, &h(&c["digest"]), &h(&c["nonce"]), &member),
				h(&c["commitment"])
			);
		}
		for c in v["summaries"].as_array().unwrap() {
			let values: Vec<i64> = c["summary"]
				.as_array()
				.unwrap()
				.iter()
				.map(|s| s.as_str().unwrap().parse().unwrap())
				.collect();
			assert_eq!(summary_digest(&values), h(&c["digest"]));
		}
	}
}
