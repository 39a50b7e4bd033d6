//! A mock runtime: System, Balances and the pallet. Session keys are a set the tests control.

use polkadot_sdk::{
	frame_support::{
		derive_impl, parameter_types,
		traits::{tokens::imbalance::ResolveTo, ConstU32, Hooks, ValidatorRegistration},
		weights::Weight,
	},
	frame_system::{self, EnsureRoot},
	pallet_balances, sp_io,
	sp_runtime::{BuildStorage, Perbill},
};
use std::{cell::RefCell, collections::BTreeSet};

use crate as pallet_staking_governance;
use crate::Params;

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
	pub type Staking = pallet_staking_governance;
}

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountData = pallet_balances::AccountData<Balance>;
	type Version = MockVersion;
}

thread_local! {
	static SPEC_VERSION: RefCell<u32> = const { RefCell::new(1) };
}

/// The runtime version, whose `spec_version` a test can bump as an upgrade would.
pub struct MockVersion;
impl polkadot_sdk::frame_support::traits::Get<polkadot_sdk::sp_version::RuntimeVersion>
	for MockVersion
{
	fn get() -> polkadot_sdk::sp_version::RuntimeVersion {
		polkadot_sdk::sp_version::RuntimeVersion {
			spec_version: SPEC_VERSION.with(|v| *v.borrow()),
			..Default::default()
		}
	}
}

/// Simulates a runtime upgrade to `spec_version`.
pub fn upgrade_to(spec_version: u32) {
	SPEC_VERSION.with(|v| *v.borrow_mut() = spec_version);
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
	type Balance = Balance;
	type ExistentialDeposit = polkadot_sdk::frame_support::traits::ConstU128<1>;
	type AccountStore = System;
	type RuntimeHoldReason = RuntimeHoldReason;
}

thread_local! {
	static KEYS: RefCell<BTreeSet<AccountId>> = const { RefCell::new(BTreeSet::new()) };
}

/// Accounts with session keys, as `pallet-session` would answer.
pub struct MockKeys;
impl ValidatorRegistration<AccountId> for MockKeys {
	fn is_registered(id: &AccountId) -> bool {
		KEYS.with(|k| k.borrow().contains(id))
	}
}

/// Give `who` session keys.
pub fn set_keys(who: AccountId) {
	KEYS.with(|k| k.borrow_mut().insert(who));
}

pub const TREASURY: AccountId = 999;

parameter_types! {
	pub const Treasury: AccountId = TREASURY;
	pub const ReporterShare: Perbill = Perbill::from_percent(10);
}

impl pallet_staking_governance::Config for Test {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type RuntimeCall = RuntimeCall;
	type Slashed = ResolveTo<Treasury, Balances>;
	type ValidatorRegistration = MockKeys;
	type AdminOrigin = EnsureRoot<AccountId>;
	type SlashOrigin = EnsureRoot<AccountId>;
	type CancelOrigin = EnsureRoot<AccountId>;
	type FastTrackOrigin = EnsureRoot<AccountId>;
	type MaxCandidates = ConstU32<8>;
	type MaxUnlockingChunks = ConstU32<3>;
	type MaxActiveProposals = ConstU32<3>;
	type MaxVotesClearedPerBlock = ConstU32<8>;
	type MaxCallLen = ConstU32<128>;
	type MaxEnactmentWeight = MaxEnactmentWeight;
	type ReporterShare = ReporterShare;
	type MinBond = MinBond;
	type MinUnbondingPeriod = MinUnbondingPeriod;
	type WeightInfo = ();
}

parameter_types! {
	/// Tests lower it to see enactments spread over blocks.
	pub static MaxEnactmentWeight: Weight = Weight::MAX;
	/// A planck, as before finding 20; its test raises it.
	pub static MinBond: Balance = 1;
	/// Below the mock's `UNBONDING_PERIOD`; finding 19's test tries to go under it.
	pub const MinUnbondingPeriod: u64 = 5;
}

pub const INITIAL: Balance = 10_000;
pub const VOTING_PERIOD: u64 = 10;
pub const ENACTMENT_DELAY: u64 = 5;
pub const UNBONDING_PERIOD: u64 = 20;
pub const DEPOSIT: Balance = 100;

pub fn params() -> Params<Balance, u64> {
	Params {
		validator_count: 3,
		min_validator_count: 2,
		min_validator_bond: 500,
		min_provider_bond: 200,
		unbonding_period: UNBONDING_PERIOD,
		voting_period: VOTING_PERIOD,
		enactment_delay: ENACTMENT_DELAY,
		min_turnout: Perbill::from_percent(40),
		min_approval: Perbill::from_percent(50),
		proposal_deposit: DEPOSIT,
	}
}

/// Accounts 1..=6 with `INITIAL` each (and the treasury with 1); 1, 2 and 3 bonded 1000, 2000
/// and 3000 as validator candidates with keys.
pub fn new_test_ext() -> sp_io::TestExternalities {
	KEYS.with(|k| k.borrow_mut().clear());
	MaxEnactmentWeight::set(Weight::MAX);
	MinBond::set(1);
	let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	pallet_balances::GenesisConfig::<Test> {
		balances: (1..=6).map(|a| (a, INITIAL)).chain([(TREASURY, 1)]).collect(),
		..Default::default()
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	pallet_staking_governance::GenesisConfig::<Test> {
		stakers: vec![(1, 1000, true), (2, 2000, true), (3, 3000, true)],
		params: params(),
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| {
		System::set_block_number(1);
		for v in [1, 2, 3] {
			set_keys(v);
		}
	});
	ext
}

/// Runs `test`, then checks the pallet's storage invariants.
pub fn build_and_execute(test: impl FnOnce()) {
	new_test_ext().execute_with(|| {
		test();
		Staking::do_try_state().unwrap();
	});
}

/// Advance to block `n`, running the pallet's `on_initialize` on each.
pub fn run_to_block(n: u64) {
	while System::block_number() < n {
		let next = System::block_number() + 1;
		System::set_block_number(next);
		Staking::on_initialize(next);
	}
}
