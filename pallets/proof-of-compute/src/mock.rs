//! A mock runtime: System and the pallet, with a recording marketplace, a stake ledger, kernels
//! with chosen rules and a settable randomness seed.

use core::cell::RefCell;
use std::collections::BTreeMap;

use polkadot_sdk::{
	frame_support::{
		derive_impl,
		traits::{ConstU128, ConstU32, ConstU64, Hooks, Randomness},
	},
	frame_system::{self, EnsureRoot},
	pallet_balances,
	sp_core::H256,
	sp_io,
	sp_runtime::{BuildStorage, DispatchError, DispatchResult, Perbill},
};
use verity_primitives::{
	cid::Cid,
	kernel::{AggregationRule, DeviceClass, KernelId, KernelInfo, KernelInspect},
	market::{TaskId, TaskInfo, TaskOutcome},
	staking::{ProviderStake, SlashReason},
};

use crate::{self as pallet_proof_of_compute, types::*};

type Block = frame_system::mocking::MockBlock<Test>;
pub type AccountId = u64;
pub type Balance = u128;

#[polkadot_sdk::frame_support::runtime]
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
	pub struct Test;

	#[runtime::pallet_index(0)]
	pub type System = frame_system;
	#[runtime::pallet_index(1)]
	pub type Poc = pallet_proof_of_compute;
	#[runtime::pallet_index(2)]
	pub type Balances = pallet_balances;
}

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountData = pallet_balances::AccountData<Balance>;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
	type Balance = Balance;
	type ExistentialDeposit = ConstU128<1>;
	type AccountStore = System;
	type RuntimeHoldReason = RuntimeHoldReason;
}

/// Held from a member per epoch commitment.
pub const EPOCH_DEPOSIT: Balance = 5;
/// Every account's balance at genesis (and a benchmark provider's).
pub const INITIAL: Balance = 1_000;

pub const MIN_STAKE: Balance = 100;
/// Kernels by rule.
pub const EXACT: KernelId = H256([1; 32]);
pub const TOLERANT: KernelId = H256([2; 32]);

thread_local! {
	static STAKES: RefCell<BTreeMap<AccountId, Balance>> = const { RefCell::new(BTreeMap::new()) };
	static SLASHES: RefCell<Vec<(AccountId, Balance, SlashReason)>> = const { RefCell::new(Vec::new()) };
	static BOUNTIES: RefCell<Vec<(AccountId, Vec<AccountId>, Balance)>> = const { RefCell::new(Vec::new()) };
	static TASKS: RefCell<BTreeMap<TaskId, TaskInfo<AccountId>>> = const { RefCell::new(BTreeMap::new()) };
	static VERIFIED: RefCell<Vec<(TaskId, Cid, Vec<AccountId>)>> = const { RefCell::new(Vec::new()) };
	static REJECTED: RefCell<Vec<TaskId>> = const { RefCell::new(Vec::new()) };
	static AUDITED: RefCell<Vec<(TaskId, Vec<AccountId>)>> = const { RefCell::new(Vec::new()) };
	static FAILED: RefCell<Vec<TaskId>> = const { RefCell::new(Vec::new()) };
	static SEED: RefCell<u64> = const { RefCell::new(0) };
}

/// A stake ledger standing in for `pallet-staking-governance`.
pub struct MockStake;
impl MockStake {
	pub fn set(who: AccountId, stake: Balance) {
		STAKES.with(|s| s.borrow_mut().insert(who, stake));
	}
	pub fn slashes() -> Vec<(AccountId, Balance, SlashReason)> {
		SLASHES.with(|s| s.borrow().clone())
	}
	/// (slashed, catchers, bounty shared among them), in order.
	pub fn bounties() -> Vec<(AccountId, Vec<AccountId>, Balance)> {
		BOUNTIES.with(|s| s.borrow().clone())
	}
}
impl ProviderStake<AccountId, Balance> for MockStake {
	fn active_stake(who: &AccountId) -> Balance {
		STAKES.with(|s| s.borrow().get(who).copied().unwrap_or(0))
	}
	fn ensure_provider(who: &AccountId) -> DispatchResult {
		if Self::active_stake(who) >= MIN_STAKE {
			Ok(())
		} else {
			Err(DispatchError::Other("BelowProviderMinimum"))
		}
	}
	fn slash(who: &AccountId, amount: Balance, reason: SlashReason) -> Balance {
		let stake = Self::active_stake(who);
		let taken = amount.min(stake);
		STAKES.with(|s| s.borrow_mut().insert(*who, stake - taken));
		SLASHES.with(|s| s.borrow_mut().push((*who, taken, reason)));
		taken
	}
	fn slash_fraction(who: &AccountId, fraction: Perbill, reason: SlashReason) -> Balance {
		Self::slash(who, fraction * Self::active_stake(who), reason)
	}
	fn slash_fraction_to(
		who: &AccountId,
		fraction: Perbill,
		floor: Balance,
		reason: SlashReason,
		to: &[AccountId],
		share: Perbill,
	) -> Balance {
		let slashed = Self::slash(who, (fraction * Self::active_stake(who)).max(floor), reason);
		if !to.is_empty() {
			BOUNTIES.with(|b| b.borrow_mut().push((*who, to.to_vec(), share * slashed)));
		}
		slashed
	}
}

/// A marketplace that knows the tasks the test creates and records verdicts.
pub struct MockMarket;
impl MockMarket {
	pub fn add(task: TaskId, info: TaskInfo<AccountId>) {
		TASKS.with(|t| t.borrow_mut().insert(task, info));
	}
	pub fn remove(task: TaskId) {
		TASKS.with(|t| t.borrow_mut().remove(&task));
	}
	pub fn verified() -> Vec<(TaskId, Cid, Vec<AccountId>)> {
		VERIFIED.with(|v| v.borrow().clone())
	}
	pub fn audited() -> Vec<(TaskId, Vec<AccountId>)> {
		AUDITED.with(|v| v.borrow().clone())
	}
	pub fn rejected() -> Vec<TaskId> {
		REJECTED.with(|v| v.borrow().clone())
	}
	pub fn failed() -> Vec<TaskId> {
		FAILED.with(|v| v.borrow().clone())
	}
}
impl TaskOutcome<AccountId> for MockMarket {
	fn task(task: TaskId) -> Option<TaskInfo<AccountId>> {
		TASKS.with(|t| t.borrow().get(&task).cloned())
	}
	fn task_verified(task: TaskId, result: Cid, credited: &[AccountId]) -> DispatchResult {
		VERIFIED.with(|v| v.borrow_mut().push((task, result, credited.to_vec())));
		Ok(())
	}
	fn task_audited(task: TaskId, auditors: &[AccountId]) {
		AUDITED.with(|v| v.borrow_mut().push((task, auditors.to_vec())));
	}
	fn task_rejected(task: TaskId) -> DispatchResult {
		REJECTED.with(|v| v.borrow_mut().push(task));
		Ok(())
	}
	fn task_failed(task: TaskId) -> DispatchResult {
		FAILED.with(|v| v.borrow_mut().push(task));
		Ok(())
	}
	fn outcome_weight() -> polkadot_sdk::frame_support::weights::Weight {
		OUTCOME_WEIGHT
	}
}

/// What the mock market says a verdict may cost.
pub const OUTCOME_WEIGHT: polkadot_sdk::frame_support::weights::Weight =
	polkadot_sdk::frame_support::weights::Weight::from_parts(7_000_000, 1_000);

/// Two kernels: `EXACT` (exact digest) and `TOLERANT` (numeric tolerance over 2 values).
pub struct MockKernels;
impl KernelInspect<AccountId> for MockKernels {
	fn kernel(id: &KernelId) -> Option<KernelInfo<AccountId>> {
		let rule = match id.0[0] {
			1 => AggregationRule::ExactDigest,
			2 => AggregationRule::NumericTolerance {
				len: 2,
				abs_tolerance: 10,
				rel_tolerance_ppm: 0,
			},
			_ => return None,
		};
		Some(KernelInfo {
			owner: 0,
			inference_flops: 1,
			train_flops: 1,
			device: DeviceClass::Cpu,
			rule,
			usable: true,
		})
	}
	fn acquire(_: &KernelId) -> DispatchResult {
		Ok(())
	}
	fn release(_: &KernelId) {}
}

/// Randomness from a seed the test sets and the block number: fresh each block, as BABE's
/// `ParentBlockRandomness` is.
pub struct MockRandomness;
impl MockRandomness {
	pub fn set_seed(seed: u64) {
		SEED.with(|s| *s.borrow_mut() = seed);
	}
}
impl Randomness<Option<H256>, u64> for MockRandomness {
	fn random(subject: &[u8]) -> (Option<H256>, u64) {
		let seed = SEED.with(|s| *s.borrow());
		let block = System::block_number();
		let input = [subject, &seed.to_le_bytes(), &block.to_le_bytes()].concat();
		(Some(H256(sp_io::hashing::blake2_256(&input))), block.saturating_sub(1))
	}
}

impl pallet_proof_of_compute::Config for Test {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type EpochDeposit = ConstU128<EPOCH_DEPOSIT>;
	type Market = MockMarket;
	type Kernels = MockKernels;
	type StakeBalance = Balance;
	type Staking = MockStake;
	type Randomness = MockRandomness;
	type DrawDelay = ConstU64<2>;
	type MinVerifiers = ConstU32<3>;
	type CatchBounty = CatchBounty;
	type AdminOrigin = EnsureRoot<AccountId>;
	type MaxCommittee = ConstU32<5>;
	type MaxExcluded = ConstU32<16>;
	type MaxVerifiers = ConstU32<12>;
	type MaxGroup = ConstU32<4>;
	type MaxAuditsPerEpoch = ConstU32<4>;
	type MaxProofDepth = ConstU32<8>;
	type MaxDuePerBlock = ConstU32<8>;
	type MaxDueWeight = DueBudget;
	type MaxVerificationSpan = MaxVerificationSpan;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = MockHelper;
}

/// Benchmark set-up on the mock: tasks in the recording market, stake in the mock ledger.
#[cfg(feature = "runtime-benchmarks")]
pub struct MockHelper;
#[cfg(feature = "runtime-benchmarks")]
impl crate::types::BenchmarkHelper<AccountId> for MockHelper {
	fn make_provider(who: &AccountId) {
		use polkadot_sdk::frame_support::traits::fungible::Mutate;
		MockStake::set(*who, 1_000);
		Balances::set_balance(who, INITIAL);
	}
	fn make_task(committee: u32) -> (TaskId, AccountId) {
		let task = TASKS.with(|t| t.borrow().len() as u64);
		let provider = 5_000 + task;
		Self::make_provider(&provider);
		MockMarket::add(
			task,
			TaskInfo {
				job: task,
				kernel: EXACT,
				provider,
				buyer: BUYER,
				work: 1,
				committee,
				training: false,
				epochs: 0,
				steps: 0,
				collateral: 0,
			},
		);
		(task, provider)
	}
	fn make_group(group: u32, steps: u32) -> Vec<(TaskId, AccountId)> {
		(0..group)
			.map(|i| {
				let task = 9_000 + u64::from(i);
				let provider = 6_000 + u64::from(i);
				Self::make_provider(&provider);
				MockMarket::add(
					task,
					TaskInfo {
						job: 77,
						kernel: EXACT,
						provider,
						buyer: BUYER,
						work: 1,
						committee: 0,
						training: true,
						epochs: 4,
						steps,
						collateral: 0,
					},
				);
				(task, provider)
			})
			.collect()
	}
	fn submit(task: TaskId, _provider: &AccountId) {
		use verity_primitives::market::TaskVerifier;
		let info = <MockMarket as TaskOutcome<_>>::task(task).unwrap();
		Poc::verify(task, &info, &Cid::of_raw_bytes(b"result")).unwrap();
	}
}

polkadot_sdk::frame_support::parameter_types! {
	/// Half of a slash to the verifiers that caused it.
	pub const CatchBounty: Perbill = Perbill::from_percent(50);
	/// Room for the default parameters' 109 blocks and the benchmarks' (finding 19).
	pub const MaxVerificationSpan: u64 = 250;
	/// Tests lower it to see closings spread over blocks.
	pub static DueBudget: polkadot_sdk::frame_support::weights::Weight =
		polkadot_sdk::frame_support::weights::Weight::MAX;
}

/// Providers 10..=17 hold stake and are registered verifiers.
pub const VERIFIERS: [AccountId; 8] = [10, 11, 12, 13, 14, 15, 16, 17];
/// Providers of tasks, with stake, not registered as verifiers.
pub const P1: AccountId = 1;
pub const P2: AccountId = 2;
/// No stake.
pub const NOBODY: AccountId = 9;
/// The buyer of the mock's tasks (no stake).
pub const BUYER: AccountId = 8;

pub fn default_params() -> PocParams<u64> {
	PocParams {
		commit_window: 3,
		reveal_window: 3,
		training_committee: 3,
		max_committee: 5,
		dissent_slash: Perbill::from_percent(10),
		no_reveal_slash: Perbill::from_percent(5),
		max_reruns: 1,
		audits_per_epoch: 2,
		audit_committee: 3,
		epoch_window: 3,
	}
}

pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	// Everyone the tests name (1..=99) can pay an epoch deposit; `NOBODY` too, as it has no stake.
	pallet_balances::GenesisConfig::<Test> {
		balances: (1..100).map(|a| (a, INITIAL)).collect(),
		..Default::default()
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	pallet_proof_of_compute::GenesisConfig::<Test> { params: Some(default_params()) }
		.assimilate_storage(&mut storage)
		.unwrap();
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| {
		System::set_block_number(1);
		STAKES.with(|s| s.borrow_mut().clear());
		SLASHES.with(|s| s.borrow_mut().clear());
		BOUNTIES.with(|s| s.borrow_mut().clear());
		TASKS.with(|s| s.borrow_mut().clear());
		VERIFIED.with(|s| s.borrow_mut().clear());
		REJECTED.with(|s| s.borrow_mut().clear());
		AUDITED.with(|s| s.borrow_mut().clear());
		FAILED.with(|s| s.borrow_mut().clear());
		MockRandomness::set_seed(0);
		DueBudget::set(polkadot_sdk::frame_support::weights::Weight::MAX);
		for v in VERIFIERS.iter().chain(&[P1, P2]) {
			MockStake::set(*v, 1_000);
		}
		for v in VERIFIERS {
			Poc::register_verifier(RuntimeOrigin::signed(v)).unwrap();
		}
	});
	ext
}

/// Runs `test`, then checks the pallet's storage invariants.
pub fn build_and_execute(test: impl FnOnce()) {
	new_test_ext().execute_with(|| {
		test();
		Poc::do_try_state().unwrap();
	});
}

/// Advances to block `n`, running the pallet's hook at each block.
pub fn run_to_block(n: u64) {
	while System::block_number() < n {
		let next = System::block_number() + 1;
		System::set_block_number(next);
		Poc::on_initialize(next);
	}
}
