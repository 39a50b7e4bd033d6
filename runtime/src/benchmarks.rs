//! The pallets whose weights the `benchmark pallet` subcommand measures for this runtime.

use polkadot_sdk::*;

pub use frame_benchmarking::baseline::Pallet as BaselineBench;
pub use frame_system_benchmarking::Pallet as SystemBench;

use super::{Balances, FeeSettlement, Runtime, StakingGovernance, Sudo, Timestamp, Utility};

frame_benchmarking::define_benchmarks!(
	[frame_benchmarking, BaselineBench::<Runtime>]
	[frame_system, SystemBench::<Runtime>]
	[pallet_balances, Balances]
	[pallet_timestamp, Timestamp]
	[pallet_utility, Utility]
	[pallet_sudo, Sudo]
	[pallet_fee_settlement, FeeSettlement]
	[pallet_staking_governance, StakingGovernance]
);
