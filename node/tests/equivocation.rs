//! Equivocation slashing on the four-validator local network: a fifth node runs with Alice's
//! validator keys, so Alice signs two different blocks in her slots. The honest validators'
//! nodes see both blocks, prove Alice's key belonged to the session's validator set (historical
//! session proof) and report the equivocation as an unsigned extrinsic their own blocks include;
//! `pallet-offences` hands it to staking-governance, which slashes Alice, pays the reporter and
//! chills her. The next election leaves her out and the chain keeps finalising throughout.

mod common;

use common::{
	network::{min_finalized, validators, wait_all_finalized},
	temp_dir,
	tx::{
		account, block_author, block_hash, dev_pair, events_at, storage_map, storage_map_at,
		storage_value,
	},
	Node,
};
use polkadot_sdk::{pallet_balances, sp_runtime::Perbill};
use std::time::Duration;
use verity_primitives::staking::SlashReason;
use verity_runtime::{
	configs::TreasuryAccount, genesis_config_presets::VALIDATOR_BOND, AccountId, Balance, Runtime,
	RuntimeEvent,
};

#[test]
fn a_double_signing_validator_is_reported_slashed_and_left_out() {
	let dir = temp_dir("verity-equivocation");
	let validators = validators(
		dir.path(),
		&[
			("bob", Some("bob")),
			("charlie", Some("charlie")),
			("dave", Some("dave")),
			("alice", Some("alice")),
			("alice-twin", Some("alice")),
		],
	);
	let bootnode = validators[0].address();
	let nodes: Vec<Node> = validators
		.iter()
		.enumerate()
		.map(|(i, v)| v.start(if i == 0 { "" } else { &bootnode }))
		.collect();
	let honest: Vec<&Node> = nodes[..3].iter().collect();
	wait_all_finalized(&honest, 1, "the network to finalise block 1", Duration::from_secs(300));

	let alice = account(&dev_pair("Alice"));

	// Alice's twin signs other blocks in the same slots; an honest node reports, Alice is slashed.
	let (fraction, base): (Perbill, Balance) = nodes[0].wait_for(
		"Alice's equivocation to be reported and punished",
		Duration::from_secs(300),
		|n| storage_map(n, "StakingGovernance", "OffenceSlashes", &alice),
	);
	assert!(fraction > Perbill::zero(), "slashed a zero fraction");
	assert_eq!(base, VALIDATOR_BOND, "the fraction is of Alice's whole stake");
	let ledger: pallet_staking_governance::LedgerOf<Runtime> =
		storage_map(&nodes[0], "StakingGovernance", "Ledgers", &alice)
			.expect("Alice keeps a ledger");
	let slashed = fraction.mul_floor(VALIDATOR_BOND);
	assert_eq!(ledger.active, VALIDATOR_BOND - slashed, "Alice lost the offence's fraction");
	let candidates: Vec<AccountId> =
		storage_value(&nodes[0], "StakingGovernance", "Candidates").unwrap_or_default();
	assert!(!candidates.contains(&alice), "Alice is chilled: {candidates:?}");
	// The next election leaves Alice out; the honest three keep finalising.
	let elected: Vec<AccountId> =
		nodes[0].wait_for("an election without Alice", Duration::from_secs(300), |n| {
			let set: Vec<AccountId> = storage_value(n, "StakingGovernance", "ElectedValidators")?;
			(!set.is_empty() && !set.contains(&alice)).then_some(set)
		});
	assert_eq!(elected.len(), 3, "elected: {elected:?}");
	let f = min_finalized(&honest).expect("the honest nodes answer");
	wait_all_finalized(&honest, f + 3, "finality to continue", Duration::from_secs(180));

	// The block that punished Alice (the first finalized one holding her record) slashed her
	// once and paid its author, the reporter, a tenth (unless the author was Alice or her twin),
	// the rest to the treasury.
	let (hash, events) = (1..=f)
		.find_map(|n| {
			let hash = block_hash(&nodes[0], n)?;
			let record: Option<(Perbill, Balance)> = storage_map_at(
				&nodes[0],
				"StakingGovernance",
				"OffenceSlashes",
				&alice,
				Some(&hash),
			);
			record.map(|_| (hash.clone(), events_at(&nodes[0], &hash)))
		})
		.expect("a finalized block punished Alice");
	let slash = RuntimeEvent::StakingGovernance(pallet_staking_governance::Event::Slashed {
		who: alice.clone(),
		amount: slashed,
		reason: SlashReason::Equivocation,
	});
	assert!(events.contains(&slash), "the punishing block's events: {events:?}");
	let paid: Vec<(AccountId, Balance)> = events
		.iter()
		.filter_map(|e| match e {
			RuntimeEvent::Balances(pallet_balances::Event::Deposit { who, amount }) => {
				Some((who.clone(), *amount))
			}
			_ => None,
		})
		.collect();
	let author = block_author(&nodes[0], &hash).expect("the punishing block has a BABE author");
	let treasury = TreasuryAccount::get();
	if author == alice {
		assert_eq!(paid, vec![(treasury, slashed)], "Alice reported herself");
	} else {
		let reward = Perbill::from_percent(10).mul_floor(slashed);
		assert_eq!(paid, vec![(author, reward), (treasury, slashed - reward)]);
	}
	for mut node in nodes {
		assert!(node.stop().success(), "{} did not stop cleanly", node.name);
	}
}
