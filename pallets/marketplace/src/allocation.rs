//! Cost-minimising allocation, as pure functions over candidate offers (no storage), so they can
//! be checked against brute force.
//!
//! **Inference** (splittable): the job's `D` samples are split over offers to minimise
//! Σ cᵢxᵢ subject to Σ xᵢ = D and 0 ≤ xᵢ ≤ Maxᵢ (Maxᵢ: the samples offer i can finish before
//! the deadline). For one resource this linear program is solved exactly by filling the cheapest
//! offers first ([`cheapest_first`]): any solution that leaves a cheaper offer below its
//! capacity while using a dearer one can move work from the dearer to the cheaper without
//! raising the cost.
//!
//! **Training** (a group of `g`): the dataset is cut into `g` shards that differ by at most one
//! sample; each member must have room for the largest shard. The optimum takes the `g` cheapest
//! offers with that room and gives the larger shards to the cheaper ones ([`cheapest_group`]).
//!
//! Ties in price are broken by a per-offer key derived from chain randomness, so equal offers
//! share work fairly and nobody can predict the order.

use alloc::vec::Vec;
use polkadot_sdk::sp_core::H256;

/// An offer as the allocator sees it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Candidate {
	/// Index into the caller's offer list.
	pub index: u32,
	/// Price per WU.
	pub price: u128,
	/// Samples it can take.
	pub max: u64,
	/// Tie-breaking key (from chain randomness).
	pub key: H256,
}

fn sort(candidates: &mut [Candidate]) {
	candidates.sort_by(|a, b| a.price.cmp(&b.price).then(a.key.cmp(&b.key)));
}

/// Splits `demand` samples cheapest first into at most `max_parts` tasks; `None` if no such
/// split exists. When the cheapest split needs more parts, the `max_parts` largest offers are
/// split cheapest first instead (feasible whenever any split in that many parts is, since no
/// other `max_parts` offers hold more; cheapest among those offers, not overall). Returns
/// `(index, samples)` pairs, cheapest first, all non-zero.
pub fn cheapest_first(
	demand: u64,
	candidates: Vec<Candidate>,
	max_parts: usize,
) -> Option<Vec<(u32, u64)>> {
	match fill(demand, candidates.clone()) {
		Some(split) if split.len() > max_parts => {
			let mut largest = candidates;
			largest.sort_by(|a, b| b.max.cmp(&a.max).then(a.price.cmp(&b.price)));
			largest.truncate(max_parts);
			fill(demand, largest)
		}
		split => split,
	}
}

/// The LP optimum: cheapest offers filled first; `None` if they cannot take `demand`.
fn fill(demand: u64, mut candidates: Vec<Candidate>) -> Option<Vec<(u32, u64)>> {
	sort(&mut candidates);
	let mut left = demand;
	let mut out = Vec::new();
	for c in candidates {
		if left == 0 {
			break;
		}
		let take = c.max.min(left);
		if take > 0 {
			out.push((c.index, take));
			left = left.saturating_sub(take);
		}
	}
	(left == 0).then_some(out)
}

/// The shard sizes of `samples` over `group` members, largest first (they differ by at most 1).
pub fn shards(samples: u64, group: u32) -> Vec<u64> {
	let group = u64::from(group.max(1));
	let base = samples / group;
	let extra = samples % group;
	(0..group).map(|i| if i < extra { base.saturating_add(1) } else { base }).collect()
}

/// Gives the `shards` (largest first) to the cheapest candidates that can each take the largest
/// shard, larger shards to cheaper offers; `None` if fewer than `shards.len()` can.
pub fn cheapest_group(shards: &[u64], mut candidates: Vec<Candidate>) -> Option<Vec<(u32, u64)>> {
	let need = shards.first().copied().unwrap_or(0);
	candidates.retain(|c| c.max >= need);
	if candidates.len() < shards.len() {
		return None;
	}
	sort(&mut candidates);
	Some(candidates.iter().zip(shards).map(|(c, s)| (c.index, *s)).collect())
}

/// Σ price × samples of an allocation.
pub fn cost(allocation: &[(u32, u64)], candidates: &[Candidate]) -> u128 {
	allocation
		.iter()
		.map(|(i, x)| {
			candidates
				.iter()
				.find(|c| c.index == *i)
				.map_or(0, |c| c.price.saturating_mul(u128::from(*x)))
		})
		.fold(0u128, |a, b| a.saturating_add(b))
}

#[cfg(test)]
mod tests {
	use super::*;

	/// Deterministic pseudo-random numbers for the property tests.
	struct Lcg(u64);
	impl Lcg {
		fn next(&mut self, bound: u64) -> u64 {
			self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
			(self.0 >> 33) % bound
		}
	}

	fn random_instance(rng: &mut Lcg) -> Vec<Candidate> {
		let n = 1 + rng.next(6) as u32;
		(0..n)
			.map(|index| Candidate {
				index,
				price: 1 + rng.next(5) as u128, // few distinct prices: many ties
				max: rng.next(8),
				key: H256::from_low_u64_be(rng.next(1_000)),
			})
			.collect()
	}

	/// The LP optimum by brute force over every integer split (instances are small).
	fn brute_force_split(demand: u64, c: &[Candidate]) -> Option<u128> {
		fn go(i: usize, left: u64, c: &[Candidate]) -> Option<u128> {
			if i == c.len() {
				return (left == 0).then_some(0);
			}
			(0..=c[i].max.min(left))
				.filter_map(|x| go(i + 1, left - x, c).map(|rest| rest + c[i].price * x as u128))
				.min()
		}
		go(0, demand, c)
	}

	/// The training optimum by brute force over every assignment of shards to distinct offers.
	fn brute_force_group(shards: &[u64], c: &[Candidate]) -> Option<u128> {
		fn go(s: usize, shards: &[u64], c: &[Candidate], used: &mut Vec<bool>) -> Option<u128> {
			if s == shards.len() {
				return Some(0);
			}
			let mut best = None;
			for i in 0..c.len() {
				// Every member needs room for the largest shard.
				if used[i] || c[i].max < shards[0] {
					continue;
				}
				used[i] = true;
				if let Some(rest) = go(s + 1, shards, c, used) {
					let total = rest + c[i].price * shards[s] as u128;
					best = Some(best.map_or(total, |b: u128| b.min(total)));
				}
				used[i] = false;
			}
			best
		}
		go(0, shards, c, &mut vec![false; c.len()])
	}

	#[test]
	fn cheapest_first_is_the_lp_optimum_on_random_instances() {
		let mut rng = Lcg(7);
		let mut feasible = 0;
		for _ in 0..3_000 {
			let c = random_instance(&mut rng);
			let demand = 1 + rng.next(20);
			let got = cheapest_first(demand, c.clone(), usize::MAX);
			assert_eq!(got.as_ref().map(|a| cost(a, &c)), brute_force_split(demand, &c));
			if let Some(a) = got {
				feasible += 1;
				assert_eq!(a.iter().map(|(_, x)| x).sum::<u64>(), demand);
				for (i, x) in &a {
					assert!(*x <= c[*i as usize].max, "capacity exceeded");
				}
				let mut seen: Vec<u32> = a.iter().map(|(i, _)| *i).collect();
				seen.sort();
				seen.dedup();
				assert_eq!(seen.len(), a.len(), "an offer placed twice");
			}
		}
		assert!(feasible > 1_000, "too few feasible instances to mean anything: {feasible}");
	}

	#[test]
	fn cheapest_group_is_optimal_on_random_instances() {
		let mut rng = Lcg(11);
		let mut feasible = 0;
		for _ in 0..3_000 {
			let c = random_instance(&mut rng);
			let group = 1 + rng.next(4) as u32;
			let s = shards(1 + rng.next(20), group);
			let got = cheapest_group(&s, c.clone());
			assert_eq!(got.as_ref().map(|a| cost(a, &c)), brute_force_group(&s, &c));
			if let Some(a) = got {
				feasible += 1;
				assert_eq!(a.len(), group as usize);
				for (i, x) in &a {
					assert!(*x <= c[*i as usize].max, "capacity exceeded");
				}
			}
		}
		assert!(feasible > 500, "too few feasible instances to mean anything: {feasible}");
	}

	#[test]
	fn cheapest_first_never_splits_into_more_parts_than_allowed() {
		let mut rng = Lcg(13);
		let mut fallbacks = 0;
		for _ in 0..3_000 {
			let c = random_instance(&mut rng);
			let demand = 1 + rng.next(20);
			let parts = 1 + rng.next(3) as usize;
			let capped = cheapest_first(demand, c.clone(), parts);
			let free = cheapest_first(demand, c.clone(), usize::MAX);
			// A split in `parts` parts exists iff the `parts` largest offers hold the demand.
			let mut sizes: Vec<u64> = c.iter().map(|x| x.max).collect();
			sizes.sort_by(|a, b| b.cmp(a));
			let exists = sizes.iter().take(parts).sum::<u64>() >= demand;
			assert_eq!(capped.is_some(), exists);
			if let Some(a) = &capped {
				assert!(a.len() <= parts);
				assert_eq!(a.iter().map(|(_, x)| x).sum::<u64>(), demand);
				for (i, x) in a {
					assert!(*x <= c[*i as usize].max, "capacity exceeded");
				}
				match free.as_ref().filter(|f| f.len() <= parts) {
					// Within the cap: the optimum itself.
					Some(f) => assert_eq!(a, f),
					None => fallbacks += 1,
				}
			}
		}
		assert!(fallbacks > 50, "the fallback was hardly exercised: {fallbacks}");
	}

	#[test]
	fn ties_follow_the_random_key() {
		let c =
			|index, key| Candidate { index, price: 5, max: 10, key: H256::from_low_u64_be(key) };
		assert_eq!(cheapest_first(4, vec![c(0, 9), c(1, 3)], 2), Some(vec![(1, 4)]));
		assert_eq!(cheapest_first(4, vec![c(0, 2), c(1, 3)], 2), Some(vec![(0, 4)]));
	}

	#[test]
	fn shards_differ_by_at_most_one() {
		assert_eq!(shards(10, 3), vec![4, 3, 3]);
		assert_eq!(shards(2, 4), vec![1, 1, 0, 0]);
		assert_eq!(shards(9, 3), vec![3, 3, 3]);
	}
}
