//! Every genesis preset builds a valid genesis state: validators in session, BABE and GRANDPA
//! authorities set from their session keys, validators bonded as candidates, accounts endowed,
//! sudo only where the preset wants it, staking-governance parameters that pass its checks, and
//! the market's resource classes and parameters, and verification parameters.

mod common;

use polkadot_sdk::{sp_genesis_builder::PresetId, sp_keyring::Sr25519Keyring, *};
use verity_runtime::{
	genesis_config_presets::{self, dev_validator, ENDOWMENT, VALIDATOR_BOND},
	AccountId, Runtime,
};

/// Builds the genesis of `preset` in fresh externalities and runs `check` in them.
fn with_preset_genesis(preset: &str, check: impl FnOnce()) {
	common::preset_genesis(preset).execute_with(check);
}

fn assert_validators(expected: &[&str]) {
	let validators = pallet_session::Validators::<Runtime>::get();
	let expected_accounts: Vec<AccountId> =
		expected.iter().map(|s| dev_validator(s).account).collect();
	assert_eq!(validators, expected_accounts);

	let babe: Vec<_> =
		pallet_babe::Authorities::<Runtime>::get().into_iter().map(|(id, _)| id).collect();
	let expected_babe: Vec<_> = expected.iter().map(|s| dev_validator(s).keys.babe).collect();
	assert_eq!(babe, expected_babe, "BABE authorities follow the session keys");

	let grandpa: Vec<_> = pallet_grandpa::Pallet::<Runtime>::grandpa_authorities()
		.into_iter()
		.map(|(id, _)| id)
		.collect();
	let expected_grandpa: Vec<_> = expected.iter().map(|s| dev_validator(s).keys.grandpa).collect();
	assert_eq!(grandpa, expected_grandpa, "GRANDPA authorities follow the session keys");

	for account in &expected_accounts {
		assert_eq!(
			pallet_balances::Pallet::<Runtime>::free_balance(account),
			ENDOWMENT - VALIDATOR_BOND
		);
		let ledger = pallet_staking_governance::Ledgers::<Runtime>::get(account).unwrap();
		assert_eq!(ledger.active, VALIDATOR_BOND);
	}
	// Bonded as candidates, with keys: the first election returns the genesis set.
	assert_eq!(
		pallet_staking_governance::Candidates::<Runtime>::get().into_inner(),
		expected_accounts
	);
	let mut elected = pallet_staking_governance::Pallet::<Runtime>::elect();
	elected.sort();
	let mut sorted = expected_accounts.clone();
	sorted.sort();
	assert_eq!(elected, sorted);
	let params = pallet_staking_governance::Parameters::<Runtime>::get().unwrap();
	assert!(pallet_staking_governance::Pallet::<Runtime>::params_are_valid(&params));
	pallet_staking_governance::Pallet::<Runtime>::do_try_state().unwrap();

	// The market starts with three resource classes, their indices at the base price, and
	// valid parameters.
	assert_eq!(pallet_marketplace::ClassIds::<Runtime>::get().into_inner(), vec![0, 1, 2]);
	for class in 0..3 {
		let def = pallet_marketplace::ResourceClasses::<Runtime>::get(class).unwrap();
		assert!(def.min_price < def.base_price && def.base_price < def.max_price);
		assert_eq!(pallet_marketplace::PriceIndex::<Runtime>::get(class), def.base_price);
	}
	let market = pallet_marketplace::Params::<Runtime>::get().unwrap();
	assert!(pallet_marketplace::Pallet::<Runtime>::params_are_valid(&market));
	pallet_marketplace::Pallet::<Runtime>::do_try_state().unwrap();
	pallet_aivm_registry::Pallet::<Runtime>::do_try_state().unwrap();
	let poc = pallet_proof_of_compute::Params::<Runtime>::get().unwrap();
	assert!(pallet_proof_of_compute::Pallet::<Runtime>::params_are_valid(&poc));
	pallet_proof_of_compute::Pallet::<Runtime>::do_try_state().unwrap();
}

#[test]
fn development_preset_has_alice_as_sole_validator_and_sudo() {
	with_preset_genesis("development", || {
		assert_validators(&["Alice"]);
		assert_eq!(pallet_sudo::Key::<Runtime>::get(), Some(Sr25519Keyring::Alice.to_account_id()));
		for k in Sr25519Keyring::well_known() {
			assert_eq!(
				<pallet_balances::Pallet<Runtime> as frame_support::traits::fungible::Inspect<_>>::total_balance(&k.to_account_id()),
				ENDOWMENT
			);
		}
		assert!(pallet_babe::EpochConfig::<Runtime>::get().is_some());
	});
}

#[test]
fn dev_validator_keys_are_the_well_known_dev_keys() {
	// `verity-node --alice` inserts exactly these keys; a mismatch would stall block production.
	let alice = dev_validator("Alice");
	assert_eq!(alice.account, Sr25519Keyring::Alice.to_account_id());
	let raw = |k: &dyn AsRef<[u8]>| k.as_ref().to_vec();
	assert_eq!(raw(&alice.keys.babe), raw(&Sr25519Keyring::Alice.public()));
	assert_eq!(
		raw(&alice.keys.grandpa),
		raw(&polkadot_sdk::sp_keyring::Ed25519Keyring::Alice.public())
	);
}

#[test]
fn local_testnet_preset_has_four_validators() {
	with_preset_genesis("local_testnet", || {
		assert_validators(&["Alice", "Bob", "Charlie", "Dave"]);
	});
}

#[test]
fn testnet_preset_has_its_own_validators_and_no_dev_accounts() {
	with_preset_genesis("testnet", || {
		assert_validators(&[
			"verity-testnet-validator-1",
			"verity-testnet-validator-2",
			"verity-testnet-validator-3",
			"verity-testnet-validator-4",
		]);
		assert_eq!(
			pallet_balances::Pallet::<Runtime>::free_balance(Sr25519Keyring::Alice.to_account_id()),
			0
		);
		// No sudo: the testnet changes parameters and code only by stake-weighted vote.
		assert_eq!(pallet_sudo::Key::<Runtime>::get(), None);
	});
}

#[test]
fn total_issuance_equals_sum_of_endowments() {
	with_preset_genesis("development", || {
		let accounts = Sr25519Keyring::well_known().count() as u128;
		// Plus the treasury account's existential deposit.
		assert_eq!(
			pallet_balances::Pallet::<Runtime>::total_issuance(),
			accounts * ENDOWMENT + verity_runtime::EXISTENTIAL_DEPOSIT
		);
		assert_eq!(
			pallet_balances::Pallet::<Runtime>::free_balance(
				verity_runtime::configs::TreasuryAccount::get()
			),
			verity_runtime::EXISTENTIAL_DEPOSIT
		);
	});
}

#[test]
fn unknown_preset_is_none() {
	assert!(genesis_config_presets::get_preset(&PresetId::from("no_such_preset")).is_none());
	let names = genesis_config_presets::preset_names();
	assert_eq!(names.len(), 3);
}
