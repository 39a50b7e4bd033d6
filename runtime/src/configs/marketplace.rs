//! The compute marketplace.

use polkadot_sdk::{
	frame_support::{
		parameter_types,
		traits::{ConstU32, ConstU64},
		weights::Weight,
	},
	frame_system::EnsureRoot,
};

use super::{staking_governance::TreasuryAccount, RuntimeBlockWeights};
use crate::{
	currency::VER,
	time::{DAYS, MILLI_SECS_PER_BLOCK},
	AccountId, AivmRegistry, Balance, Balances, ProofOfCompute, Runtime, RuntimeHoldReason,
	StakingGovernance,
};

/// A job's longest life, posting to deadline: a week.
pub const MAX_JOB_DURATION: crate::BlockNumber = 7 * DAYS;

parameter_types! {
	/// An endpoint is at most ~500 bytes of storage: a kernel record's base deposit.
	pub const EndpointDeposit: Balance = VER;
	/// A quarter of a block for deadlines; a burst beyond it spreads over the next blocks.
	pub MaxDeadlineWeight: Weight = {
		let max = RuntimeBlockWeights::get().max_block;
		Weight::from_parts(max.ref_time().saturating_div(4), max.proof_size().saturating_div(4))
	};
}

impl pallet_marketplace::Config for Runtime {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Kernels = AivmRegistry;
	type Staking = StakingGovernance;
	/// Submitted results go to proof of compute.
	type Verifier = ProofOfCompute;
	/// BABE's VRF output of the previous epoch: known to nobody before that epoch ended.
	type Randomness = polkadot_sdk::pallet_babe::RandomnessFromOneEpochAgo<Runtime>;
	/// Protocol fees go to the treasury account, like slashed stake.
	type FeeDestination = TreasuryAccount;
	/// Root is a passed proposal (or sudo where a chain spec still has a sudo key).
	type AdminOrigin = EnsureRoot<AccountId>;
	type MillisecsPerBlock = ConstU64<MILLI_SECS_PER_BLOCK>;
	type MaxClasses = ConstU32<16>;
	/// Allocation sorts a class's offers; 128 keeps one allocation well inside a block.
	type MaxOffersPerClass = ConstU32<128>;
	/// The largest training group.
	type MaxTasksPerJob = ConstU32<16>;
	type MaxInputs = ConstU32<64>;
	type MaxHyperParams = ConstU32<1024>;
	type MaxCommittee = ConstU32<16>;
	type MaxQueued = ConstU32<256>;
	/// A sixteenth of the queue: sixteen buyers at least always find room.
	type MaxQueuedPerBuyer = ConstU32<16>;
	type MaxAllocationsPerBlock = ConstU32<4>;
	type MaxDeadlinesPerBlock = ConstU32<128>;
	type MaxDeadlineWeight = MaxDeadlineWeight;
	type MaxJobDuration = ConstU32<MAX_JOB_DURATION>;
	/// 10^9 WU = 10^21 FLOPs: a week of a thousand datacenter GPUs.
	type MaxJobWork = ConstU64<1_000_000_000>;
	type EndpointDeposit = EndpointDeposit;
	type WeightInfo = pallet_marketplace::weights::SubstrateWeight<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = MarketBenchmarkHelper;
}

/// Benchmark set-up on the real runtime: providers bond through staking-governance, kernels
/// are registered in the registry.
#[cfg(feature = "runtime-benchmarks")]
pub struct MarketBenchmarkHelper;

// Set-up code for benchmarks only: a failure here is a broken benchmark and should stop it.
#[cfg(feature = "runtime-benchmarks")]
#[allow(clippy::unwrap_used)]
impl pallet_marketplace::BenchmarkHelper<AccountId> for MarketBenchmarkHelper {
	fn make_provider(who: &AccountId) {
		use polkadot_sdk::frame_support::traits::fungible::Mutate;
		let bond = pallet_staking_governance::Parameters::<Runtime>::get()
			.map_or(crate::currency::VER, |p| p.min_provider_bond.max(1));
		Balances::set_balance(who, bond.saturating_mul(10));
		let _ = StakingGovernance::bond(crate::RuntimeOrigin::signed(who.clone()), bond);
	}

	fn make_kernel(owner: &AccountId) -> pallet_aivm_registry::KernelId {
		use pallet_aivm_registry::{DType, Environment, KernelSpec, TensorSpec};
		use polkadot_sdk::frame_support::traits::fungible::Mutate;
		Balances::set_balance(owner, 1_000 * crate::currency::VER);
		let tensor =
			TensorSpec { dtype: DType::F32, shape: alloc::vec![0, 64].try_into().unwrap() };
		let spec = KernelSpec {
			archive: verity_primitives::cid::Cid::of_raw_bytes(b"benchmark kernel"),
			environment: Environment {
				libtorch: b"2.11.0".to_vec().try_into().unwrap(),
				device: verity_primitives::kernel::DeviceClass::Cpu,
				dtype: DType::F32,
				deterministic_algorithms: true,
				tf32_disabled: true,
				seed: 0,
			},
			inputs: alloc::vec![tensor.clone()].try_into().unwrap(),
			outputs: alloc::vec![tensor].try_into().unwrap(),
			inference_flops: 10_000_000_000,
			train_flops: 30_000_000_000,
			rule: verity_primitives::kernel::AggregationRule::ExactDigest,
			supersedes: None,
		};
		AivmRegistry::do_register(owner.clone(), spec).unwrap()
	}

	fn ready_to_verify(task: verity_primitives::market::TaskId, epochs: u32) {
		// Proof of compute takes a training result once every epoch is committed
		// (`NextEpoch`) and the last epoch's audits are over (it left `Epochs`), and when it has
		// a committee's worth of verifiers besides the provider and the buyer.
		pallet_proof_of_compute::NextEpoch::<Runtime>::insert(task, epochs);
		let need = pallet_proof_of_compute::Params::<Runtime>::get()
			.map_or(0, |p| p.training_committee)
			.max(<<Runtime as pallet_proof_of_compute::Config>::MinVerifiers as polkadot_sdk::frame_support::traits::Get<u32>>::get());
		let mut i = 0;
		while pallet_proof_of_compute::Verifiers::<Runtime>::get().len() < need.try_into().unwrap()
		{
			let who: AccountId = polkadot_sdk::frame_benchmarking::account("verifier", i, 0);
			Self::make_provider(&who);
			ProofOfCompute::register_verifier(crate::RuntimeOrigin::signed(who)).unwrap();
			i = i.saturating_add(1);
		}
	}
}
