//! Validators of the `local` chain on loopback, each with its own database and node key, and
//! waits over several nodes at once.

use std::{
	path::Path,
	time::{Duration, Instant},
};

use super::{free_ports, generate_node_key, Node};

/// One validator node of the `local` chain.
pub struct Validator {
	/// The node's name in failure messages.
	pub name: &'static str,
	/// The well-known dev keys it starts with (`--alice`), or none (an empty keystore).
	pub dev_keys: Option<&'static str>,
	pub base: String,
	pub key: String,
	pub rpc_port: u16,
	pub p2p_port: u16,
	/// Its libp2p peer id.
	pub peer_id: String,
}

impl Validator {
	/// Starts the node, joining the network through `bootnode` (none for the first node).
	pub fn start(&self, bootnode: &str) -> Node {
		let mut args = vec![
			"--chain",
			"local",
			"--validator",
			"--base-path",
			&self.base,
			"--node-key-file",
			&self.key,
		];
		let flag = self.dev_keys.map(|k| format!("--{k}"));
		if let Some(flag) = &flag {
			args.push(flag);
		}
		if !bootnode.is_empty() {
			args.extend(["--bootnodes", bootnode]);
		}
		Node::start_on(self.name, &args, self.rpc_port, self.p2p_port)
	}

	/// This node's address, to bootstrap others from.
	pub fn address(&self) -> String {
		format!("/ip4/127.0.0.1/tcp/{}/p2p/{}", self.p2p_port, self.peer_id)
	}
}

/// One validator per `(name, dev keys)`, each with a directory under `dir`, a node key and ports.
pub fn validators(dir: &Path, nodes: &[(&'static str, Option<&'static str>)]) -> Vec<Validator> {
	let ports = free_ports(2 * nodes.len());
	nodes
		.iter()
		.enumerate()
		.map(|(i, (name, dev_keys))| {
			let base = dir.join(name);
			std::fs::create_dir_all(&base).unwrap();
			let key = base.join("node-key");
			let peer_id = generate_node_key(&key);
			Validator {
				name,
				dev_keys: *dev_keys,
				base: base.to_str().unwrap().into(),
				key: key.to_str().unwrap().into(),
				rpc_port: ports[2 * i],
				p2p_port: ports[2 * i + 1],
				peer_id,
			}
		})
		.collect()
}

/// The lowest finalized block among `nodes`, once all answer.
pub fn min_finalized(nodes: &[&Node]) -> Option<u64> {
	nodes.iter().map(|n| n.finalized_number()).collect::<Option<Vec<_>>>()?.into_iter().min()
}

/// Waits until the lowest finalized block among `nodes` reaches `target`; on timeout panics with
/// every node's status and the log tail of the one furthest behind.
pub fn wait_all_finalized(nodes: &[&Node], target: u64, what: &str, timeout: Duration) -> u64 {
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
