//! # Staking and governance: proof of stake for validators and compute providers, slashing, and
//! stake-weighted votes that enact as Root
//!
//! ## Staking
//!
//! An account [`bond`](Pallet::bond)s VER (held with a `fungible` hold, reason `Staking`), can
//! [`bond_extra`](Pallet::bond_extra), [`unbond`](Pallet::unbond) (the amount leaves the active
//! stake at once and becomes withdrawable after `unbonding_period` blocks) and
//! [`withdraw_unbonded`](Pallet::withdraw_unbonded). Unbonding stake stays held and slashable.
//!
//! Roles:
//! - **validator candidate**: [`validate`](Pallet::validate) with at least `min_validator_bond`
//!   active; [`chill`](Pallet::chill) to stop. Unbonding below the minimum chills. There is no
//!   commission: this chain pays no staking rewards yet, so there is nothing to share.
//! - **compute provider**: any account with at least `min_provider_bond` active. The marketplace
//!   and proof-of-compute pallets check and slash it through
//!   [`verity_primitives::staking::ProviderStake`].
//!
//! ## Slashing
//!
//! By amount or by fraction, with a [`SlashReason`], from the active stake first and then from
//! unbonding chunks (latest unlock first). Each slash emits `Slashed`. The slashed funds go to
//! [`Config::Slashed`] (the runtime sends them to its treasury account), less the bounty a
//! verification slash pays those who caught it (`ProviderStake::slash_fraction_to`).
//!
//! ## Offences
//!
//! BABE and GRANDPA equivocations (two blocks for one slot, two votes in one round), proven
//! against the historical session they happened in and reported through `pallet-offences`,
//! reach this pallet as `OnOffenceHandler`: the offender is slashed the offence's fraction of its
//! stake (the fraction grows with how many validators offended together), with
//! [`Config::ReporterShare`] of it to the reporters, and chilled, so the next election leaves it
//! out. Repeated reports of one incident slash only the highest fraction once
//! ([`OffenceSlashes`], reset when the validator declares candidacy again).
//!
//! ## Validator election
//!
//! At each new session, through `pallet-session`'s `SessionManager`, the top `validator_count`
//! candidates by active stake that have session keys and at least `min_validator_bond` become the
//! next validator set; ties are broken by account id (ascending) so every node computes the same
//! set. With fewer than `min_validator_count` electable candidates the set stays as it is. BABE
//! and GRANDPA follow the session.
//!
//! ## Governance
//!
//! Anyone with active stake [`propose`](Pallet::propose)s a call (at most `MaxCallLen` bytes
//! encoded) with `proposal_deposit` held. For `voting_period` blocks each account with active stake
//! [`vote`](Pallet::vote)s aye or nay once, weighted by its active stake **at the time of the
//! vote**; the voted stake is **locked** (cannot be unbonded) until voting ends, so weight cannot
//! be voted and then withdrawn. Bonding more later does not change a cast vote. When voting ends
//! the proposal passes if the turnout (ayes + nays over all active stake) reaches `min_turnout`
//! and ayes are more than `min_approval` of the votes; after `enactment_delay` blocks the call is
//! dispatched with Root origin and its result is in `ProposalEnacted`. The deposit is returned
//! when the proposal ends, except when [`Config::CancelOrigin`] cancels it as spam (then it is
//! slashed). [`Config::FastTrackOrigin`] can enact an approved proposal at the next block.
//!
//! Defences (security review, finding 1): votes are not limited in number — tallies run as votes
//! come in and an ended proposal's votes are cleared `MaxVotesClearedPerBlock` per block — so
//! sybil accounts with a planck of stake each cannot fill a proposal's slots and lock honest
//! stakers out of voting; and each further proposal an account has open at once doubles its
//! deposit (`proposal_deposit × 2^open`), so one account cannot cheaply fill the
//! `MaxActiveProposals` queue. Enactment is capped (finding 12): approved calls run while their
//! weights fit `MaxEnactmentWeight` (half a block in the runtime); the rest wait a block. A
//! proposal records the runtime's `spec_version` and is decoded only by that runtime (finding 23):
//! after an upgrade, which may renumber calls, an approved proposal ends with
//! `ProposedUnderOtherRuntime` instead of running as some other call, and is proposed again.
//! A ledger holds at least [`Config::MinBond`] of active stake (a VER in the runtime) or nothing
//! (finding 20): its owner cannot bond or unbond to less, so each voter or ledger costs real
//! stake, not a planck (a slash may still leave less; topping up must reach the minimum again).
//! `unbonding_period` is at least [`Config::MinUnbondingPeriod`] (finding 19; in the runtime a
//! job's longest life plus the verification after it), so stake unbonded when work is assigned
//! is still held when the work is judged.
//!
//! Parameters ([`Params`]) are storage that Root sets with [`set_params`](Pallet::set_params),
//! so a vote changes them; so are the other pallets' market and verification parameters.
//!
//! ## Example
//!
//! From `tests::proposal_passes_and_enacts_as_root`:
//!
//! ```ignore
//! assert_ok!(Staking::propose(RuntimeOrigin::signed(1), Box::new(set_validator_count(7))));
//! assert_ok!(Staking::vote(RuntimeOrigin::signed(1), 0, true));
//! run_to_block(voting_ends + 1 + enactment_delay);
//! assert_eq!(Parameters::<Test>::get().validator_count, 7);
//! ```

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
mod impls;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
pub mod types;
pub mod weights;

pub use types::*;
pub use verity_primitives::staking::SlashReason;

/// Ended proposals whose votes wait to be cleared, at most (one more is cleared each block; past
/// this the leftover votes stay, each having cost its voter a fee).
pub const VOTES_TO_CLEAR: u32 = 64;
pub use weights::WeightInfo;

#[polkadot_sdk::frame_support::pallet]
pub mod pallet {
	use super::*;
	use alloc::{boxed::Box, vec::Vec};
	use polkadot_sdk::{
		frame_support::{
			dispatch::GetDispatchInfo,
			pallet_prelude::*,
			traits::{
				fungible::{
					hold::Balanced as BalancedHold, Credit, InspectHold, Mutate, MutateHold,
				},
				OnUnbalanced, UnfilteredDispatchable, ValidatorRegistration,
			},
		},
		frame_system::pallet_prelude::*,
		sp_runtime::{traits::Zero, Perbill},
	};

	const STORAGE_VERSION: StorageVersion = StorageVersion::new(0);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	/// Why the pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// Bonded and unbonding stake.
		#[codec(index = 0)]
		Staking,
		/// A proposal's deposit.
		#[codec(index = 1)]
		ProposalDeposit,
	}

	#[pallet::config]
	pub trait Config: polkadot_sdk::frame_system::Config<RuntimeEvent: From<Event<Self>>> {
		/// The staked currency.
		type Currency: MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>
			+ InspectHold<Self::AccountId>
			+ BalancedHold<Self::AccountId>
			+ Mutate<Self::AccountId>;

		/// The overarching hold reason.
		type RuntimeHoldReason: From<HoldReason>;

		/// The calls proposals carry, dispatched as Root when enacted.
		type RuntimeCall: Parameter
			+ UnfilteredDispatchable<RuntimeOrigin = Self::RuntimeOrigin>
			+ GetDispatchInfo;

		/// Where slashed stake and slashed proposal deposits go.
		type Slashed: OnUnbalanced<Credit<Self::AccountId, Self::Currency>>;

		/// Which accounts have session keys (only they can be elected).
		type ValidatorRegistration: ValidatorRegistration<Self::AccountId>;

		/// Who sets [`Params`] (Root: a passed proposal).
		type AdminOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// Who slashes by hand, e.g. for a reported equivocation.
		type SlashOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// Who cancels proposals, returning or slashing the deposit.
		type CancelOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// Who enacts an approved proposal without waiting for the enactment delay.
		type FastTrackOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// Most validator candidates: bounds the candidate list the election sorts.
		#[pallet::constant]
		type MaxCandidates: Get<u32>;

		/// Most unbonding chunks per account: bounds the ledger.
		#[pallet::constant]
		type MaxUnlockingChunks: Get<u32>;

		/// Most proposals open or awaiting enactment: bounds the per-block hook's work.
		#[pallet::constant]
		type MaxActiveProposals: Get<u32>;

		/// Votes of ended proposals removed per block. Votes themselves are not limited: every
		/// staker can vote on every proposal, so nobody can take the vote away from others by
		/// filling slots (security review, finding 1).
		#[pallet::constant]
		type MaxVotesClearedPerBlock: Get<u32>;

		/// Most weight the calls of approved proposals may use in one block: an enactment that
		/// would go past it waits for the next block (the first of a block always runs), as
		/// pallet-scheduler does with its `MaximumWeight` (security review, finding 12).
		#[pallet::constant]
		type MaxEnactmentWeight: Get<Weight>;

		/// Largest encoded call a proposal may carry (a runtime upgrade goes through a preimage
		/// pallet or an authorized upgrade, not inline).
		#[pallet::constant]
		type MaxCallLen: Get<u32>;

		/// Share of an equivocation slash paid to those who reported it, in equal parts (the
		/// rest goes to [`Config::Slashed`]).
		#[pallet::constant]
		type ReporterShare: Get<Perbill>;

		/// The least active stake an owner may leave in its ledger: `bond` and `bond_extra` must
		/// reach it, `unbond` must leave it or nothing (`BelowMinimumBond`). Slashes may go below.
		#[pallet::constant]
		type MinBond: Get<BalanceOf<Self>>;

		/// The shortest `unbonding_period` the parameters may set (security review, finding 19):
		/// stake must stay slashable for as long as the work it backed can still be found
		/// wrong, which in the runtime is a job's longest life plus the verification that may
		/// close after its deadline. A shorter period would let a provider unbond when it is
		/// assigned and withdraw before a late audit slashes it.
		#[pallet::constant]
		type MinUnbondingPeriod: Get<BlockNumberFor<Self>>;

		/// Weights from this pallet's benchmarks.
		type WeightInfo: WeightInfo;
	}

	/// Each staker's ledger.
	// Hasher: accounts are chosen by users.
	#[pallet::storage]
	pub type Ledgers<T: Config> = StorageMap<_, Blake2_128Concat, T::AccountId, LedgerOf<T>>;

	/// Sum of all active stake: the turnout denominator.
	#[pallet::storage]
	pub type TotalActive<T: Config> = StorageValue<_, BalanceOf<T>, ValueQuery>;

	/// Validator candidates.
	#[pallet::storage]
	pub type Candidates<T: Config> =
		StorageValue<_, BoundedVec<T::AccountId, T::MaxCandidates>, ValueQuery>;

	/// The set the last election chose.
	#[pallet::storage]
	pub type ElectedValidators<T: Config> =
		StorageValue<_, BoundedVec<T::AccountId, T::MaxCandidates>, ValueQuery>;

	/// Governable parameters.
	#[pallet::storage]
	pub type Parameters<T: Config> = StorageValue<_, ParamsOf<T>, OptionQuery>;

	/// Proposals by index.
	// Hasher: sequential index.
	#[pallet::storage]
	pub type Proposals<T: Config> = StorageMap<_, Twox64Concat, u32, ProposalOf<T>>;

	/// Indices of proposals voting or awaiting enactment, oldest first.
	#[pallet::storage]
	pub type ActiveProposals<T: Config> =
		StorageValue<_, BoundedVec<u32, T::MaxActiveProposals>, ValueQuery>;

	/// The next proposal's index.
	#[pallet::storage]
	pub type NextProposal<T: Config> = StorageValue<_, u32, ValueQuery>;

	/// Votes by proposal and voter.
	// Hasher: sequential index, then user-chosen account.
	#[pallet::storage]
	pub type Votes<T: Config> =
		StorageDoubleMap<_, Twox64Concat, u32, Blake2_128Concat, T::AccountId, Vote<BalanceOf<T>>>;

	/// Ended proposals whose votes were more than one block clears: cleared block by block
	/// (indices are never reused, so a leftover vote changes nothing meanwhile).
	#[pallet::storage]
	pub type VotesToClear<T: Config> =
		StorageValue<_, BoundedVec<u32, ConstU32<VOTES_TO_CLEAR>>, ValueQuery>;

	/// Stake an account voted with, locked against unbonding until the block given.
	// Hasher: accounts are chosen by users.
	#[pallet::storage]
	pub type VoteLocks<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, (BalanceOf<T>, BlockNumberFor<T>)>;

	/// Validators slashed for an offence (BABE or GRANDPA equivocation) since they last declared
	/// candidacy: the highest fraction slashed so far and the stake it was a fraction of. A later
	/// offence slashes only what its fraction adds to that, so one double-signing incident, seen
	/// in many slots and rounds, is paid for once; `validate` starts a new record.
	// Hasher: validator accounts are chosen by users.
	#[pallet::storage]
	pub type OffenceSlashes<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, (Perbill, BalanceOf<T>)>;

	#[pallet::genesis_config]
	pub struct GenesisConfig<T: Config> {
		/// `(account, bond, validator candidate?)`, bonded from the account's genesis balance.
		pub stakers: Vec<(T::AccountId, BalanceOf<T>, bool)>,
		/// The first parameters.
		pub params: ParamsOf<T>,
	}

	impl<T: Config> Default for GenesisConfig<T> {
		/// No stakers; [`Params::default`] with the runtime's shortest unbonding period, so the
		/// default genesis is a valid one.
		fn default() -> Self {
			let params =
				Params { unbonding_period: T::MinUnbondingPeriod::get(), ..Params::default() };
			GenesisConfig { stakers: Vec::new(), params }
		}
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			assert!(Pallet::<T>::params_are_valid(&self.params), "invalid genesis params");
			Parameters::<T>::put(self.params.clone());
			for (who, bond, candidate) in &self.stakers {
				assert!(
					Pallet::<T>::do_bond(who, *bond).is_ok(),
					"genesis staker cannot bond: is it endowed?"
				);
				if *candidate {
					assert!(Pallet::<T>::do_validate(who).is_ok(), "genesis candidate invalid");
				}
			}
		}
	}

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// Stake was bonded (a new ledger or more on an existing one).
		Bonded {
			/// The staker.
			who: T::AccountId,
			/// Bonded now.
			amount: BalanceOf<T>,
		},
		/// Stake started unbonding.
		Unbonded {
			/// The staker.
			who: T::AccountId,
			/// How much.
			amount: BalanceOf<T>,
			/// When it can be withdrawn.
			unlock_at: BlockNumberFor<T>,
		},
		/// Unbonded stake was released to the staker.
		Withdrawn {
			/// The staker.
			who: T::AccountId,
			/// How much.
			amount: BalanceOf<T>,
		},
		/// An account became a validator candidate.
		ValidatorCandidate {
			/// The candidate.
			who: T::AccountId,
		},
		/// A candidate stopped being one (by itself, or by unbonding below the minimum).
		Chilled {
			/// The former candidate.
			who: T::AccountId,
		},
		/// Stake was slashed.
		Slashed {
			/// Whose.
			who: T::AccountId,
			/// How much was taken.
			amount: BalanceOf<T>,
			/// Why.
			reason: SlashReason,
		},
		/// An offence by a validator (an equivocation proven on chain) was punished: `fraction`
		/// of its stake slashed at most (the `Slashed` event says how much), and it was chilled.
		OffencePunished {
			/// The offender.
			who: T::AccountId,
			/// The session in which it offended.
			session: u32,
			/// The fraction of its stake the offence costs it.
			fraction: Perbill,
		},
		/// The election chose the validators of a coming session.
		ValidatorsElected {
			/// The session they validate.
			session: u32,
			/// The set, highest stake first.
			validators: Vec<T::AccountId>,
		},
		/// Too few electable candidates: the validator set stays as it is.
		ElectionSkipped {
			/// The session.
			session: u32,
			/// How many were electable.
			electable: u32,
		},
		/// A proposal was made.
		Proposed {
			/// Its index.
			index: u32,
			/// Who proposed.
			proposer: T::AccountId,
			/// The deposit held.
			deposit: BalanceOf<T>,
			/// Last block of voting.
			voting_ends: BlockNumberFor<T>,
		},
		/// A vote was cast.
		Voted {
			/// The proposal.
			index: u32,
			/// The voter.
			voter: T::AccountId,
			/// Aye or nay.
			aye: bool,
			/// The vote's weight.
			stake: BalanceOf<T>,
		},
		/// Voting ended and the proposal passed.
		ProposalApproved {
			/// The proposal.
			index: u32,
			/// Stake for.
			ayes: BalanceOf<T>,
			/// Stake against.
			nays: BalanceOf<T>,
			/// When it is enacted.
			enact_at: BlockNumberFor<T>,
		},
		/// Voting ended and the proposal failed; its deposit was returned.
		ProposalRejected {
			/// The proposal.
			index: u32,
			/// Stake for.
			ayes: BalanceOf<T>,
			/// Stake against.
			nays: BalanceOf<T>,
			/// Whether enough stake voted (if so, it failed on approval).
			turnout_reached: bool,
		},
		/// An approved proposal was dispatched as Root; its deposit was returned.
		ProposalEnacted {
			/// The proposal.
			index: u32,
			/// What the call returned.
			result: DispatchResult,
		},
		/// A proposal was cancelled.
		ProposalCancelled {
			/// The proposal.
			index: u32,
			/// Whether the deposit was slashed (spam) rather than returned.
			deposit_slashed: bool,
		},
		/// Governance set new parameters.
		ParamsSet {
			/// The new parameters.
			params: ParamsOf<T>,
		},
	}

	#[pallet::error]
	pub enum Error<T> {
		/// The account already has a ledger: use `bond_extra`.
		AlreadyBonded,
		/// The account has no stake.
		NotBonded,
		/// The amount must be above zero.
		ZeroAmount,
		/// Unbonding more than the active stake.
		InsufficientBond,
		/// Too many unbonding chunks: withdraw the unlocked ones or wait.
		TooManyUnlockingChunks,
		/// No unbonding chunk has reached its unlock block yet.
		NothingToWithdraw,
		/// Active stake is below `min_validator_bond`.
		BelowValidatorMinimum,
		/// Active stake is below `min_provider_bond`.
		BelowProviderMinimum,
		/// Already a validator candidate.
		AlreadyCandidate,
		/// Not a validator candidate.
		NotCandidate,
		/// The candidate list is full.
		TooManyCandidates,
		/// Proposing and voting need active stake.
		NoStake,
		/// The encoded call is longer than `MaxCallLen`.
		CallTooLarge,
		/// `MaxActiveProposals` are open or awaiting enactment.
		TooManyProposals,
		/// No active proposal has this index.
		UnknownProposal,
		/// The proposal's voting period is over.
		VotingClosed,
		/// The account already voted on this proposal.
		AlreadyVoted,
		/// The stake is locked by a vote until its proposal's voting ends.
		StakeLockedByVote,
		/// The proposal has not been approved.
		NotApproved,
		/// The parameters are inconsistent (counts, periods or approval below one half).
		InvalidParams,
		/// The pallet has no parameters (genesis did not set them).
		NoParams,
		/// An approved proposal was made under another runtime version (an upgrade came
		/// between), so its call was not decoded nor dispatched: propose it again.
		ProposedUnderOtherRuntime,
		/// An approved proposal's call does not decode.
		UndecodableCall,
		/// The ledger would hold less active stake than `MinBond` (but more than nothing).
		BelowMinimumBond,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn on_initialize(now: BlockNumberFor<T>) -> Weight {
			Self::process_proposals(now)
		}

		fn integrity_test() {
			assert!(T::MaxCandidates::get() > 0, "MaxCandidates must be positive");
			assert!(T::MaxUnlockingChunks::get() > 0, "MaxUnlockingChunks must be positive");
			assert!(T::MaxActiveProposals::get() > 0, "MaxActiveProposals must be positive");
			assert!(
				T::MaxVotesClearedPerBlock::get() > 0,
				"MaxVotesClearedPerBlock must be positive"
			);
			assert!(T::MaxCallLen::get() >= 16, "MaxCallLen must fit a small call");
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(
			_n: BlockNumberFor<T>,
		) -> Result<(), polkadot_sdk::sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Bond `amount` from the caller's free balance, creating its ledger.
		///
		/// - Origin: signed.
		/// - Errors: `AlreadyBonded`, `ZeroAmount`, `BelowMinimumBond`; a token error if it cannot
		///   be held.
		/// - Events: `Bonded`.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::bond())]
		pub fn bond(origin: OriginFor<T>, amount: BalanceOf<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			ensure!(!Ledgers::<T>::contains_key(&who), Error::<T>::AlreadyBonded);
			Self::do_bond(&who, amount)
		}

		/// Bond `amount` more.
		///
		/// - Origin: signed, with a ledger.
		/// - Errors: `NotBonded`, `ZeroAmount`, `BelowMinimumBond` (a slashed ledger is topped up
		///   to `MinBond` at least); a token error if it cannot be held.
		/// - Events: `Bonded`.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::bond_extra())]
		pub fn bond_extra(origin: OriginFor<T>, amount: BalanceOf<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			ensure!(Ledgers::<T>::contains_key(&who), Error::<T>::NotBonded);
			Self::do_bond(&who, amount)
		}

		/// Start unbonding `amount` of the active stake; it can be withdrawn after
		/// `unbonding_period` blocks. A candidate left below `min_validator_bond` is chilled.
		///
		/// - Origin: signed, with a ledger.
		/// - Errors: `NotBonded`, `ZeroAmount`, `InsufficientBond`, `BelowMinimumBond` (leave
		///   `MinBond` or unbond everything), `StakeLockedByVote`, `TooManyUnlockingChunks`.
		/// - Events: `Unbonded`, maybe `Chilled`.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::unbond())]
		pub fn unbond(origin: OriginFor<T>, amount: BalanceOf<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_unbond(&who, amount)
		}

		/// Release every unbonding chunk whose unlock block has come.
		///
		/// - Origin: signed, with a ledger.
		/// - Errors: `NotBonded`, `NothingToWithdraw`.
		/// - Events: `Withdrawn`.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::withdraw_unbonded())]
		pub fn withdraw_unbonded(origin: OriginFor<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_withdraw(&who)
		}

		/// Become a validator candidate. Set session keys too (`session.setKeys`), or the
		/// election skips the candidate.
		///
		/// - Origin: signed, with at least `min_validator_bond` active.
		/// - Errors: `NotBonded`, `BelowValidatorMinimum`, `AlreadyCandidate`,
		///   `TooManyCandidates`.
		/// - Events: `ValidatorCandidate`.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::validate())]
		pub fn validate(origin: OriginFor<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_validate(&who)
		}

		/// Stop being a validator candidate (effective from the next election).
		///
		/// - Origin: signed, a candidate.
		/// - Errors: `NotCandidate`.
		/// - Events: `Chilled`.
		#[pallet::call_index(5)]
		#[pallet::weight(T::WeightInfo::chill())]
		pub fn chill(origin: OriginFor<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_chill(&who)
		}

		/// Slash `amount` of `who`'s stake for `reason`.
		///
		/// - Origin: `SlashOrigin`.
		/// - Errors: `NotBonded`, `ZeroAmount`.
		/// - Events: `Slashed`.
		#[pallet::call_index(6)]
		#[pallet::weight(T::WeightInfo::slash())]
		pub fn slash(
			origin: OriginFor<T>,
			who: T::AccountId,
			amount: BalanceOf<T>,
			reason: SlashReason,
		) -> DispatchResult {
			T::SlashOrigin::ensure_origin(origin)?;
			ensure!(!amount.is_zero(), Error::<T>::ZeroAmount);
			ensure!(Ledgers::<T>::contains_key(&who), Error::<T>::NotBonded);
			Self::do_slash(&who, amount, reason);
			Ok(())
		}

		/// Propose `call`, to be dispatched as Root if the vote passes.
		///
		/// - Origin: signed, with active stake and `proposal_deposit` free.
		/// - Errors: `NoStake`, `CallTooLarge`, `TooManyProposals`; a token error if the deposit
		///   cannot be held.
		/// - Events: `Proposed`.
		#[pallet::call_index(7)]
		#[pallet::weight(T::WeightInfo::propose(T::MaxCallLen::get()))]
		pub fn propose(
			origin: OriginFor<T>,
			call: Box<<T as Config>::RuntimeCall>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_propose(who, &call)
		}

		/// Vote on proposal `index` with the caller's active stake.
		///
		/// - Origin: signed, with active stake.
		/// - Errors: `NoStake`, `UnknownProposal`, `VotingClosed`, `AlreadyVoted`.
		/// - Events: `Voted`.
		#[pallet::call_index(8)]
		#[pallet::weight(T::WeightInfo::vote())]
		pub fn vote(origin: OriginFor<T>, index: u32, aye: bool) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_vote(who, index, aye)
		}

		/// Cancel proposal `index`; with `slash_deposit` (spam) its deposit is slashed, otherwise
		/// returned.
		///
		/// - Origin: `CancelOrigin`.
		/// - Errors: `UnknownProposal`.
		/// - Events: `ProposalCancelled`.
		#[pallet::call_index(9)]
		#[pallet::weight(T::WeightInfo::cancel_proposal(T::MaxVotesClearedPerBlock::get()))]
		pub fn cancel_proposal(
			origin: OriginFor<T>,
			index: u32,
			slash_deposit: bool,
		) -> DispatchResult {
			T::CancelOrigin::ensure_origin(origin)?;
			Self::do_cancel(index, slash_deposit)
		}

		/// Enact approved proposal `index` at the next block instead of after the delay.
		///
		/// - Origin: `FastTrackOrigin`.
		/// - Errors: `UnknownProposal`, `NotApproved`.
		/// - Events: none until it is enacted.
		#[pallet::call_index(10)]
		#[pallet::weight(T::WeightInfo::fast_track())]
		pub fn fast_track(origin: OriginFor<T>, index: u32) -> DispatchResult {
			T::FastTrackOrigin::ensure_origin(origin)?;
			Self::do_fast_track(index)
		}

		/// Set the governable parameters.
		///
		/// - Origin: `AdminOrigin` (Root, i.e. a passed proposal).
		/// - Errors: `InvalidParams`.
		/// - Events: `ParamsSet`.
		#[pallet::call_index(11)]
		#[pallet::weight(T::WeightInfo::set_params())]
		pub fn set_params(origin: OriginFor<T>, params: ParamsOf<T>) -> DispatchResult {
			T::AdminOrigin::ensure_origin(origin)?;
			ensure!(Self::params_are_valid(&params), Error::<T>::InvalidParams);
			Parameters::<T>::put(params.clone());
			Self::deposit_event(Event::ParamsSet { params });
			Ok(())
		}
	}

	impl<T: Config> Pallet<T> {
		/// Whether `params` are consistent.
		pub fn params_are_valid(params: &ParamsOf<T>) -> bool {
			params.min_validator_count >= 1
				&& params.validator_count >= params.min_validator_count
				&& params.validator_count <= T::MaxCandidates::get()
				&& !params.voting_period.is_zero()
				&& params.unbonding_period >= T::MinUnbondingPeriod::get()
				&& params.min_approval >= Perbill::from_percent(50)
		}
	}
}
