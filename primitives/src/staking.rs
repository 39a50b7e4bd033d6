//! How the market and verification pallets use stake without touching the staking pallet's
//! storage: check a provider's stake, and slash it with a reason.

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use polkadot_sdk::sp_runtime::{DispatchResult, Perbill};
use scale_info::TypeInfo;

/// Why stake was slashed; recorded in the staking pallet's `Slashed` event.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	Debug,
)]
pub enum SlashReason {
	/// A result that disagreed with the committee's accepted result.
	WrongResult,
	/// A committee member or assigned provider that never answered.
	NoShow,
	/// Work not delivered by its deadline.
	MissedDeadline,
	/// A validator that signed two conflicting blocks or votes.
	Equivocation,
	/// Decided by governance.
	Governance,
}

/// Provider stake, as the marketplace and proof-of-compute pallets see it.
pub trait ProviderStake<AccountId, Balance> {
	/// Stake `who` has bonded and not started to unbond.
	fn active_stake(who: &AccountId) -> Balance;
	/// `Ok` if `who` has at least the minimum provider stake, else the staking pallet's error.
	fn ensure_provider(who: &AccountId) -> DispatchResult;
	/// Slashes `amount` of `who`'s stake (bonded first, then unbonding); returns what was slashed.
	fn slash(who: &AccountId, amount: Balance, reason: SlashReason) -> Balance;
	/// Slashes `fraction` of `who`'s whole stake (bonded and unbonding); returns what was slashed.
	fn slash_fraction(who: &AccountId, fraction: Perbill, reason: SlashReason) -> Balance;
	/// As [`Self::slash_fraction`], but never less than `floor` (the collateral of the task the
	/// penalty is for; at most the whole stake), and pays `share` of what was slashed, in equal
	/// parts, to the accounts in `to` (those who caught it) — a bounty; the rest goes where every
	/// slash goes. Without an override the floor is ignored and nothing is paid.
	fn slash_fraction_to(
		who: &AccountId,
		fraction: Perbill,
		floor: Balance,
		reason: SlashReason,
		to: &[AccountId],
		share: Perbill,
	) -> Balance {
		let _ = (floor, to, share);
		Self::slash_fraction(who, fraction, reason)
	}
}
