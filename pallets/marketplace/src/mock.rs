//! A mock runtime: System, Balances, the real kernel registry and the marketplace, with a
//! recording stake ledger, a recording verifier and a settable randomness seed.

use core::cell::RefCell;
use std::collections::BTreeMap;

use polkadot_sdk::{
	frame_support::{
		derive_impl, parameter_types,
		traits::{ConstU128, ConstU32, ConstU64, Hooks, Randomness},
		weights::Weight,
	},
	frame_system::{self, EnsureRoot},
	pallet_balances,
	sp_core::H256,
	sp_io,
	sp_runtime::{BuildStorage, DispatchError, DispatchResult, Perbill},
};
use verity_primitives::{
	cid::Cid,
	kernel::{AggregationRule, DeviceClass, KernelId},
	market::{TaskId, TaskInfo, TaskVerifier},
	staking::{ProviderStake, SlashReason},
};

use crate::{self as pallet_marketplace, types::*};

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
	pub type Balances = pallet_balances;
	#[runtime::pallet_index(2)]
	pub type Registry = pallet_aivm_registry;
	#[runtime::pallet_index(3)]
	pub type Market = pallet_marketplace;
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

impl pallet_aivm_registry::Config for Test {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type AdminOrigin = EnsureRoot<AccountId>;
	type Training = Market;
	type DepositBase = ConstU128<1>;
	type DepositPerByte = ConstU128<0>;
	type WeightInfo = ();
}

/// The minimum provider stake of the mock ledger.
pub const MIN_PROVIDER_STAKE: Balance = 100;

thread_local! {
	static STAKES: RefCell<BTreeMap<AccountId, Balance>> = const { RefCell::new(BTreeMap::new()) };
	static SLASHES: RefCell<Vec<(AccountId, Balance, SlashReason)>> = const { RefCell::new(Vec::new()) };
	static SUBMITTED: RefCell<Vec<(TaskId, TaskInfo<AccountId>, Cid)>> = const { RefCell::new(Vec::new()) };
	static REASSIGNED: RefCell<Vec<(TaskId, AccountId, Vec<TaskId>)>> = const { RefCell::new(Vec::new()) };
	static REFUSE_VERIFY: RefCell<bool> = const { RefCell::new(false) };
	static SEED: RefCell<u64> = const { RefCell::new(0) };
}

/// A stake ledger standing in for `pallet-staking-governance` (which the runtime uses).
pub struct MockStake;
impl MockStake {
	pub fn set(who: AccountId, stake: Balance) {
		STAKES.with(|s| s.borrow_mut().insert(who, stake));
	}
	pub fn slashes() -> Vec<(AccountId, Balance, SlashReason)> {
		SLASHES.with(|s| s.borrow().clone())
	}
}
impl ProviderStake<AccountId, Balance> for MockStake {
	fn active_stake(who: &AccountId) -> Balance {
		STAKES.with(|s| s.borrow().get(who).copied().unwrap_or(0))
	}
	fn ensure_provider(who: &AccountId) -> DispatchResult {
		if Self::active_stake(who) >= MIN_PROVIDER_STAKE {
			Ok(())
		} else {
			Err(DispatchError::Other("InsufficientStake"))
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
}

/// Records what the marketplace hands to verification; can be told to refuse.
pub struct MockVerifier;
impl MockVerifier {
	pub fn submitted() -> Vec<(TaskId, TaskInfo<AccountId>, Cid)> {
		SUBMITTED.with(|s| s.borrow().clone())
	}
	pub fn refuse(refuse: bool) {
		REFUSE_VERIFY.with(|r| *r.borrow_mut() = refuse);
	}
	/// The training tasks reported reassigned: (task, new provider, the job's tasks).
	pub fn reassigned() -> Vec<(TaskId, AccountId, Vec<TaskId>)> {
		REASSIGNED.with(|r| r.borrow().clone())
	}
}
impl TaskVerifier<AccountId> for MockVerifier {
	fn verify(task: TaskId, info: &TaskInfo<AccountId>, result: &Cid) -> DispatchResult {
		if REFUSE_VERIFY.with(|r| *r.borrow()) {
			return Err(DispatchError::Other("verifier refused"));
		}
		SUBMITTED.with(|s| s.borrow_mut().push((task, info.clone(), *result)));
		Ok(())
	}
	fn verification_blocks() -> u32 {
		VerificationBlocks::get()
	}
	fn task_reassigned(task: TaskId, info: &TaskInfo<AccountId>, group: &[TaskId]) {
		REASSIGNED.with(|r| r.borrow_mut().push((task, info.provider, group.to_vec())));
	}
}

/// Randomness from a seed the test sets.
pub struct MockRandomness;
impl MockRandomness {
	pub fn set_seed(seed: u64) {
		SEED.with(|s| *s.borrow_mut() = seed);
	}
}
impl Randomness<H256, u64> for MockRandomness {
	fn random(subject: &[u8]) -> (H256, u64) {
		let seed = SEED.with(|s| *s.borrow());
		(
			H256(sp_io::hashing::blake2_256(&[subject, &seed.to_le_bytes()].concat())),
			System::block_number(),
		)
	}
}

parameter_types! {
	pub const Treasury: AccountId = 99;
	/// Tests lower it to see deadlines spread over blocks.
	pub static DeadlineBudget: Weight = Weight::MAX;
	/// Blocks verification takes (0: instant).
	pub static VerificationBlocks: u32 = 0;
}

impl pallet_marketplace::Config for Test {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Kernels = Registry;
	type Staking = MockStake;
	type Verifier = MockVerifier;
	type Randomness = MockRandomness;
	type FeeDestination = Treasury;
	type AdminOrigin = EnsureRoot<AccountId>;
	type MillisecsPerBlock = ConstU64<6_000>;
	type MaxClasses = ConstU32<4>;
	type MaxOffersPerClass = ConstU32<8>;
	type MaxTasksPerJob = ConstU32<4>;
	type MaxInputs = ConstU32<4>;
	type MaxHyperParams = ConstU32<64>;
	type MaxCommittee = ConstU32<5>;
	type MaxQueued = ConstU32<4>;
	type MaxQueuedPerBuyer = ConstU32<3>;
	type MaxAllocationsPerBlock = ConstU32<2>;
	type MaxDeadlinesPerBlock = ConstU32<8>;
	type MaxDeadlineWeight = DeadlineBudget;
	type MaxJobDuration = ConstU64<1_000>;
	type MaxJobWork = ConstU64<1_000_000>;
	type EndpointDeposit = ConstU128<50>;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = MockHelper;
}

/// Benchmark set-up on the mock: stake in the mock ledger, a kernel in the real registry.
#[cfg(feature = "runtime-benchmarks")]
pub struct MockHelper;
#[cfg(feature = "runtime-benchmarks")]
impl crate::types::BenchmarkHelper<AccountId> for MockHelper {
	fn make_provider(who: &AccountId) {
		use polkadot_sdk::frame_support::traits::fungible::Mutate;
		Balances::set_balance(who, INITIAL);
		MockStake::set(*who, 1_000);
	}
	fn make_kernel(owner: &AccountId) -> KernelId {
		use polkadot_sdk::frame_support::traits::fungible::Mutate;
		Balances::set_balance(owner, INITIAL);
		let _ = owner;
		kernel(10_000_000_000, 30_000_000_000)
	}
}

pub const ALICE: AccountId = 1; // buyer
pub const BOB: AccountId = 2; // kernel owner, buyer
pub const CAROL: AccountId = 3; // provider
pub const DAVE: AccountId = 4; // provider
pub const EVE: AccountId = 5; // provider
pub const FERDIE: AccountId = 6; // no provider stake
pub const INITIAL: Balance = 1_000_000_000;

pub const CPU: ClassId = 0;
pub const GPU: ClassId = 1;

pub fn class(name: &[u8], base: Balance, min: Balance, max: Balance) -> ResourceClass<Balance> {
	ResourceClass {
		name: name.to_vec().try_into().unwrap(),
		base_price: base,
		min_price: min,
		max_price: max,
		device: DeviceClass::Cpu,
	}
}

pub fn default_params() -> MarketParams<Balance, u64> {
	MarketParams {
		accept_window: 3,
		heartbeat_interval: 5,
		missed_deadline_penalty: 50,
		protocol_fee: Perbill::from_percent(10),
		verification_margin: Perbill::from_percent(20),
		index_smoothing: Perbill::from_percent(50),
		supply_horizon_secs: 60,
		load_tolerance_secs: 1_000_000,
		max_reassignments: 2,
		collateral_percent: 200,
	}
}

pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	pallet_balances::GenesisConfig::<Test> {
		balances: [ALICE, BOB, CAROL, DAVE, EVE, FERDIE].iter().map(|a| (*a, INITIAL)).collect(),
		..Default::default()
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	pallet_marketplace::GenesisConfig::<Test> {
		classes: vec![
			(CPU, class(b"cpu", 10, 1, 1_000)),
			(GPU, ResourceClass { device: DeviceClass::Cuda, ..class(b"gpu", 100, 10, 10_000) }),
		],
		params: Some(default_params()),
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| {
		System::set_block_number(1);
		STAKES.with(|s| s.borrow_mut().clear());
		SLASHES.with(|s| s.borrow_mut().clear());
		SUBMITTED.with(|s| s.borrow_mut().clear());
		MockVerifier::refuse(false);
		MockRandomness::set_seed(0);
		DeadlineBudget::set(Weight::MAX);
		VerificationBlocks::set(0);
		for p in [CAROL, DAVE, EVE] {
			MockStake::set(p, 1_000);
		}
	});
	ext
}

/// Runs `test`, then checks the pallet's storage invariants.
pub fn build_and_execute(test: impl FnOnce()) {
	new_test_ext().execute_with(|| {
		test();
		Market::do_try_state().unwrap();
		Registry::do_try_state().unwrap();
	});
}

/// Advances to block `n`, running the marketplace's hook at each block.
pub fn run_to_block(n: u64) {
	while System::block_number() < n {
		let next = System::block_number() + 1;
		System::set_block_number(next);
		Market::on_initialize(next);
	}
}

/// Registers a kernel costing `inference` FLOPs per sample forward and `train` per training step.
pub fn kernel(inference: u64, train: u64) -> KernelId {
	kernel_on(DeviceClass::Cpu, inference, train)
}

/// A kernel for `device`, registered by BOB.
pub fn kernel_on(device: DeviceClass, inference: u64, train: u64) -> KernelId {
	use pallet_aivm_registry::{DType, Environment, KernelSpec, TensorSpec};
	let tensor = TensorSpec { dtype: DType::F32, shape: vec![0, 8].try_into().unwrap() };
	let spec = KernelSpec {
		archive: Cid::of_raw_bytes(&inference.to_le_bytes()),
		environment: Environment {
			libtorch: b"2.11.0".to_vec().try_into().unwrap(),
			device,
			dtype: DType::F32,
			deterministic_algorithms: true,
			tf32_disabled: true,
			seed: train,
		},
		inputs: vec![tensor.clone()].try_into().unwrap(),
		outputs: vec![tensor].try_into().unwrap(),
		inference_flops: inference,
		train_flops: train,
		rule: AggregationRule::ExactDigest,
		supersedes: None,
	};
	Registry::do_register(BOB, spec).unwrap()
}
