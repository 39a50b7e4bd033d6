//! The pallets whose weights the `benchmark pallet` subcommand measures for this runtime.

use polkadot_sdk::*;

pub use frame_benchmarking::baseline::Pallet as BaselineBench;
pub use frame_system_benchmarking::Pallet as SystemBench;

// Re-exported: `define_benchmarks!` expands where `list_benchmarks!`/`add_benchmarks!` are called
// (`apis.rs`, which glob-imports this module), naming these types unqualified.
pub use super::{
	AivmRegistry, Balances, FeeSettlement, Marketplace, ProofOfCompute, Runtime, StakingGovernance,
	Sudo, Timestamp, Utility,
};

frame_benchmarking::define_benchmarks!(
	[frame_benchmarking, BaselineBench::<Runtime>]
	[frame_system, SystemBench::<Runtime>]
	[pallet_balances, Balances]
	[pallet_timestamp, Timestamp]
	[pallet_utility, Utility]
	[pallet_sudo, Sudo]
	[pallet_fee_settlement, FeeSettlement]
	[pallet_staking_governance, StakingGovernance]
	[pallet_aivm_registry, AivmRegistry]
	[pallet_marketplace, Marketplace]
	[pallet_proof_of_compute, ProofOfCompute]
);
