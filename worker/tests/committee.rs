//! A committee agrees on digests the worker computed from real kernel outputs: each member runs
//! the digits kernel on real libtorch (its own load of the archive, its own batch size), digests
//! the outputs by the rule (`verity_primitives::digest`), and the proof-of-compute pallet's own
//! aggregation (`committee::aggregate`, what the chain runs after the reveal window) accepts the
//! honest majority and leaves out a member whose outputs differ — for every aggregation rule.

mod common;

use common::kernels;
use pallet_proof_of_compute::{committee::aggregate, types::Reveal};
use std::num::NonZeroUsize;
use tch::{Device, Tensor};
use verity_primitives::{cid::Cid, kernel::AggregationRule};
use verity_worker::{
	infer,
	kernel::{KernelDir, Model},
	torch_env,
};

/// One member: loads the kernel afresh and runs it on `input` in batches of `batch`.
fn member(kernel: &KernelDir, input: &Tensor, batch: usize, rule: AggregationRule) -> Reveal {
	let mut manifest = kernel.manifest.clone();
	manifest.record.rule = rule;
	let mut model = Model::load(manifest, &kernel.archive, Device::Cpu).unwrap();
	let done = infer::run(&mut model, input, NonZeroUsize::new(batch).unwrap(), "test").unwrap();
	Reveal {
		digest: done.digest.digest,
		result: Cid::of_raw_bytes(&done.blob),
		summary: done.digest.summary.try_into().unwrap(),
	}
}

#[test]
fn the_pallets_aggregation_accepts_digests_of_real_outputs_under_every_rule() {
	torch_env::init_torch(1);
	let kernel = KernelDir::open(&kernels().join("digits")).unwrap();
	let input = infer::input_of(
		&Model::load(kernel.manifest.clone(), &kernel.archive, Device::Cpu).unwrap(),
		kernel.test().unwrap(),
	)
	.unwrap();
	// A lazy member: the same kernel on inputs it did not bother to read in full.
	let lazy_input = input.copy();
	let _ = lazy_input.narrow(0, 0, 10).fill_(0.0);
	let registered = kernel.manifest.record.rule;
	assert_eq!(registered, AggregationRule::QuantisedDigest { decimals: 3 });
	let rules = [
		AggregationRule::ExactDigest,
		registered,
		AggregationRule::NumericTolerance { len: 16, abs_tolerance: 1_000, rel_tolerance_ppm: 100 },
	];
	for rule in rules {
		// The digest rules need the same outputs to the digest's precision: same batch size (the
		// worker's default). Rounding to decimals does not absorb a last-bit difference that
		// straddles a rounding boundary, so only the tolerance rule is checked across batch sizes.
		let batches = match rule {
			AggregationRule::NumericTolerance { .. } => [256, 7],
			_ => [256, 256],
		};
		let provider = member(&kernel, &input, batches[0], rule);
		let verifier = member(&kernel, &input, batches[1], rule);
		let lazy = member(&kernel, &lazy_input, batches[0], rule);
		assert_ne!(lazy.digest, provider.digest, "{rule:?}: the lazy member differs");
		// Committee of three: provider, one honest verifier, the lazy one, in any order.
		let reveals = [provider.clone(), lazy.clone(), verifier.clone()];
		let (lead, agreeing) = aggregate(&rule, 3, &reveals).expect("quorum");
		assert_eq!(reveals[lead].digest, provider.digest, "{rule:?}");
		assert_eq!(agreeing, vec![0, 2], "{rule:?}: provider and verifier agree, lazy is out");
		// Without the honest verifier there is no majority.
		assert_eq!(aggregate(&rule, 3, &[provider.clone(), lazy.clone()]), None, "{rule:?}");
		if let AggregationRule::NumericTolerance { len, .. } = rule {
			assert_eq!(provider.summary.len(), usize::from(len));
			assert_eq!(
				provider.digest,
				verity_primitives::digest::summary_digest(&provider.summary)
			);
		}
	}
}
