//! The AIVM kernel registry.

use polkadot_sdk::{frame_support::parameter_types, frame_system::EnsureRoot};

use crate::{
	currency::{MILLI_VER, VER},
	AccountId, Balance, Balances, Marketplace, Runtime, RuntimeHoldReason,
};

parameter_types! {
	/// Per kernel record: the storage item itself.
	pub const KernelDepositBase: Balance = VER;
	/// Per byte of the record (a largest record, ~650 bytes, holds about 7.5 VER).
	pub const KernelDepositPerByte: Balance = 10 * MILLI_VER;
}

impl pallet_aivm_registry::Config for Runtime {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	/// Root is a passed proposal (or sudo where a chain spec still has a sudo key).
	type AdminOrigin = EnsureRoot<AccountId>;
	/// Completed training jobs' models: a trained version's lineage.
	type Training = Marketplace;
	type DepositBase = KernelDepositBase;
	type DepositPerByte = KernelDepositPerByte;
	type WeightInfo = pallet_aivm_registry::weights::SubstrateWeight<Runtime>;
}
