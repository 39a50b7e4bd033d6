//! Proof of compute.

use polkadot_sdk::{frame_support::traits::ConstU32, frame_system::EnsureRoot};

use crate::{
	currency::VER, time::DAYS, AccountId, AivmRegistry, Balance, Balances, BlockNumber,
	Marketplace, Runtime, RuntimeHoldReason, StakingGovernance,
};

/// An audited leaf's deepest proof: 2^12 = 4096 steps per epoch, the most a job's settings may
/// ask for.
pub const MAX_PROOF_DEPTH: u32 = 12;
const _: () =
	assert!(1u64 << MAX_PROOF_DEPTH >= verity_primitives::training::MAX_INNER_STEPS as u64);

/// The most verification may run after a job's deadline (epoch window, audits, the final round,
/// their re-runs): a day, hundreds of times what the presets' windows need.
pub const MAX_VERIFICATION_SPAN: BlockNumber = DAYS;

impl pallet_proof_of_compute::Config for Runtime {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	/// Returned when the epoch's audits end (burnt if an audit convicts the member): about what
	/// an epoch commitment keeps in storage while it is live (its commitment, its share of the
	/// epoch and its audits, a few hundred bytes) at the kernel registry's 10 mVER a byte,
	/// rounded down, and well inside what a provider bonds (security review, finding 2).
	type EpochDeposit = EpochDeposit;
	type Market = Marketplace;
	type Kernels = AivmRegistry;
	type StakeBalance = Balance;
	type Staking = StakingGovernance;
	/// BABE's VRF output of the parent block, read two blocks after a submission (or an epoch's
	/// last commitment): the submitter cannot know it when it submits (security review
	/// finding 4), short of authoring the block itself.
	type Randomness = polkadot_sdk::pallet_babe::ParentBlockRandomness<Runtime>;
	type DrawDelay = ConstU32<2>;
	/// Three verifiers besides the provider, whatever a job asks for (finding 11).
	type MinVerifiers = ConstU32<3>;
	/// Half of a slash to the verifiers whose verdict caused it (finding 15).
	type CatchBounty = CatchBounty;
	/// Root is a passed proposal (or sudo where a chain spec still has a sudo key).
	type AdminOrigin = EnsureRoot<AccountId>;
	/// The marketplace's, so a verified task's credited committee always fits its record
	/// (security review, finding 21).
	type MaxCommittee = <Runtime as pallet_marketplace::Config>::MaxCommittee;
	type MaxExcluded = ConstU32<64>;
	/// A committee draw reads the whole list; 256 keeps it well inside a block.
	type MaxVerifiers = ConstU32<256>;
	/// The marketplace's largest training group.
	type MaxGroup = ConstU32<16>;
	type MaxAuditsPerEpoch = ConstU32<16>;
	type MaxProofDepth = ConstU32<MAX_PROOF_DEPTH>;
	type MaxDuePerBlock = ConstU32<64>;
	type MaxDueWeight = super::marketplace::MaxDeadlineWeight;
	type MaxVerificationSpan = ConstU32<MAX_VERIFICATION_SPAN>;
	type WeightInfo = pallet_proof_of_compute::weights::SubstrateWeight<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = PocBenchmarkHelper;
}

polkadot_sdk::frame_support::parameter_types! {
	pub const EpochDeposit: Balance = VER;
	pub const CatchBounty: polkadot_sdk::sp_runtime::Perbill =
		polkadot_sdk::sp_runtime::Perbill::from_percent(50);
}

/// Benchmark set-up on the real runtime: providers bond, tasks are real marketplace tasks.
#[cfg(feature = "runtime-benchmarks")]
pub struct PocBenchmarkHelper;

#[cfg(feature = "runtime-benchmarks")]
// Benchmark setup only: nothing here runs on a chain.
#[allow(clippy::unwrap_used, clippy::arithmetic_side_effects, clippy::indexing_slicing)]
mod bench {
	use super::*;
	use alloc::vec::Vec;
	use pallet_marketplace::{BenchmarkHelper as _, JobKindInput, PriceSpec};
	use verity_primitives::{cid::Cid, market::TaskId};

	type Market = pallet_marketplace::Pallet<Runtime>;

	/// Class 0 as the chain defines it (its price floor and ceiling).
	fn class() -> pallet_marketplace::ResourceClass<crate::Balance> {
		pallet_marketplace::ResourceClasses::<Runtime>::get(0).unwrap()
	}

	fn provider(name: &'static str, i: u32) -> AccountId {
		let who: AccountId = polkadot_sdk::frame_benchmarking::account(name, i, 0);
		super::super::marketplace::MarketBenchmarkHelper::make_provider(&who);
		let price = PriceSpec::Fixed(class().min_price);
		Market::do_publish_offer(who.clone(), 0, 1_000_000, price, 1, u64::MAX).unwrap();
		who
	}

	fn kernel() -> pallet_aivm_registry::KernelId {
		let owner: AccountId = polkadot_sdk::frame_benchmarking::account("kernel-owner", 0, 0);
		let existing = pallet_aivm_registry::Kernels::<Runtime>::iter_keys().next();
		existing.unwrap_or_else(|| {
			super::super::marketplace::MarketBenchmarkHelper::make_kernel(&owner)
		})
	}

	fn cid(bytes: &[u8]) -> pallet_marketplace::CidInput {
		Cid::of_raw_bytes(bytes).to_text().into_bytes().try_into().unwrap()
	}

	fn buyer() -> AccountId {
		use polkadot_sdk::frame_support::traits::fungible::Mutate;
		let who: AccountId = polkadot_sdk::frame_benchmarking::account("buyer", 0, 0);
		Balances::set_balance(&who, 1_000_000_000 * crate::currency::VER);
		who
	}

	use crate::Balances;

	/// Posts a job, allocates it at once and has every provider accept.
	fn running(
		kind: pallet_marketplace::JobKindInputOf<Runtime>,
		samples: u64,
	) -> Vec<(TaskId, AccountId)> {
		let now = polkadot_sdk::frame_system::Pallet::<Runtime>::block_number();
		let job = Market::do_post_job(
			buyer(),
			kernel(),
			0,
			kind,
			samples,
			class().max_price,
			now + 1_000,
		)
		.unwrap();
		assert!(Market::allocate(job, now).unwrap());
		let tasks = pallet_marketplace::Jobs::<Runtime>::get(job).unwrap().tasks;
		tasks
			.into_iter()
			.map(|t| {
				let who = pallet_marketplace::Tasks::<Runtime>::get(t).unwrap().provider;
				Market::do_accept(who.clone(), t).unwrap();
				(t, who)
			})
			.collect()
	}

	impl pallet_proof_of_compute::BenchmarkHelper<AccountId> for PocBenchmarkHelper {
		fn make_provider(who: &AccountId) {
			super::super::marketplace::MarketBenchmarkHelper::make_provider(who);
		}

		fn make_task(committee: u32) -> (TaskId, AccountId) {
			let n = pallet_marketplace::NextOffer::<Runtime>::get() as u32;
			provider("task-provider", n);
			let kind = JobKindInput::Inference {
				inputs: alloc::vec![cid(b"input")].try_into().unwrap(),
				committee,
			};
			running(kind, 10)[0].clone()
		}

		fn make_group(group: u32, steps: u32) -> Vec<(TaskId, AccountId)> {
			let n = pallet_marketplace::NextOffer::<Runtime>::get() as u32;
			for i in 0..group {
				provider("group-provider", n + i);
			}
			let kind = JobKindInput::Training {
				dataset: cid(b"dataset"),
				hyperparams: alloc::format!("{{\"innerSteps\":{steps}}}")
					.into_bytes()
					.try_into()
					.unwrap(),
				epochs: 1,
				group_size: group,
			};
			running(kind, u64::from(group) * 10)
		}

		fn submit(task: TaskId, provider: &AccountId) {
			Market::do_submit(provider.clone(), task, Cid::of_raw_bytes(b"result")).unwrap();
		}
	}
}
