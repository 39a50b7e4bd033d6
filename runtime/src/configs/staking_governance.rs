//! Proof of stake and governance.

use polkadot_sdk::{
	frame_support::{
		parameter_types,
		traits::{tokens::imbalance::ResolveTo, ConstU32},
		weights::Weight,
		PalletId,
	},
	frame_system::EnsureRoot,
	sp_runtime::{traits::AccountIdConversion, Perbill},
};

use super::RuntimeBlockWeights;
use crate::{
	currency::VER, AccountId, Balance, Balances, Runtime, RuntimeCall, RuntimeHoldReason, Session,
};

/// The shortest unbonding period governance may set: eight days.
pub const MIN_UNBONDING_PERIOD: crate::BlockNumber =
	super::marketplace::MAX_JOB_DURATION + super::proof_of_compute::MAX_VERIFICATION_SPAN;

parameter_types! {
	/// Where slashed stake and spam deposits go: an account no key controls, spendable only by
	/// governance (a Root call), until a treasury pallet manages it.
	pub TreasuryAccount: AccountId = PalletId(*b"py/trsry").into_account_truncating();
	pub const ReporterShare: Perbill = Perbill::from_percent(10);
	/// The least active stake a ledger may be left with by its owner (security review,
	/// finding 20): a vote or a ledger costs at least a VER of stake, not a planck.
	pub const MinBond: Balance = VER;
	/// Half a block for enacting approved proposals' calls; the rest wait for the next block.
	pub MaxEnactmentWeight: Weight = {
		let max = RuntimeBlockWeights::get().max_block;
		Weight::from_parts(max.ref_time().saturating_div(2), max.proof_size().saturating_div(2))
	};
}

impl pallet_staking_governance::Config for Runtime {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type RuntimeCall = RuntimeCall;
	type Slashed = ResolveTo<TreasuryAccount, Balances>;
	type ValidatorRegistration = Session;
	/// Root is a passed proposal (or sudo where a chain spec still has a sudo key).
	type AdminOrigin = EnsureRoot<AccountId>;
	type SlashOrigin = EnsureRoot<AccountId>;
	type CancelOrigin = EnsureRoot<AccountId>;
	type FastTrackOrigin = EnsureRoot<AccountId>;
	type MaxCandidates = ConstU32<100>;
	type MaxUnlockingChunks = ConstU32<32>;
	type MaxActiveProposals = ConstU32<16>;
	type MaxVotesClearedPerBlock = ConstU32<1024>;
	/// Parameter changes and batches of them. A runtime upgrade goes through
	/// `system.authorizeUpgrade(code_hash)` (small) and then anyone's `applyAuthorizedUpgrade`.
	type MaxCallLen = ConstU32<4096>;
	type MaxEnactmentWeight = MaxEnactmentWeight;
	/// A tenth of an equivocation slash to its reporters (as polkadot's staking pays).
	type ReporterShare = ReporterShare;
	type MinBond = MinBond;
	/// Stake backs work until the work can no longer be found wrong: a job's longest life plus
	/// the verification that may close after its deadline (security review, finding 19).
	type MinUnbondingPeriod = ConstU32<MIN_UNBONDING_PERIOD>;
	type WeightInfo = pallet_staking_governance::weights::SubstrateWeight<Runtime>;
}
