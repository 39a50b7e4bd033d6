//! Types stored by the staking-governance pallet.

#![cfg_attr(
	not(test),
	deny(
		clippy::unwrap_used,
		clippy::expect_used,
		clippy::indexing_slicing,
		clippy::arithmetic_side_effects
	)
)]

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use polkadot_sdk::{
	frame_support::{traits::fungible::Inspect, BoundedVec},
	frame_system::pallet_prelude::BlockNumberFor,
	sp_core::Get,
	sp_runtime::{traits::CheckedAdd, Perbill},
};
use scale_info::TypeInfo;

use crate::Config;

/// The balance type of the pallet's currency.
pub type BalanceOf<T> = <<T as Config>::Currency as Inspect<
	<T as polkadot_sdk::frame_system::Config>::AccountId,
>>::Balance;

/// A ledger as stored.
pub type LedgerOf<T> = Ledger<BalanceOf<T>, BlockNumberFor<T>, <T as Config>::MaxUnlockingChunks>;
/// Parameters as stored.
pub type ParamsOf<T> = Params<BalanceOf<T>, BlockNumberFor<T>>;
/// A proposal as stored.
pub type ProposalOf<T> = Proposal<
	<T as polkadot_sdk::frame_system::Config>::AccountId,
	BalanceOf<T>,
	BlockNumberFor<T>,
	<T as Config>::MaxCallLen,
>;

/// Stake on its way out: free to withdraw at `unlock_at`.
#[derive(
	Clone, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo, Debug,
)]
pub struct UnlockChunk<Balance, BlockNumber> {
	/// How much.
	pub value: Balance,
	/// First block at which it can be withdrawn.
	pub unlock_at: BlockNumber,
}

/// An account's stake. All of it (`active` plus `unlocking`) is held from the account.
#[derive(Clone, PartialEq, Eq, Encode, Decode, MaxEncodedLen, TypeInfo, Debug)]
#[scale_info(skip_type_params(MaxChunks))]
pub struct Ledger<Balance, BlockNumber, MaxChunks: Get<u32>> {
	/// Bonded stake: counts for election, provider checks and votes.
	pub active: Balance,
	/// Unbonding stake, still slashable, by unlock block (ascending).
	pub unlocking: BoundedVec<UnlockChunk<Balance, BlockNumber>, MaxChunks>,
}

impl<Balance: Copy + Default + CheckedAdd, BlockNumber, MaxChunks: Get<u32>>
	Ledger<Balance, BlockNumber, MaxChunks>
{
	/// Active plus unlocking: what is held. `None` on overflow.
	pub fn total(&self) -> Option<Balance> {
		self.unlocking.iter().try_fold(self.active, |acc, chunk| acc.checked_add(&chunk.value))
	}
}

/// What governance can change; the runtime's genesis sets the first values.
#[derive(
	Clone,
	PartialEq,
	Eq,
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	Debug,
	serde::Serialize,
	serde::Deserialize,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Params<Balance, BlockNumber> {
	/// How many validators the election picks (the top stakers).
	pub validator_count: u32,
	/// Below this many electable candidates the validator set is left as it is.
	pub min_validator_count: u32,
	/// Bond needed to be a validator candidate.
	pub min_validator_bond: Balance,
	/// Bond needed to offer compute.
	pub min_provider_bond: Balance,
	/// Blocks between `unbond` and `withdraw_unbonded`.
	pub unbonding_period: BlockNumber,
	/// Blocks a proposal is open for votes.
	pub voting_period: BlockNumber,
	/// Blocks between approval and enactment.
	pub enactment_delay: BlockNumber,
	/// Part of all active stake that must vote (aye or nay) for a proposal to pass.
	pub min_turnout: Perbill,
	/// Part of the voting stake that must vote aye for a proposal to pass (strictly more than).
	pub min_approval: Perbill,
	/// Held from the proposer until the proposal ends; slashed if it is cancelled as spam.
	pub proposal_deposit: Balance,
}

/// Where a proposal is in its life.
#[derive(
	Clone, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo, Debug,
)]
pub enum ProposalStatus<BlockNumber> {
	/// Open for votes until `voting_ends`.
	Voting,
	/// Passed; dispatched as Root at `enact_at`.
	Approved {
		/// Block of enactment.
		enact_at: BlockNumber,
	},
}

/// A proposed call and its tally.
#[derive(Clone, PartialEq, Eq, Encode, Decode, MaxEncodedLen, TypeInfo, Debug)]
#[scale_info(skip_type_params(MaxCallLen))]
pub struct Proposal<AccountId, Balance, BlockNumber, MaxCallLen: Get<u32>> {
	/// Who proposed and deposited.
	pub proposer: AccountId,
	/// The SCALE-encoded runtime call to dispatch as Root.
	pub call: BoundedVec<u8, MaxCallLen>,
	/// The runtime's `spec_version` when it was proposed: the call is decoded only by that
	/// runtime, since an upgrade may renumber calls (security review, finding 23).
	pub spec_version: u32,
	/// The deposit held from the proposer.
	pub deposit: Balance,
	/// Last block of voting.
	pub voting_ends: BlockNumber,
	/// Stake voting aye.
	pub ayes: Balance,
	/// Stake voting nay.
	pub nays: Balance,
	/// Number of votes (not bounded: see `Config::MaxVotesClearedPerBlock`).
	pub voters: u32,
	/// Where it is.
	pub status: ProposalStatus<BlockNumber>,
}

/// One account's vote on one proposal.
#[derive(
	Clone, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo, Debug,
)]
pub struct Vote<Balance> {
	/// For or against.
	pub aye: bool,
	/// The voter's active stake when it voted: its weight.
	pub stake: Balance,
}

impl<Balance: Default, BlockNumber: From<u32>> Default for Params<Balance, BlockNumber> {
	/// One validator, no minimum bonds, one-block periods, no turnout needed, simple majority.
	/// Runtimes set real values in their genesis.
	fn default() -> Self {
		Self {
			validator_count: 1,
			min_validator_count: 1,
			min_validator_bond: Balance::default(),
			min_provider_bond: Balance::default(),
			unbonding_period: 1u32.into(),
			voting_period: 1u32.into(),
			enactment_delay: 1u32.into(),
			min_turnout: Perbill::zero(),
			min_approval: Perbill::from_percent(50),
			proposal_deposit: Balance::default(),
		}
	}
}
