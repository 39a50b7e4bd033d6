//! The four-validator local network on loopback: it finalises; with one validator killed the
//! other three keep producing and finalising (3 of 4 is above GRANDPA's 2/3 threshold); the
//! killed validator, restarted on its old database, catches up. Then validators change by stake:
//! a fifth node (Eve) makes keys with `author_rotateKeysWithOwner`, bonds, registers them with
//! `session.setKeys` and becomes a validator at a later session, while Dave unbonds everything
//! and leaves the set; the new set keeps finalising.

mod common;

use common::{
	free_ports, generate_node_key, temp_dir,
	tx::{account, dev_pair, rotate_keys, session_validators, submit},
	Node,
};
use polkadot_sdk::{pallet_session, pallet_utility};
use std::{
	path::Path,
	time::{Duration, Instant},
};
use verity_runtime::{currency::VER, genesis_config_presets::VALIDATOR_BOND, RuntimeCall};

const VALIDATORS: [&str; 4] = ["alice", "bob", "charlie", "dave"];

struct Validator {
	name: &'static str,
	/// Start with the well-known dev keys of `name` (`--alice`), or with an empty keystore.
	dev_keys: bool,
	base: String,
	key: String,
	rpc_port: u16,
	p2p_port: u16,
}

impl Validator {
	fn start(&self, bootnode: &str) -> Node {
		let mut args = vec![
			"--chain",
			"local",
			"--validator",
			"--base-path",
			&self.base,
			"--node-key-file",
			&self.key,
		];
		let flag = format!("--{}", self.name);
		if self.dev_keys {
			args.push(&flag);
		}
		if !bootnode.is_empty() {
			args.extend(["--bootnodes", bootnode]);
		}
		Node::start_on(self.name, &args, self.rpc_port, self.p2p_port)
	}
}

fn min_finalized(nodes: &[&Node]) -> Option<u64> {
	nodes.iter().map(|n| n.finalized_number()).collect::<Option<Vec<_>>>()?.into_iter().min()
}

/// Waits until the lowest finalized block among `nodes` reaches `target`; on timeout panics with
/// every node's status and the log tail of the one furthest behind.
fn wait_all_finalized(nodes: &[&Node], target: u64, what: &str, timeout: Duration) -> u64 {
	let start = Instant::now();
	loop {
		if let Some(f) = min_finalized(nodes).filter(|f| *f >= target) {
			return f;
		}
		if start.elapsed() > timeout {
			let status: Vec<String> = nodes.iter().map(|n| n.status()).collect();
			let laggard = nodes.iter().min_by_key(|n| n.finalized_number().unwrap_or(0)).unwrap();
			panic!(
				"timed out after {timeout:?} waiting for {what}\n{}\n--- {} log ---\n{}",
				status.join("\n"),
				laggard.name,
				laggard.tail(30)
			);
		}
		std::thread::sleep(Duration::from_secs(1));
	}
}

#[test]
fn four_validators_finalize_tolerate_one_down_and_catch_up() {
	let dir = temp_dir("verity-localnet");
	let ports = free_ports(2 * (VALIDATORS.len() + 1));
	let validators: Vec<Validator> = VALIDATORS
		.iter()
		.chain(["eve"].iter())
		.enumerate()
		.map(|(i, name)| {
			let base = dir.path().join(name);
			std::fs::create_dir_all(&base).unwrap();
			Validator {
				name,
				dev_keys: *name != "eve",
				base: base.to_str().unwrap().into(),
				key: base.join("node-key").to_str().unwrap().into(),
				rpc_port: ports[2 * i],
				p2p_port: ports[2 * i + 1],
			}
		})
		.collect();
	let peer_ids: Vec<String> =
		validators.iter().map(|v| generate_node_key(Path::new(&v.key))).collect();
	let bootnode = format!("/ip4/127.0.0.1/tcp/{}/p2p/{}", validators[0].p2p_port, peer_ids[0]);

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
