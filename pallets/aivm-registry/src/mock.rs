//! A mock runtime: System, Balances and the registry.

use polkadot_sdk::{
	frame_support::{derive_impl, traits::ConstU128},
	frame_system::{self, EnsureRoot},
	pallet_balances, sp_io,
	sp_runtime::BuildStorage,
};

use crate as pallet_aivm_registry;
use core::cell::RefCell;
use std::collections::BTreeMap;
use verity_primitives::{
	cid::Cid,
	kernel::KernelId,
	market::{JobId, TrainedModel, TrainingRecords},
};

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
	type Training = MockTraining;
	type DepositBase = ConstU128<100>;
	type DepositPerByte = ConstU128<1>;
	type WeightInfo = ();
}

thread_local! {
	static TRAINED: RefCell<BTreeMap<JobId, TrainedModel<AccountId>>> = const { RefCell::new(BTreeMap::new()) };
}

/// Completed training jobs, as a test puts them (the marketplace in the runtime).
pub struct MockTraining;

impl MockTraining {
	/// Job `job` by `buyer` trained `kernel` to `checkpoint` over `epochs` epochs.
	pub fn complete(job: JobId, buyer: AccountId, kernel: KernelId, checkpoint: Cid, epochs: u32) {
		TRAINED.with(|t| {
			t.borrow_mut()
				.insert(job, TrainedModel { kernel, buyer, checkpoint, epochs, version: None })
		});
	}
}

impl TrainingRecords<AccountId> for MockTraining {
	fn trained(job: JobId) -> Option<TrainedModel<AccountId>> {
		TRAINED.with(|t| t.borrow().get(&job).cloned())
	}
	fn set_version(job: JobId, version: Option<KernelId>) {
		TRAINED.with(|t| {
			if let Some(m) = t.borrow_mut().get_mut(&job) {
				m.version = version;
			}
		});
	}
}

pub const ALICE: AccountId = 1;
pub const BOB: AccountId = 2;
/// Too poor for any deposit.
pub const POOR: AccountId = 3;
pub const INITIAL: Balance = 10_000;

pub fn new_test_ext() -> sp_io::TestExternalities {
	TRAINED.with(|t| t.borrow_mut().clear());
	let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	pallet_balances::GenesisConfig::<Test> {
		balances: vec![(ALICE, INITIAL), (BOB, INITIAL), (POOR, 50)],
		..Default::default()
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| System::set_block_number(1));
	ext
}

/// Runs `test`, then checks the pallet's storage invariants.
pub fn build_and_execute(test: impl FnOnce()) {
	new_test_ext().execute_with(|| {
		test();
		Registry::do_try_state().unwrap();
	});
}
