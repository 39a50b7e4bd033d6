//! The four-validator local network on loopback: it finalises; with one validator killed the
//! other three keep producing and finalising (3 of 4 is above GRANDPA's 2/3 threshold); the
//! killed validator, restarted on its old database, catches up.

mod common;

use common::{free_ports, generate_node_key, temp_dir, Node};
use std::{
	path::Path,
	time::{Duration, Instant},
};

const VALIDATORS: [&str; 4] = ["alice", "bob", "charlie", "dave"];

struct Validator {
	name: &'static str,
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
		args.push(&flag);
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
	let ports = free_ports(2 * VALIDATORS.len());
	let validators: Vec<Validator> = VALIDATORS
		.iter()
		.enumerate()
		.map(|(i, name)| {
			let base = dir.path().join(name);
			std::fs::create_dir_all(&base).unwrap();
			Validator {
				name,
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

	let mut nodes: Vec<Node> = validators
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
	for node in &mut nodes {
		assert!(node.stop().success(), "{} did not stop cleanly", node.name);
	}
}
