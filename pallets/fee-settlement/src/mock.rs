//! A mock runtime: System, Balances and the pallet, with real sr25519/ed25519 accounts so that
//! vouchers signed by polkadot.js verify here as they do on chain.

use polkadot_sdk::{
	frame_support::{
		derive_impl, parameter_types,
		traits::{ConstU128, ConstU32, ConstU64, Hooks},
	},
	frame_system::{self, EnsureRoot},
	pallet_balances,
	sp_core::{sr25519, Pair, H256},
	sp_io,
	sp_keystore::{testing::MemoryKeystore, KeystoreExt},
	sp_runtime::{
		traits::{IdentifyAccount, IdentityLookup},
		AccountId32, BuildStorage, MultiSignature, MultiSigner,
	},
};

use crate as pallet_fee_settlement;

type Block = frame_system::mocking::MockBlock<Test>;
pub type AccountId = AccountId32;
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
	pub type FeeSettlement = pallet_fee_settlement;
}

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountId = AccountId;
	type Lookup = IdentityLookup<AccountId>;
	type AccountData = pallet_balances::AccountData<Balance>;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
	type Balance = Balance;
	type ExistentialDeposit = ConstU128<1>;
	type AccountStore = System;
	type RuntimeHoldReason = RuntimeHoldReason;
}

parameter_types! {
	pub const MaxChannelsPerBuyer: u32 = 4;
}

impl pallet_fee_settlement::Config for Test {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Signature = MultiSignature;
	type AdminOrigin = EnsureRoot<AccountId>;
	type MinDeposit = ConstU128<10>;
	type MaxChannelsPerBuyer = MaxChannelsPerBuyer;
	type MaxBatch = ConstU32<8>;
	type MaxProofDepth = ConstU32<32>;
	type DefaultChallengePeriod = ConstU64<10>;
	type MinChallengePeriod = ConstU64<3>;
	type MaxChallengePeriod = ConstU64<1000>;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = crate::Sr25519BenchmarkHelper;
}

/// The genesis hash vouchers in these tests are bound to (the one in `tests/vectors`).
pub const GENESIS: H256 = H256([0x42; 32]);

/// Dev keys by name ("Alice", "Bob", …), as `//Name` derives them.
pub fn pair(name: &str) -> sr25519::Pair {
	sr25519::Pair::from_string(&format!("//{name}"), None).unwrap()
}

/// The account of a dev key.
pub fn account(name: &str) -> AccountId {
	MultiSigner::from(pair(name).public()).into_account()
}

pub const INITIAL: Balance = 1_000;

/// Alice, Bob, Charlie and Dave with `INITIAL` each; the chain at block 1 with `GENESIS` as the
/// hash of block 0.
pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	pallet_balances::GenesisConfig::<Test> {
		balances: ["Alice", "Bob", "Charlie", "Dave"]
			.iter()
			.map(|n| (account(n), INITIAL))
			.collect(),
		..Default::default()
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.register_extension(KeystoreExt::new(MemoryKeystore::new()));
	ext.execute_with(|| {
		System::set_block_number(1);
		frame_system::BlockHash::<Test>::insert(0, GENESIS);
	});
	ext
}

/// Runs `test`, then checks the pallet's storage invariants.
pub fn build_and_execute(test: impl FnOnce()) {
	new_test_ext().execute_with(|| {
		test();
		FeeSettlement::do_try_state().unwrap();
	});
}

/// Advance to block `n`, running the pallet's hooks.
pub fn run_to_block(n: u64) {
	while System::block_number() < n {
		let next = System::block_number() + 1;
		System::set_block_number(next);
		FeeSettlement::on_initialize(next);
	}
}
