//! Configuration of every pallet in the runtime.

use polkadot_sdk::{
	frame_support::{
		derive_impl,
		dispatch::DispatchClass,
		parameter_types,
		traits::{ConstU128, ConstU32, ConstU64, ConstU8, VariantCountOf},
		weights::{
			constants::{ParityDbWeight, WEIGHT_REF_TIME_PER_SECOND},
			IdentityFee, Weight,
		},
	},
	frame_system::limits::{BlockLength, BlockWeights},
	pallet_transaction_payment::{ConstFeeMultiplier, FungibleAdapter, Multiplier},
	sp_runtime::{
		traits::{ConvertInto, One, OpaqueKeys},
		Perbill,
	},
	sp_version::RuntimeVersion,
	*,
};

use super::{
	currency::MICRO_VER,
	time::{EPOCH_DURATION_IN_SLOTS, MILLI_SECS_PER_BLOCK, SLOT_DURATION},
	AccountId, Babe, Balance, Balances, Block, BlockNumber, Hash, Historical, Moment, Nonce,
	Offences, OriginCaller, PalletInfo, Runtime, RuntimeCall, RuntimeEvent, RuntimeFreezeReason,
	RuntimeHoldReason, RuntimeOrigin, RuntimeTask, Session, SessionKeys, System,
	EXISTENTIAL_DEPOSIT, VERSION,
};

mod aivm_registry;
mod fee_settlement;
mod marketplace;
mod proof_of_compute;
mod staking_governance;

pub use staking_governance::{TreasuryAccount, MIN_UNBONDING_PERIOD};

const NORMAL_DISPATCH_RATIO: Perbill = Perbill::from_percent(75);
const MAX_BLOCK_LENGTH: u32 = 5 * 1024 * 1024;

parameter_types! {
	pub const BlockHashCount: BlockNumber = 2400;
	pub const Version: RuntimeVersion = VERSION;

	/// Two seconds of compute in a six-second block, leaving time to propagate and import.
	pub RuntimeBlockWeights: BlockWeights = BlockWeights::with_sensible_defaults(
		Weight::from_parts(2u64 * WEIGHT_REF_TIME_PER_SECOND, u64::MAX),
		NORMAL_DISPATCH_RATIO,
	);
	/// 5 MiB blocks, of which normal transactions may fill 75 %.
	pub RuntimeBlockLength: BlockLength = BlockLength::builder()
		.max_length(MAX_BLOCK_LENGTH)
		.modify_max_length_for_class(DispatchClass::Normal, |m| {
			*m = NORMAL_DISPATCH_RATIO.mul_floor(*m)
		})
		.build();
	pub const SS58Prefix: u16 = verity_primitives::currency::SS58_PREFIX;
}

#[derive_impl(frame_system::config_preludes::SolochainDefaultConfig)]
impl frame_system::Config for Runtime {
	type Block = Block;
	type BlockWeights = RuntimeBlockWeights;
	type BlockLength = RuntimeBlockLength;
	type AccountId = AccountId;
	type Nonce = Nonce;
	type Hash = Hash;
	type BlockHashCount = BlockHashCount;
	/// The node stores state in ParityDB.
	type DbWeight = ParityDbWeight;
	type Version = Version;
	type AccountData = pallet_balances::AccountData<Balance>;
	type SS58Prefix = SS58Prefix;
	type MaxConsumers = ConstU32<16>;
}

parameter_types! {
	pub const EpochDuration: u64 = EPOCH_DURATION_IN_SLOTS;
	pub const ExpectedBlockTime: u64 = MILLI_SECS_PER_BLOCK;
	/// Bound on the validator set size that BABE and GRANDPA keep in storage.
	pub const MaxAuthorities: u32 = 100;
}

impl pallet_babe::Config for Runtime {
	type EpochDuration = EpochDuration;
	type ExpectedBlockTime = ExpectedBlockTime;
	/// Session rotation drives epoch changes, so the validator set follows the session.
	type EpochChangeTrigger = pallet_babe::ExternalTrigger;
	type DisabledValidators = Session;
	type WeightInfo = ();
	type MaxAuthorities = MaxAuthorities;
	type MaxNominators = ConstU32<0>;
	// Equivocation reports need historical session proofs and an offence handler; they arrive
	// with the staking-governance pallet, which can slash for them.
	type KeyOwnerProof = sp_session::MembershipProof;
	type EquivocationReportSystem =
		pallet_babe::EquivocationReportSystem<Self, Offences, Historical, ReportLongevity>;
}

impl pallet_grandpa::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type WeightInfo = ();
	type MaxAuthorities = MaxAuthorities;
	type MaxNominators = ConstU32<0>;
	/// How many set-id to session mappings are kept for equivocation proofs.
	type MaxSetIdSessionEntries = ConstU64<168>;
	type KeyOwnerProof = sp_session::MembershipProof;
	type EquivocationReportSystem =
		pallet_grandpa::EquivocationReportSystem<Self, Offences, Historical, ReportLongevity>;
}

parameter_types! {
	/// How long an equivocation report stays valid: as many sessions as GRANDPA keeps set-id
	/// mappings for (`MaxSetIdSessionEntries`), 168 two-minute sessions.
	pub const ReportLongevity: u64 = 168 * EPOCH_DURATION_IN_SLOTS;
}

impl pallet_authorship::Config for Runtime {
	type FindAuthor = pallet_session::FindAccountFromAuthorIndex<Self, Babe>;
	type EventHandler = ();
}

impl pallet_offences::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type IdentificationTuple = pallet_session::historical::IdentificationTuple<Self>;
	/// Staking-governance slashes and chills the offender and pays the reporters.
	type OnOffenceHandler = crate::StakingGovernance;
}

/// A validator is identified in past sessions by its account alone: staking-governance reads its
/// stake when it punishes (every validator in a set is bonded; what it still holds is slashable).
pub struct AccountIdentification;

impl sp_runtime::traits::Convert<AccountId, Option<()>> for AccountIdentification {
	fn convert(_: AccountId) -> Option<()> {
		Some(())
	}
}

impl pallet_session::historical::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type FullIdentification = ();
	type FullIdentificationOf = AccountIdentification;
}

/// Staking-governance's elections as the historical session manager wants them: each elected
/// validator with its (empty) full identification.
pub struct ElectedWithIdentity;

impl pallet_session::SessionManager<AccountId> for ElectedWithIdentity {
	fn new_session(new_index: u32) -> Option<alloc::vec::Vec<AccountId>> {
		<crate::StakingGovernance as pallet_session::SessionManager<_>>::new_session(new_index)
	}
	fn new_session_genesis(new_index: u32) -> Option<alloc::vec::Vec<AccountId>> {
		<crate::StakingGovernance as pallet_session::SessionManager<_>>::new_session_genesis(
			new_index,
		)
	}
	fn end_session(end_index: u32) {
		<crate::StakingGovernance as pallet_session::SessionManager<_>>::end_session(end_index)
	}
	fn start_session(start_index: u32) {
		<crate::StakingGovernance as pallet_session::SessionManager<_>>::start_session(start_index)
	}
}

impl pallet_session::historical::SessionManager<AccountId, ()> for ElectedWithIdentity {
	fn new_session(new_index: u32) -> Option<alloc::vec::Vec<(AccountId, ())>> {
		<Self as pallet_session::SessionManager<_>>::new_session(new_index)
			.map(|set| set.into_iter().map(|v| (v, ())).collect())
	}
	fn new_session_genesis(new_index: u32) -> Option<alloc::vec::Vec<(AccountId, ())>> {
		<Self as pallet_session::SessionManager<_>>::new_session_genesis(new_index)
			.map(|set| set.into_iter().map(|v| (v, ())).collect())
	}
	fn end_session(end_index: u32) {
		<Self as pallet_session::SessionManager<_>>::end_session(end_index)
	}
	fn start_session(start_index: u32) {
		<Self as pallet_session::SessionManager<_>>::start_session(start_index)
	}
}

/// Unsigned transactions the runtime itself creates: equivocation reports, submitted by the
/// node that saw the equivocation.
impl<C> frame_system::offchain::CreateTransactionBase<C> for Runtime
where
	RuntimeCall: From<C>,
{
	type Extrinsic = crate::UncheckedExtrinsic;
	type RuntimeCall = RuntimeCall;
}

impl<C> frame_system::offchain::CreateBare<C> for Runtime
where
	RuntimeCall: From<C>,
{
	fn create_bare(call: RuntimeCall) -> crate::UncheckedExtrinsic {
		crate::UncheckedExtrinsic::new_bare(call)
	}
}

impl pallet_timestamp::Config for Runtime {
	type Moment = Moment;
	type OnTimestampSet = Babe;
	type MinimumPeriod = ConstU64<{ SLOT_DURATION / 2 }>;
	type WeightInfo = ();
}

impl pallet_balances::Config for Runtime {
	type MaxLocks = ConstU32<50>;
	type MaxReserves = ConstU32<0>;
	type ReserveIdentifier = [u8; 8];
	type Balance = Balance;
	type RuntimeEvent = RuntimeEvent;
	type DustRemoval = ();
	type ExistentialDeposit = ConstU128<EXISTENTIAL_DEPOSIT>;
	type AccountStore = System;
	type WeightInfo = pallet_balances::weights::SubstrateWeight<Runtime>;
	type FreezeIdentifier = RuntimeFreezeReason;
	type MaxFreezes = VariantCountOf<RuntimeFreezeReason>;
	type RuntimeHoldReason = RuntimeHoldReason;
	type RuntimeFreezeReason = RuntimeFreezeReason;
	type DoneSlashHandler = ();
}

parameter_types! {
	pub FeeMultiplier: Multiplier = Multiplier::one();
	/// Fee per byte of transaction: 1 micro-VER.
	pub const TransactionByteFee: Balance = MICRO_VER;
}

impl pallet_transaction_payment::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	/// Fees are burned (taken out of issuance) until a treasury exists.
	type OnChargeTransaction = FungibleAdapter<Balances, ()>;
	type OperationalFeeMultiplier = ConstU8<5>;
	/// One unit (10^-12 VER) per picosecond of reference execution time.
	type WeightToFee = IdentityFee<Balance>;
	type LengthToFee =
		polkadot_sdk::frame_support::weights::ConstantMultiplier<Balance, TransactionByteFee>;
	type FeeMultiplierUpdate = ConstFeeMultiplier<FeeMultiplier>;
	type WeightInfo = pallet_transaction_payment::weights::SubstrateWeight<Runtime>;
}

impl pallet_session::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type ValidatorId = AccountId;
	type ValidatorIdOf = ConvertInto;
	type ShouldEndSession = Babe;
	type NextSessionRotation = Babe;
	/// Each session the top stakers with keys become the next validators (staking-governance);
	/// the historical pallet keeps each set's root for equivocation proofs.
	type SessionManager = pallet_session::historical::NoteHistoricalRoot<Self, ElectedWithIdentity>;
	type SessionHandler = <SessionKeys as OpaqueKeys>::KeyTypeIdProviders;
	type Keys = SessionKeys;
	type DisablingStrategy = ();
	type WeightInfo = pallet_session::weights::SubstrateWeight<Runtime>;
	type Currency = Balances;
	/// Registering session keys holds no deposit: the key owner must already hold stake to matter.
	type KeyDeposit = ConstU128<0>;
}

impl pallet_utility::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeCall = RuntimeCall;
	type PalletsOrigin = OriginCaller;
	type WeightInfo = pallet_utility::weights::SubstrateWeight<Runtime>;
}

impl pallet_sudo::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeCall = RuntimeCall;
	type WeightInfo = pallet_sudo::weights::SubstrateWeight<Runtime>;
}
