//! # Verity runtime
//!
//! The state machine of the Verity chain: BABE block production with VRF slots, GRANDPA finality,
//! a validator set managed by `pallet-session`, and the native token VER (12 decimals) with
//! transaction fees. The five Verity pallets (marketplace, proof-of-compute, staking-governance,
//! aivm-registry, fee-settlement) are added here as they land, each at a fixed pallet index.
//!
//! This file is declarative: version, types, the pallet list, transaction extensions and the
//! executive. Pallet configuration lives in [`configs`], runtime APIs in `apis.rs`, genesis presets
//! in [`genesis_config_presets`].

#![cfg_attr(not(feature = "std"), no_std)]
#![recursion_limit = "256"]
#![cfg_attr(
	not(test),
	deny(
		clippy::unwrap_used,
		clippy::expect_used,
		clippy::indexing_slicing,
		clippy::arithmetic_side_effects
	)
)]

#[cfg(feature = "std")]
include!(concat!(env!("OUT_DIR"), "/wasm_binary.rs"));

extern crate alloc;
use alloc::vec::Vec;

// Before `apis`: `define_benchmarks!` defines the `list_benchmarks!`/`add_benchmarks!` macros
// that the benchmark runtime API calls, and macros are visible only after their definition.
#[cfg(feature = "runtime-benchmarks")]
#[macro_use]
mod benchmarks;
mod apis;
pub use apis::RuntimeApi;
pub mod configs;
pub mod genesis_config_presets;

use polkadot_sdk::{
	sp_runtime::{generic, impl_opaque_keys, MultiAddress},
	sp_version::{runtime_version, RuntimeVersion},
	*,
};

pub use polkadot_sdk::sp_consensus_babe::AuthorityId as BabeId;
pub use polkadot_sdk::sp_consensus_grandpa::AuthorityId as GrandpaId;
pub use verity_primitives::{
	currency, AccountId, Balance, BlockNumber, Hash, Header, Moment, Nonce, Signature,
};

/// Opaque types: what the node needs to know about blocks without knowing the runtime's calls.
pub mod opaque {
	use super::*;
	pub use polkadot_sdk::sp_runtime::OpaqueExtrinsic as UncheckedExtrinsic;

	pub use verity_primitives::Header;
	/// Opaque block type.
	pub type Block = generic::Block<Header, UncheckedExtrinsic>;
	/// Opaque block identifier type.
	pub type BlockId = generic::BlockId<Block>;
}

impl_opaque_keys! {
	/// The session keys a validator registers with `session.setKeys`: one for BABE block
	/// production, one for GRANDPA finality voting.
	pub struct SessionKeys {
		pub babe: Babe,
		pub grandpa: Grandpa,
	}
}

#[runtime_version]
pub const VERSION: RuntimeVersion = RuntimeVersion {
	spec_name: alloc::borrow::Cow::Borrowed("verity"),
	impl_name: alloc::borrow::Cow::Borrowed("verity"),
	authoring_version: 1,
	spec_version: 117,
	impl_version: 1,
	apis: apis::RUNTIME_API_VERSIONS,
	transaction_version: 1,
	system_version: 1,
};

/// Time and epochs.
pub mod time {
	use super::{BlockNumber, Moment};

	/// Target block time. BABE assigns one primary or secondary author per slot, so blocks come
	/// every slot.
	pub const MILLI_SECS_PER_BLOCK: Moment = 6_000;
	/// A BABE slot lasts one block time. It cannot change after genesis.
	pub const SLOT_DURATION: Moment = MILLI_SECS_PER_BLOCK;

	/// Blocks per minute.
	pub const MINUTES: BlockNumber = 60_000 / (MILLI_SECS_PER_BLOCK as BlockNumber);
	/// Blocks per hour.
	pub const HOURS: BlockNumber = MINUTES * 60;
	/// Blocks per day.
	pub const DAYS: BlockNumber = HOURS * 24;

	/// One BABE epoch is one session: the unit in which the validator set can change. Two
	/// minutes keeps validator-set changes (bonding, unbonding, key rotation) observable within
	/// minutes on a young network; it cannot change after genesis.
	pub const EPOCH_DURATION_IN_SLOTS: u64 = 2 * MINUTES as u64;

	/// BABE's probability of a primary slot: 1/4. The remaining slots are filled by the
	/// round-robin secondary (VRF) author, so no slot stays empty while its author is online.
	pub const PRIMARY_PROBABILITY: (u64, u64) = (1, 4);
}

/// BABE's epoch configuration at genesis.
pub const BABE_GENESIS_EPOCH_CONFIG: polkadot_sdk::sp_consensus_babe::BabeEpochConfiguration =
	polkadot_sdk::sp_consensus_babe::BabeEpochConfiguration {
		c: time::PRIMARY_PROBABILITY,
		allowed_slots: polkadot_sdk::sp_consensus_babe::AllowedSlots::PrimaryAndSecondaryVRFSlots,
	};

/// Smallest balance an account may hold; below it the account is reaped.
pub const EXISTENTIAL_DEPOSIT: Balance = currency::MILLI_VER;

#[frame_support::runtime]
mod runtime {
	#[runtime::runtime]
	#[runtime::derive(
		RuntimeCall,
		RuntimeEvent,
		RuntimeError,
		RuntimeOrigin,
		RuntimeFreezeReason,
		RuntimeHoldReason,
		RuntimeSlashReason,
		RuntimeLockId,
		RuntimeTask,
		RuntimeViewFunction
	)]
	pub struct Runtime;

	#[runtime::pallet_index(0)]
	pub type System = frame_system;

	#[runtime::pallet_index(1)]
	pub type Babe = pallet_babe;

	#[runtime::pallet_index(2)]
	pub type Timestamp = pallet_timestamp;

	#[runtime::pallet_index(3)]
	pub type Balances = pallet_balances;

	#[runtime::pallet_index(4)]
	pub type TransactionPayment = pallet_transaction_payment;

	#[runtime::pallet_index(5)]
	pub type Session = pallet_session;

	#[runtime::pallet_index(6)]
	pub type Grandpa = pallet_grandpa;

	#[runtime::pallet_index(7)]
	pub type Utility = pallet_utility;

	#[runtime::pallet_index(8)]
	pub type Sudo = pallet_sudo;

	#[runtime::pallet_index(9)]
	pub type FeeSettlement = pallet_fee_settlement;

	#[runtime::pallet_index(10)]
	pub type StakingGovernance = pallet_staking_governance;

	#[runtime::pallet_index(11)]
	pub type AivmRegistry = pallet_aivm_registry;

	#[runtime::pallet_index(12)]
	pub type Marketplace = pallet_marketplace;

	#[runtime::pallet_index(13)]
	pub type ProofOfCompute = pallet_proof_of_compute;

	/// The block author, who is paid for reporting the equivocations its block includes.
	#[runtime::pallet_index(14)]
	pub type Authorship = pallet_authorship;

	/// Offence reports (BABE and GRANDPA equivocations), passed to staking-governance to slash.
	#[runtime::pallet_index(15)]
	pub type Offences = pallet_offences;

	/// Roots of past sessions' validator sets, so an equivocation is proven against the set of
	/// the session it happened in.
	#[runtime::pallet_index(16)]
	pub type Historical = pallet_session::historical;
}

/// The address format for describing accounts.
pub type Address = MultiAddress<AccountId, ()>;
/// Block type as expected by this runtime.
pub type Block = generic::Block<Header, UncheckedExtrinsic>;
/// A block signed with a justification.
pub type SignedBlock = generic::SignedBlock<Block>;

/// The transaction extensions, in the order their implicit data is signed. All are standard
/// polkadot-sdk extensions, so polkadot.js signs for this chain with no custom types.
pub type TxExtension = (
	frame_system::CheckNonZeroSender<Runtime>,
	frame_system::CheckSpecVersion<Runtime>,
	frame_system::CheckTxVersion<Runtime>,
	frame_system::CheckGenesis<Runtime>,
	frame_system::CheckEra<Runtime>,
	frame_system::CheckNonce<Runtime>,
	frame_system::CheckWeight<Runtime>,
	pallet_transaction_payment::ChargeTransactionPayment<Runtime>,
	frame_system::WeightReclaim<Runtime>,
);

/// Unchecked extrinsic type as expected by this runtime.
pub type UncheckedExtrinsic =
	generic::UncheckedExtrinsic<Address, RuntimeCall, Signature, TxExtension>;
/// The payload being signed in transactions.
pub type SignedPayload = generic::SignedPayload<RuntimeCall, TxExtension>;

/// Storage migrations to run on the next runtime upgrade, beyond those the pallets declare.
type Migrations = ();

/// Executive: dispatches blocks and transactions to the pallets.
pub type Executive = frame_executive::Executive<
	Runtime,
	Block,
	frame_system::ChainContext<Runtime>,
	Runtime,
	AllPalletsWithSystem,
	Migrations,
>;
