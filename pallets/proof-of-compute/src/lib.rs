//! # Proof of compute: random committees, commit–reveal, aggregation by the kernel's rule,
//! slashing, and training audits
//!
//! ## Committees
//!
//! When a provider submits a task's result, the marketplace hands the task over
//! ([`TaskVerifier::verify`](verity_primitives::market::TaskVerifier)). A round opens with the
//! task's provider alone ([`Event::CommitteePending`]); [`Config::DrawDelay`] blocks later the
//! hook draws `k` verifiers uniformly without replacement (a partial Fisher–Yates shuffle keyed
//! by that block's randomness — BABE's VRF output of the parent block in the runtime — mixed
//! with the round id) from the registered verifiers that still hold the minimum provider stake
//! ([`Config::Staking`]), the provider excluded ([`Event::CommitteeSelected`]). The randomness
//! did not exist when the provider chose to submit, so it cannot time its submission to a
//! committee it likes. `k` is the inference job's committee, or `training_committee` for
//! training tasks, raised to [`Config::MinVerifiers`] and never more than `max_committee − 1`.
//! Every eligible verifier is equally likely: a verifier's chance to sit on a committee is
//! `k / n` for `n` eligible.
//!
//! ## Commit–reveal
//!
//! For `commit_window` blocks members [`commit`](Pallet::commit) the commitment specified in
//! [`verity_primitives::commit`]:
//!
//! ```text
//! commitment = sha2-256( "verity/commit/v1"      16 bytes, ASCII
//!                      ‖ round                   8 bytes, u64 little endian
//!                      ‖ digest                 32 bytes
//!                      ‖ nonce                  32 bytes, random, kept secret until reveal
//!                      ‖ member )               SCALE encoding of the account id (32 bytes)
//! ```
//!
//! then, for `reveal_window` blocks after that, [`reveal`](Pallet::reveal) `(digest, result CID,
//! nonce, summary)`. A reveal that does not hash to the member's own commitment, from a
//! non-member, without a commitment, or outside its window is rejected. Commitments close
//! before reveals open, so copying another member's revealed digest is useless, and a copied
//! commitment does not open for the copier because the member is inside the hash.
//!
//! The **digest** is specified, with test vectors, in [`verity_primitives::digest`] (one
//! definition, used by `verity-worker`): sha2-256 over the outputs' canonical encoding (for
//! `QuantisedDigest`, of the outputs rounded half to even to the rule's decimal places); for
//! `NumericTolerance` it is sha2-256 of the summary vector's values as little-endian `i64`, in
//! order, and the chain checks that.
//!
//! ## Aggregation
//!
//! After the reveal window the hook aggregates the **verifiers'** reveals by the kernel's
//! [`AggregationRule`](verity_primitives::kernel::AggregationRule): for the digest rules, the
//! digest revealed by more than half of the verifiers; for numeric tolerance, the first revealed
//! vector (in committee order) that is within tolerance of more than half of them (element-wise
//! `|a − b| ≤ abs` or `|a − b| · 10^6 ≤ ppm · max(|a|, |b|)`). The provider is not counted: its
//! reveal is judged against the verifiers' verdict.
//!
//! ## Outcome
//!
//! Members that did not reveal are slashed `no_reveal_slash` of their stake (`NoShow`);
//! verifiers whose reveal disagrees with an accepted result, and a provider whose reveal does,
//! are slashed `dissent_slash` (`WrongResult`). If the provider's reveal agrees with the
//! verifiers' verdict the task is verified and the agreeing verifiers are credited
//! ([`TaskOutcome::task_verified`](verity_primitives::market::TaskOutcome)); otherwise the task is
//! rejected and the marketplace reassigns it. Without a verifier quorum the task is re-run by a
//! fresh committee (drawn the same way) that excludes every verifier drawn for it before, up to
//! `max_reruns` times; then it fails and the buyer is refunded. Every step emits an event.
//!
//! ## Training audits
//!
//! A training group's members [`commit_epoch`](Pallet::commit_epoch) for each epoch: the
//! checkpoint CID and the Merkle root (the tree of
//! [`verity_primitives::merkle::merkle_root`]: leaves `blake2-256(0x00 ‖ digest)`, nodes
//! `blake2-256(0x01 ‖ left ‖ right)`, an odd node carried up) of one leaf per step. The pallet
//! only compares leaves; `verity-worker` makes a step's leaf commit to the state the step started
//! from, its gradient digest and the state it led to (its step chain), so an auditor replays the
//! audited step alone from the member's state after checking the chain against the root and the
//! epoch's start. `epoch_window` blocks after the first commitment, and `DrawDelay` blocks later,
//! the hook draws `s = audits_per_epoch` (member, step) pairs — a member uniformly, then a step
//! uniformly among its steps. Each audit is a round whose committee comes from verifiers outside
//! the group; they re-execute that step on the member's shard and commit–reveal the leaf it gives;
//! the audited member [`reveal_leaf`](Pallet::reveal_leaf)s its leaf for that step with a Merkle
//! proof against its root. If the verifiers agree on a digest and the member's leaf
//! differs (or was never revealed), the member is slashed `dissent_slash` and the epoch is
//! invalid: the member's task can no longer be verified. When an epoch's audits are over and
//! none invalidated it, its commitments move into [`EpochHistory`] for good (start checkpoint,
//! each member's checkpoint, steps and root, audits drawn and passed): the verified history a
//! trained kernel version's lineage points at.
//!
//! **Catch probability.** In a group of `G` members with equal step counts, a member that fakes
//! a fraction `f` of its steps is caught by one audit with probability `f / G`, and by at least
//! one of `s` independent audits with probability `1 − (1 − f / G)^s` per epoch, and
//! `1 − (1 − f / G)^(s·E)` over `E` epochs. For `G = 3`, `s = 4`, `f = 0.1`: 13 % per epoch,
//! 75 % over 10 epochs; faking every step (`f = 1`) is caught with `1 − (2/3)^4` = 80 % per epoch.
//!
//! **A member replaced.** When the marketplace reassigns a training task while its job still
//! trains (its provider missed a heartbeat), the new provider cannot commit the epochs that opened
//! before it came, whose windows have passed or run:
//! [`TaskVerifier::task_reassigned`](verity_primitives::market::TaskVerifier) moves the task's
//! `NextEpoch` to the job's next epoch to open (one past the newest any member committed),
//! and forgets an epoch its predecessor's audit invalidated (the predecessor was slashed for it;
//! an audit that ends after the reassignment slashes the member and leaves the task alone). The
//! skipped epochs are the predecessor's, audited as such; the newcomer joins the group at the
//! checkpoint those epochs ended with and commits every epoch after. Once every epoch has opened
//! a reassignment changes nothing, so a replacement cannot be paid for a finished group's work.
//!
//! ## Defences (security review of the pallets)
//!
//! - **Epochs only as the job has them** (finding 2, in part): a task commits epoch `e` only if
//!   `e` is below its job's epochs and it committed `e − 1` (`NextEpoch`), so one provider cannot open epochs
//!   (and their audits and schedule entries) without end; and epochs close from a schedule of
//!   their own ([`EpochSchedule`]), so however many training epochs close together, task rounds,
//!   re-runs and audits still find room in [`Schedule`]. Each commitment holds
//!   [`Config::EpochDeposit`] from the member while the epoch and its audits are live storage
//!   ([`EpochDeposits`] records who paid, so a reassigned task's newcomer never gets its
//!   predecessor's back); it is returned when the epoch's audits end, and burnt
//!   ([`Event::EpochDepositForfeited`]) if an audit convicts the member. The verified history
//!   ([`EpochHistory`]) is kept for good, as a trained version's lineage: its size is bounded by
//!   the job (its epochs × `MaxGroup` commitments), which the buyer paid for.
//! - **Audits come before payment** (finding 3, in part): a training result is taken only once
//!   the task committed every epoch of its job and the last epoch's audits ended
//!   (`EpochsMissing`, `EpochNotAudited`), and an epoch invalidated while the task's round runs
//!   still turns the verdict into a rejection, and audits are drawn `DrawDelay` blocks after
//!   the epoch's last possible commitment, from randomness that did not exist when it was made.
//!   The step count is the job's, not the member's: the marketplace reads it from the job's
//!   settings when the job is posted (`TaskInfo::steps`), and a commitment with any other count
//!   is refused (`WrongSteps`), so a member cannot shrink its tree to the steps it computed.
//! - **Committees drawn after the submission** (finding 4): from the randomness of a block
//!   `DrawDelay` blocks later (see Committees). What is left: a validator knows its own future
//!   VRF outputs, so a provider that is also the author of the draw's parent block could predict
//!   its committee; it cannot choose the output, only withhold its block.
//! - **At least three independent verifiers** (finding 11): a committee is never smaller than
//!   `MinVerifiers` verifiers besides the provider, whose reveal does not count towards the
//!   quorum, so a provider and one colluder cannot block a verdict, and a wrong provider is
//!   outvoted and slashed rather than re-run until its task fails.
//! - **Catching fraud pays** (finding 15, in part): whoever the verifiers' verdict convicts (a
//!   wrong or silent provider, a dissenting verifier, an audited member whose leaf differs) pays
//!   [`Config::CatchBounty`] (half, in the runtime) of its slash to the agreeing verifiers, in
//!   equal parts ([`ProviderStake::slash_fraction_to`](verity_primitives::staking::ProviderStake)).
//!   A convicted provider (wrong, silent, or caught by an audit of its training task) loses at
//!   least its task's collateral (`TaskInfo::collateral`, a multiple of what the task pays, kept
//!   bonded by the marketplace), so the penalty tracks the value at risk rather than a share of
//!   whatever stake it has. Audits are paid: the verifiers that agree on an audit's verdict are
//!   credited on the audited member's task ([`TaskOutcome::task_audited`](verity_primitives::market::TaskOutcome))
//!   and share its verification margin with the final committee when it is paid. (Verifiers are
//!   still credited only when the task is verified, and a verifier's penalty is a share of its
//!   stake.)
//! - **No verifier slot kept by stake that left** (finding 8): anyone can
//!   [`prune_verifier`](Pallet::prune_verifier) an account whose provider stake is gone.
//! - **The delivered result is the committee's** (finding 13): the accepted CID is the one most
//!   members of the agreeing majority revealed (ties: the lead's), not the provider's alone.
//! - **No submission too late to verify** (finding 7, with the marketplace):
//!   `TaskVerifier::verification_blocks` (commit + reveal windows + 1) lets the marketplace refuse
//!   a result whose round could not close before its job's deadline.
//! - **Re-runs never outgrow their exclusion list** (finding 21): parameters are refused unless a
//!   training group plus every committee `max_reruns` re-runs exclude fits `MaxExcluded`, so an
//!   excluded verifier is never drawn again; the runtime takes `MaxCommittee` from the
//!   marketplace, so a credited committee always fits the task's record.
//! - **Nobody judges its own job** (finding 26): the task's buyer is excluded from its committee
//!   and its re-runs (the provider judges nothing: it sits first and is judged).
//! - **`try_state` sees what would wait forever** (finding 27): every round has its close (or
//!   draw) scheduled, every open epoch its close, each epoch's `pending` equals its live audits,
//!   and no verifier is registered twice; an epoch is either live or in the history, never both.
//! - **A verdict's market callback is charged, and the worst close** (finding 12): each round the
//!   hook closes is charged the market's `TaskOutcome::outcome_weight` (the worst of completing
//!   and paying a whole job, reassigning a task, failing a job) on top of the worst of
//!   `close_round`, `close_round_contested` (a bare majority, every dissenter slashed with a
//!   bounty) and `close_round_no_show` (everyone slashed, a re-run drawn over every verifier),
//!   each benchmarked at the largest committee, and `close_audit` (an audit convicting its member
//!   and ending a full group's epoch: a slash with bounties, every deposit released or burnt);
//!   `close_epoch` at the largest group and verifier set. The weights come from a
//!   production-profile node (`docs/benchmarks.md`).
//! - **Verification ends in known time** (finding 19): the parameters' [`Pallet::verification_span`]
//!   (epoch window, draw delay, an audit round and the final round with all their re-runs, each
//!   closing possibly slid) must fit [`Config::MaxVerificationSpan`], which the runtime adds to
//!   its longest job for the staking pallet's shortest unbonding period.
//!
//! ## Example
//!
//! From `tests::honest_majority_is_accepted_and_the_dissenter_slashed`:
//!
//! ```ignore
//! let (round, members) = open(TASK, 3); // the provider, then 3 verifiers drawn DRAW blocks later
//! for (m, digest) in members.iter().zip([GOOD, GOOD, GOOD, BAD]) {
//!     commit_as(round, *m, digest);
//! }
//! run_to_block(commit_end + 1);
//! for (m, digest) in members.iter().zip([GOOD, GOOD, GOOD, BAD]) { reveal_as(round, *m, digest); }
//! run_to_block(reveal_end + 1);
//! assert_eq!(MockMarket::verified(), vec![(TASK, cid(GOOD), vec![members[1], members[2]])]);
//! ```

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
pub mod committee;
mod impls;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
pub mod types;
pub mod weights;

pub use types::*;
pub use weights::WeightInfo;

#[polkadot_sdk::frame_support::pallet]
pub mod pallet {
	use super::*;
	use alloc::vec::Vec;
	use polkadot_sdk::{
		frame_support::{
			pallet_prelude::*,
			traits::{
				fungible::{Inspect, InspectHold, Mutate, MutateHold},
				Randomness,
			},
		},
		frame_system::pallet_prelude::*,
		sp_core::H256,
	};
	use verity_primitives::{
		cid::Cid,
		kernel::KernelInspect,
		market::{JobId, TaskId, TaskOutcome},
		staking::{ProviderStake, SlashReason},
	};

	const STORAGE_VERSION: StorageVersion = StorageVersion::new(0);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	/// Why the pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// A member's deposit behind one epoch commitment, until the epoch's audits end.
		#[codec(index = 0)]
		EpochCommit,
	}

	/// The balance of [`Config::Currency`].
	pub type BalanceOf<T> = <<T as Config>::Currency as Inspect<
		<T as polkadot_sdk::frame_system::Config>::AccountId,
	>>::Balance;

	#[pallet::config]
	pub trait Config: polkadot_sdk::frame_system::Config<RuntimeEvent: From<Event<Self>>> {
		/// The currency epoch deposits are held in.
		type Currency: MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>
			+ InspectHold<Self::AccountId>
			+ Mutate<Self::AccountId>;

		/// The overarching hold reason.
		type RuntimeHoldReason: From<HoldReason>;

		/// Held from a member for each epoch it commits, while the epoch's commitments and
		/// audits are live storage, and returned when its audits end; forfeit (burnt) by a
		/// member an audit convicts (security review, finding 2). In proportion to what a
		/// commitment stores: its epoch entry, commitment and audits.
		#[pallet::constant]
		type EpochDeposit: Get<BalanceOf<Self>>;

		/// The marketplace: task details, and where verdicts go.
		type Market: TaskOutcome<Self::AccountId>;

		/// Kernels: their aggregation rules.
		type Kernels: KernelInspect<Self::AccountId>;

		/// The balance type of stake.
		type StakeBalance: Parameter
			+ MaxEncodedLen
			+ Copy
			+ Default
			+ polkadot_sdk::sp_runtime::traits::UniqueSaturatedFrom<u128>;

		/// Provider stake: eligibility and slashing.
		type Staking: ProviderStake<Self::AccountId, Self::StakeBalance>;

		/// Randomness for committee draws and audits: read [`Config::DrawDelay`] blocks after the
		/// commitment it judges, so it must be fresh each block (BABE's `ParentBlockRandomness`
		/// in the runtime: the previous block's VRF output). `None` (a block without a VRF
		/// output) falls back to the parent block's hash.
		type Randomness: Randomness<Option<Self::Hash>, BlockNumberFor<Self>>;

		/// Blocks from a result's submission (or an epoch's last commitment block) to the draw
		/// of its committee (or audits), at least 1: the draw uses randomness that did not exist
		/// when the provider chose to submit (security review finding 4).
		#[pallet::constant]
		type DrawDelay: Get<BlockNumberFor<Self>>;

		/// Fewest verifiers in any committee, the task's provider not counted: a buyer's smaller
		/// committee is raised to it (security review finding 11).
		#[pallet::constant]
		type MinVerifiers: Get<u32>;

		/// Share of a slash paid, in equal parts, to the verifiers whose verdict caused it: a
		/// provider outvoted or silent, a dissenting verifier, an audited member caught (security
		/// review finding 15: catching fraud pays).
		#[pallet::constant]
		type CatchBounty: Get<polkadot_sdk::sp_runtime::Perbill>;

		/// Who sets [`Params`] (Root: a passed proposal).
		type AdminOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// Largest committee: bounds a round and its cleanup.
		#[pallet::constant]
		type MaxCommittee: Get<u32>;

		/// Most verifiers excluded from one subject's re-runs.
		#[pallet::constant]
		type MaxExcluded: Get<u32>;

		/// Most registered verifiers: bounds a committee draw.
		#[pallet::constant]
		type MaxVerifiers: Get<u32>;

		/// Largest training group whose epochs are audited.
		#[pallet::constant]
		type MaxGroup: Get<u32>;

		/// Most audits per epoch.
		#[pallet::constant]
		type MaxAuditsPerEpoch: Get<u32>;

		/// Deepest Merkle proof (2^32 steps per epoch).
		#[pallet::constant]
		type MaxProofDepth: Get<u32>;

		/// Most rounds, and most epochs, closing in one block (each in its own schedule): bounds
		/// the hook's work.
		#[pallet::constant]
		type MaxDuePerBlock: Get<u32>;

		/// Most weight the hook spends closing rounds and epochs in one block (at least one is
		/// always closed); the rest move to the next block.
		#[pallet::constant]
		type MaxDueWeight: Get<Weight>;

		/// The most blocks verification may run after a job's deadline
		/// ([`Pallet::verification_span`] of the parameters must fit): a runtime adds it to its
		/// longest job to get the staking pallet's shortest unbonding period, so no slash comes
		/// after the stake it would take was withdrawn (security review, finding 19).
		#[pallet::constant]
		type MaxVerificationSpan: Get<BlockNumberFor<Self>>;

		/// Weights from this pallet's benchmarks.
		type WeightInfo: WeightInfo;

		/// Sets up tasks and verifiers in benchmarks.
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkHelper: BenchmarkHelper<Self::AccountId>;
	}

	/// Registered verifiers (eligible while they hold the minimum provider stake).
	#[pallet::storage]
	pub type Verifiers<T: Config> =
		StorageValue<_, BoundedVec<T::AccountId, T::MaxVerifiers>, ValueQuery>;

	/// Open rounds by id.
	// Hasher: sequential id.
	#[pallet::storage]
	pub type Rounds<T: Config> = StorageMap<_, Twox64Concat, RoundId, Round<T>>;

	/// The next round id.
	#[pallet::storage]
	pub type NextRound<T: Config> = StorageValue<_, RoundId, ValueQuery>;

	/// The open round of each task being verified.
	// Hasher: sequential id.
	#[pallet::storage]
	pub type TaskRounds<T: Config> = StorageMap<_, Twox64Concat, TaskId, RoundId>;

	/// Commitments by round and member.
	// Hasher: sequential id, then accounts chosen by users.
	#[pallet::storage]
	pub type Commits<T: Config> =
		StorageDoubleMap<_, Twox64Concat, RoundId, Blake2_128Concat, T::AccountId, H256>;

	/// Reveals by round and member.
	// Hasher: sequential id, then accounts chosen by users.
	#[pallet::storage]
	pub type Reveals<T: Config> =
		StorageDoubleMap<_, Twox64Concat, RoundId, Blake2_128Concat, T::AccountId, Reveal>;

	/// Rounds to draw and close, by block. (Epoch closes scheduled here by a runtime before
	/// [`EpochSchedule`] are still handled.)
	// Hasher: block numbers are not chosen freely.
	#[pallet::storage]
	pub type Schedule<T: Config> = StorageMap<
		_,
		Twox64Concat,
		BlockNumberFor<T>,
		BoundedVec<Due, T::MaxDuePerBlock>,
		ValueQuery,
	>;

	/// Training epochs to close, by block: a schedule of their own, so epochs never take the
	/// slots task rounds need to open, whatever training jobs commit (security review,
	/// finding 2). The hook closes rounds first, then epochs, within one weight budget.
	// Hasher: block numbers are not chosen freely.
	#[pallet::storage]
	pub type EpochSchedule<T: Config> = StorageMap<
		_,
		Twox64Concat,
		BlockNumberFor<T>,
		BoundedVec<Due, T::MaxDuePerBlock>,
		ValueQuery,
	>;

	/// Training epochs by job and epoch number.
	// Hasher: sequential ids.
	#[pallet::storage]
	pub type Epochs<T: Config> =
		StorageDoubleMap<_, Twox64Concat, JobId, Twox64Concat, u32, Epoch<T>>;

	/// Epoch commitments by member task and epoch.
	// Hasher: sequential ids.
	#[pallet::storage]
	pub type EpochCommits<T: Config> =
		StorageDoubleMap<_, Twox64Concat, TaskId, Twox64Concat, u32, EpochCommit>;

	/// Training epochs whose audits are over and found nothing wrong, by job and epoch: each
	/// member's checkpoint CID and step-digest root, kept for good (a trained kernel version's
	/// lineage: `aivmRegistry.Lineage` names the job).
	// Hasher: sequential ids.
	#[pallet::storage]
	pub type EpochHistory<T: Config> =
		StorageDoubleMap<_, Twox64Concat, JobId, Twox64Concat, u32, EpochRecord<T>>;

	/// The last checkpoint each training job's group committed (the next epoch's start).
	// Hasher: sequential id.
	#[pallet::storage]
	pub type LastCheckpoint<T: Config> = StorageMap<_, Twox64Concat, JobId, Cid>;

	/// Audits by id.
	// Hasher: sequential id.
	#[pallet::storage]
	pub type Audits<T: Config> = StorageMap<_, Twox64Concat, AuditId, Audit<T>>;

	/// The next audit id.
	#[pallet::storage]
	pub type NextAudit<T: Config> = StorageValue<_, AuditId, ValueQuery>;

	/// The deposit each epoch commitment holds, and whose: the task's provider when it
	/// committed (a reassigned task's newcomer did not pay its predecessor's).
	// Hasher: sequential ids.
	#[pallet::storage]
	pub type EpochDeposits<T: Config> =
		StorageDoubleMap<_, Twox64Concat, TaskId, Twox64Concat, u32, (T::AccountId, BalanceOf<T>)>;

	/// The epoch each training task commits next (its earlier ones are committed).
	// Hasher: sequential id.
	#[pallet::storage]
	pub type NextEpoch<T: Config> = StorageMap<_, Twox64Concat, TaskId, u32, ValueQuery>;

	/// Tasks caught faking a step, with the invalid epoch: their results are not verified.
	// Hasher: sequential id.
	#[pallet::storage]
	pub type Invalidated<T: Config> = StorageMap<_, Twox64Concat, TaskId, u32>;

	/// Governable parameters.
	#[pallet::storage]
	pub type Params<T: Config> = StorageValue<_, ParamsOf<T>, OptionQuery>;

	#[pallet::genesis_config]
	#[derive(polkadot_sdk::frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		/// The first parameters.
		pub params: Option<ParamsOf<T>>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			if let Some(params) = self.params {
				assert!(Pallet::<T>::params_are_valid(&params), "invalid genesis poc params");
				Params::<T>::put(params);
			}
		}
	}

	/// What the hook closes.
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
	pub enum Due {
		/// A task round whose committee of `1` verifiers is to be drawn.
		Draw(RoundId, u32),
		/// A round whose reveal window has ended.
		Round(RoundId),
		/// An epoch whose commitment window has ended.
		Epoch(JobId, u32),
	}

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// An account registered as a verifier.
		VerifierRegistered {
			/// The verifier.
			who: T::AccountId,
		},
		/// A verifier left.
		VerifierUnregistered {
			/// The verifier.
			who: T::AccountId,
		},
		/// A task's result was submitted: its committee is drawn at `draw_at`, from randomness
		/// that does not exist yet; its provider may commit from now on.
		CommitteePending {
			/// The round.
			round: RoundId,
			/// What it verifies.
			subject: Subject,
			/// The block of the draw.
			draw_at: BlockNumberFor<T>,
		},
		/// A round's committee was drawn: its members must commit, then reveal.
		CommitteeSelected {
			/// The round.
			round: RoundId,
			/// What it verifies.
			subject: Subject,
			/// The committee, in order.
			members: Vec<T::AccountId>,
			/// Last block to commit.
			commit_end: BlockNumberFor<T>,
			/// Last block to reveal.
			reveal_end: BlockNumberFor<T>,
			/// 0, then one more per re-run.
			attempt: u32,
		},
		/// A member committed.
		Committed {
			/// The round.
			round: RoundId,
			/// The member.
			member: T::AccountId,
		},
		/// A member revealed.
		Revealed {
			/// The round.
			round: RoundId,
			/// The member.
			member: T::AccountId,
			/// The revealed digest.
			digest: H256,
		},
		/// A round reached quorum.
		ResultAccepted {
			/// The round.
			round: RoundId,
			/// What it verified.
			subject: Subject,
			/// The accepted digest.
			digest: H256,
			/// The accepted result.
			result: Cid,
			/// The members that agreed.
			agreeing: Vec<T::AccountId>,
		},
		/// A round ended without quorum.
		NoQuorum {
			/// The round.
			round: RoundId,
			/// What it verified.
			subject: Subject,
			/// Its attempt number.
			attempt: u32,
		},
		/// A subject could not be verified: no quorum after every re-run, or too few verifiers.
		VerificationFailed {
			/// What was verified.
			subject: Subject,
		},
		/// A member was slashed.
		Penalised {
			/// The round.
			round: RoundId,
			/// The member.
			member: T::AccountId,
			/// Why.
			reason: SlashReason,
			/// How much stake was taken.
			amount: T::StakeBalance,
		},
		/// A group member committed an epoch.
		EpochCommitted {
			/// The member's task.
			task: TaskId,
			/// The job.
			job: JobId,
			/// The epoch.
			epoch: u32,
			/// The checkpoint.
			checkpoint: Cid,
			/// Merkle root of its per-step gradient digests.
			root: H256,
			/// Steps in the tree.
			steps: u32,
		},
		/// Audits were drawn for an epoch.
		AuditsDrawn {
			/// The job.
			job: JobId,
			/// The epoch.
			epoch: u32,
			/// `(audit, audited task, step)`.
			audits: Vec<(AuditId, TaskId, u32)>,
		},
		/// An audited member revealed its leaf with a valid proof.
		LeafRevealed {
			/// The audit.
			audit: AuditId,
			/// The leaf (gradient digest of the step).
			leaf: H256,
		},
		/// An audited step matched the verifiers' digest.
		AuditPassed {
			/// The audit.
			audit: AuditId,
		},
		/// An audited step did not match: the member was slashed and the epoch is invalid.
		EpochInvalidated {
			/// The job.
			job: JobId,
			/// The epoch.
			epoch: u32,
			/// The member's task.
			task: TaskId,
			/// The member.
			member: T::AccountId,
		},
		/// An audit convicted a member: the deposit behind its commitment was burnt.
		EpochDepositForfeited {
			/// The member's task.
			task: TaskId,
			/// The epoch.
			epoch: u32,
			/// The member.
			member: T::AccountId,
			/// The deposit.
			amount: BalanceOf<T>,
		},
		/// The parameters changed.
		ParamsSet {
			/// The new parameters.
			params: ParamsOf<T>,
		},
	}

	#[pallet::error]
	pub enum Error<T> {
		/// No parameters set yet.
		NoParams,
		/// Parameters out of range: windows and committees at least 1, `max_committee` within
		/// `MaxCommittee`, audits within `MaxAuditsPerEpoch`.
		InvalidParams,
		/// Already a registered verifier.
		AlreadyVerifier,
		/// Not a registered verifier.
		NotVerifier,
		/// An epoch beyond the job's epochs, or not the one this task commits next.
		EpochOutOfRange,
		/// A training result before every epoch of the job was committed.
		EpochsMissing,
		/// A training result before the audits of the job's last epoch ended.
		EpochNotAudited,
		/// The account still has its provider stake: only its own call removes it.
		StillStaked,
		/// `MaxVerifiers` are registered.
		TooManyVerifiers,
		/// Too few eligible verifiers for the committee: more must register with stake.
		NotEnoughVerifiers,
		/// The task is already being verified.
		AlreadyVerifying,
		/// No such round (never opened, or closed).
		UnknownRound,
		/// Only committee members commit and reveal.
		NotMember,
		/// The commit window has closed.
		CommitClosed,
		/// This member already committed in this round.
		AlreadyCommitted,
		/// Reveals open after the commit window.
		RevealNotOpen,
		/// The reveal window has closed.
		RevealClosed,
		/// The member did not commit in this round.
		NoCommitment,
		/// This member already revealed.
		AlreadyRevealed,
		/// The reveal does not hash to the member's commitment.
		CommitmentMismatch,
		/// The summary vector's length is not the rule's (empty for the digest rules).
		WrongSummaryLength,
		/// The digest is not sha2-256 of the summary vector.
		SummaryMismatch,
		/// A CID is malformed (CIDv1, sha2-256, raw or dag-pb).
		InvalidCid,
		/// No such kernel.
		UnknownKernel,
		/// No such open task.
		UnknownTask,
		/// Only a training task's provider commits its epochs.
		NotTaskProvider,
		/// The task is not a training task.
		NotTraining,
		/// The epoch's commitment window has closed.
		EpochClosed,
		/// The member already committed this epoch.
		EpochAlreadyCommitted,
		/// The step count is not the job's: every epoch has the inner steps its settings give
		/// (security review, finding 3).
		WrongSteps,
		/// The group is larger than `MaxGroup`.
		GroupTooLarge,
		/// Too many rounds or epochs close around this block; try again next block.
		ScheduleFull,
		/// No such audit.
		UnknownAudit,
		/// Only the audited member reveals its leaf.
		NotAudited,
		/// The leaf was already revealed.
		LeafAlreadyRevealed,
		/// The Merkle proof does not lead from the leaf at the audited step to the member's root.
		InvalidProof,
		/// A member caught faking a training step: its task cannot be verified.
		EpochInvalid,
		/// The member's free balance does not cover the epoch deposit (`EpochDeposit`).
		CannotPayDeposit,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn on_initialize(now: BlockNumberFor<T>) -> Weight {
			Self::do_on_initialize(now)
		}

		fn integrity_test() {
			assert!(T::MaxCommittee::get() >= 1, "a committee has members");
			assert!(T::MaxDuePerBlock::get() >= 1, "rounds must close");
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
		/// Registers the signer as a verifier, eligible for committees while it holds the minimum
		/// provider stake.
		///
		/// - Origin: signed, with provider stake.
		/// - Errors: the staking pallet's, `AlreadyVerifier`, `TooManyVerifiers`.
		/// - Events: `VerifierRegistered`.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::register_verifier())]
		pub fn register_verifier(origin: OriginFor<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			T::Staking::ensure_provider(&who)?;
			let mut list = Verifiers::<T>::get();
			ensure!(!list.contains(&who), Error::<T>::AlreadyVerifier);
			list.try_push(who.clone()).map_err(|_| Error::<T>::TooManyVerifiers)?;
			Verifiers::<T>::put(list);
			Self::deposit_event(Event::VerifierRegistered { who });
			Ok(())
		}

		/// Leaves the verifier list (rounds already joined must still be completed).
		///
		/// - Origin: signed by a verifier.
		/// - Errors: `NotVerifier`.
		/// - Events: `VerifierUnregistered`.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::unregister_verifier())]
		pub fn unregister_verifier(origin: OriginFor<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let mut list = Verifiers::<T>::get();
			let before = list.len();
			list.retain(|v| v != &who);
			ensure!(list.len() < before, Error::<T>::NotVerifier);
			Verifiers::<T>::put(list);
			Self::deposit_event(Event::VerifierUnregistered { who });
			Ok(())
		}

		/// Commits to a result: see the crate docs for the commitment's bytes.
		///
		/// - Origin: signed by a member of `round`, within the commit window.
		/// - Errors: `UnknownRound`, `NotMember`, `CommitClosed`, `AlreadyCommitted`.
		/// - Events: `Committed`.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::commit())]
		pub fn commit(origin: OriginFor<T>, round: RoundId, commitment: H256) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_commit(who, round, commitment)
		}

		/// Reveals a committed result.
		///
		/// - Origin: signed by a member that committed, after the commit window and within the
		///   reveal window.
		/// - Errors: `UnknownRound`, `NotMember`, `RevealNotOpen`, `RevealClosed`,
		///   `NoCommitment`, `AlreadyRevealed`, `CommitmentMismatch`, `InvalidCid`,
		///   `WrongSummaryLength`, `SummaryMismatch`.
		/// - Events: `Revealed`.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::reveal())]
		pub fn reveal(
			origin: OriginFor<T>,
			round: RoundId,
			digest: H256,
			result: CidInput,
			nonce: H256,
			summary: Summary,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let result = Cid::parse(&result).map_err(|_| Error::<T>::InvalidCid)?;
			Self::do_reveal(who, round, Reveal { digest, result, summary }, nonce)
		}

		/// Commits a training epoch: the checkpoint and the Merkle root of the member's step
		/// leaves, `steps` of them: the job's inner steps per epoch.
		/// Holds [`Config::EpochDeposit`] from the signer until the epoch's audits end.
		///
		/// - Origin: signed by the training task's provider.
		/// - Errors: `UnknownTask`, `NotTraining`, `NotTaskProvider`, `InvalidCid`, `WrongSteps`,
		///   `EpochClosed`, `EpochAlreadyCommitted`, `GroupTooLarge`, `ScheduleFull`,
		///   `CannotPayDeposit`.
		/// - Events: `EpochCommitted`.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::commit_epoch())]
		pub fn commit_epoch(
			origin: OriginFor<T>,
			task: TaskId,
			epoch: u32,
			checkpoint: CidInput,
			steps: u32,
			root: H256,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let checkpoint = Cid::parse(&checkpoint).map_err(|_| Error::<T>::InvalidCid)?;
			Self::do_commit_epoch(who, task, epoch, EpochCommit { checkpoint, steps, root })
		}

		/// Reveals the audited step's gradient digest with its Merkle proof.
		///
		/// - Origin: signed by the audited member, before the audit round's reveal window ends.
		/// - Errors: `UnknownAudit`, `NotAudited`, `LeafAlreadyRevealed`, `RevealClosed`,
		///   `InvalidProof`.
		/// - Events: `LeafRevealed`.
		#[pallet::call_index(5)]
		#[pallet::weight(T::WeightInfo::reveal_leaf(proof.len() as u32))]
		pub fn reveal_leaf(
			origin: OriginFor<T>,
			audit: AuditId,
			leaf: H256,
			proof: BoundedVec<H256, T::MaxProofDepth>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_reveal_leaf(who, audit, leaf, &proof)
		}

		/// Sets the parameters.
		///
		/// - Origin: [`Config::AdminOrigin`].
		/// - Errors: `InvalidParams`.
		/// - Events: `ParamsSet`.
		#[pallet::call_index(6)]
		#[pallet::weight(T::WeightInfo::set_params())]
		pub fn set_params(origin: OriginFor<T>, params: ParamsOf<T>) -> DispatchResult {
			T::AdminOrigin::ensure_origin(origin)?;
			ensure!(Self::params_are_valid(&params), Error::<T>::InvalidParams);
			Params::<T>::put(params);
			Self::deposit_event(Event::ParamsSet { params });
			Ok(())
		}

		/// Removes `who` from the verifiers once its provider stake is gone (unbonded or slashed
		/// below the minimum): anyone may call it, so slots taken with stake that left are freed
		/// (security review, finding 8).
		///
		/// - Origin: signed, anyone.
		/// - Errors: `NotVerifier`, `StillStaked`.
		/// - Events: `VerifierUnregistered`.
		#[pallet::call_index(7)]
		#[pallet::weight(
			T::WeightInfo::unregister_verifier().saturating_add(T::DbWeight::get().reads(2))
		)]
		pub fn prune_verifier(origin: OriginFor<T>, who: T::AccountId) -> DispatchResult {
			ensure_signed(origin)?;
			let mut list = Verifiers::<T>::get();
			ensure!(list.contains(&who), Error::<T>::NotVerifier);
			ensure!(T::Staking::ensure_provider(&who).is_err(), Error::<T>::StillStaked);
			list.retain(|v| v != &who);
			Verifiers::<T>::put(list);
			Self::deposit_event(Event::VerifierUnregistered { who });
			Ok(())
		}
	}

	#[pallet::view_functions]
	impl<T: Config> Pallet<T> {
		/// The commitment a member must submit (see the crate docs).
		pub fn commitment_of(
			round: RoundId,
			digest: H256,
			nonce: H256,
			member: T::AccountId,
		) -> H256 {
			crate::committee::commitment(round, &digest, &nonce, &member)
		}

		/// The open round verifying a task.
		pub fn task_round(task: TaskId) -> Option<RoundId> {
			TaskRounds::<T>::get(task)
		}
	}
}
