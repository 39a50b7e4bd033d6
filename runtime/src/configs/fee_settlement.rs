//! Payment channels for pay-per-request inference.

use polkadot_sdk::{
	frame_support::{parameter_types, traits::ConstU32},
	frame_system::EnsureRoot,
};

use crate::{
	currency::MILLI_VER,
	time::{DAYS, HOURS, MINUTES},
	AccountId, Balance, BlockNumber, Runtime, RuntimeHoldReason, Signature,
};

parameter_types! {
	/// 0.01 VER: ten times the existential deposit, so an open channel is never dust.
	pub const MinChannelDeposit: Balance = 10 * MILLI_VER;
	/// One hour for a provider to redeem after the buyer asks to close, until governance says
	/// otherwise.
	pub const DefaultChallengePeriod: BlockNumber = HOURS;
	/// Governance cannot give a provider less than ten minutes to redeem before a refund.
	pub const MinChallengePeriod: BlockNumber = 10 * MINUTES;
	/// Governance cannot lock a buyer's refund for more than 30 days.
	pub const MaxChallengePeriod: BlockNumber = 30 * DAYS;
}

impl pallet_fee_settlement::Config for Runtime {
	type Currency = crate::Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Signature = Signature;
	type AdminOrigin = EnsureRoot<AccountId>;
	type MinDeposit = MinChannelDeposit;
	type MaxChannelsPerBuyer = ConstU32<64>;
	type MaxBatch = ConstU32<128>;
	type MaxProofDepth = ConstU32<32>;
	type DefaultChallengePeriod = DefaultChallengePeriod;
	type MinChallengePeriod = MinChallengePeriod;
	type MaxChallengePeriod = MaxChallengePeriod;
	type WeightInfo = pallet_fee_settlement::weights::SubstrateWeight<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = pallet_fee_settlement::Sr25519BenchmarkHelper;
}
