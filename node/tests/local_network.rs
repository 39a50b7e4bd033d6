//! The four-validator local network on loopback: it finalises; with one validator killed the
//! other three keep producing and finalising (3 of 4 is above GRANDPA's 2/3 threshold); the
//! killed validator, restarted on its old database, catches up. Then validators change by stake:
//! a fifth node (Eve) makes keys with `author_rotateKeysWithOwner`, bonds, registers them with
//! `session.setKeys` and becomes a validator at a later session, while Dave unbonds everything
//! and leaves the set; the new set keeps finalising.

mod common;

use common::{
	network::{min_finalized, validators, wait_all_finalized},
	temp_dir,
	tx::{account, dev_pair, rotate_keys, session_validators, submit},
	Node,
};
use polkadot_sdk::{pallet_session, pallet_utility};
use std::time::Duration;
use verity_runtime::{currency::VER, genesis_config_presets::VALIDATOR_BOND, RuntimeCall};

#[test]
fn four_validators_finalize_tolerate_one_down_and_catch_up() {
	let dir = temp_dir("verity-localnet");
	// The four genesis validators with their dev keys, and Eve with an empty keystore.
	let validators = validators(
		dir.path(),
		&[
			("alice", Some("alice")),
			("bob", Some("bob")),
			("charlie", Some("charlie")),
			("dave", Some("dave")),
			("eve", None),
		],
	);
	let bootnode = validators[0].address();

	let mut nodes: Vec<Node> = validators[..4]
		.iter()
		.enumerate()
		.map(|(i, v)| v.start(if i == 0 { "" } else { &bootnode }))
		.collect();

	// All four finalise together.
	let all: Vec<&Node> = nodes.iter().collect();
	let start_final = wait_all_finalized(
		&all,
		3,
		"all four validators to finalise block 3",
		Duration::from_secs(300),
	);

	// Dave crashes.
	nodes[3].kill();
	let survivors: Vec<&Node> = nodes[..3].iter().collect();
	let best_at_kill = nodes[0].best_number().unwrap();
	let f_at_kill = min_finalized(&survivors).unwrap();
	let f_down = wait_all_finalized(
		&survivors,
		f_at_kill + 4,
		"the three survivors to finalise 4 more blocks",
		Duration::from_secs(180),
	);
	assert!(f_down > start_final);
	assert!(nodes[0].best_number().unwrap() > best_at_kill, "block production stalled");

	// Dave comes back on its old database and catches up with the others.
	nodes[3] = validators[3].start(&bootnode);
	let target = nodes[0].finalized_number().unwrap();
	let dave = &nodes[3];
	dave.wait_for("the restarted validator to catch up", Duration::from_secs(240), |n| {
		n.finalized_number().filter(|f| *f >= target)
	});
	assert!(dave.best_number().unwrap() >= target);

	// And the network still finalises with all four.
	let f_now = nodes[0].finalized_number().unwrap();
	let all: Vec<&Node> = nodes.iter().collect();
	wait_all_finalized(
		&all,
		f_now + 2,
		"finality to continue after the restart",
		Duration::from_secs(120),
	);

	// Eve starts a fifth node with an empty keystore and syncs.
	nodes.push(validators[4].start(&bootnode));
	let target = nodes[0].finalized_number().unwrap();
	nodes[4].wait_for("Eve's node to sync", Duration::from_secs(240), |n| {
		n.finalized_number().filter(|f| *f >= target)
	});
	// Her keys come from her own node; she bonds, declares candidacy and sets the keys at once.
	let (eve, dave) = (dev_pair("Eve"), dev_pair("Dave"));
	let (keys, proof) = rotate_keys(&nodes[4], &account(&eve));
	let join = RuntimeCall::Utility(pallet_utility::Call::batch_all {
		calls: vec![
			RuntimeCall::StakingGovernance(pallet_staking_governance::Call::bond {
				amount: 20_000 * VER,
			}),
			RuntimeCall::StakingGovernance(pallet_staking_governance::Call::validate {}),
			RuntimeCall::Session(pallet_session::Call::set_keys { keys, proof }),
		],
	});
	submit(&nodes[0], &eve, join).expect("Eve's join transaction is accepted");
	// Dave unbonds all his stake: he is chilled and not elected again.
	let leave = RuntimeCall::StakingGovernance(pallet_staking_governance::Call::unbond {
		amount: VALIDATOR_BOND,
	});
	submit(&nodes[1], &dave, leave).expect("Dave's unbond transaction is accepted");

	// Within two session changes (2 minutes each) the set is Alice, Bob, Charlie and Eve.
	let set = nodes[0].wait_for(
		"Eve to join and Dave to leave the validator set",
		Duration::from_secs(540),
		|n| {
			let v = session_validators(n);
			(v.contains(&account(&eve)) && !v.contains(&account(&dave))).then_some(v)
		},
	);
	assert_eq!(set.len(), 4, "validators: {set:?}");
	// The new set, Eve voting in GRANDPA with her rotated key, keeps finalising.
	let f_now = nodes[0].finalized_number().unwrap();
	let new_set: Vec<&Node> = [0, 1, 2, 4].iter().map(|i| &nodes[*i]).collect();
	wait_all_finalized(
		&new_set,
		f_now + 3,
		"the new validator set to finalise",
		Duration::from_secs(180),
	);
	for node in &mut nodes {
		assert!(node.stop().success(), "{} did not stop cleanly", node.name);
	}
}
