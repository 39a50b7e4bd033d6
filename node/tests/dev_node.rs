//! Starts the real `verity-node --dev --tmp`, sees blocks produced and finalised, stops it cleanly.

mod common;

use common::Node;
use std::time::Duration;

#[test]
fn dev_node_produces_and_finalizes_blocks_then_stops_cleanly() {
	let mut node = Node::start("dev", &["--dev", "--tmp"]);

	let first = node.wait_for("the RPC server and block #1", Duration::from_secs(180), |n| {
		n.best_number().filter(|b| *b >= 1)
	});
	let best = node.wait_for("three more blocks", Duration::from_secs(60), |n| {
		n.best_number().filter(|b| *b >= first + 3)
	});
	assert!(best >= first + 3);
	let finalized = node.wait_for("a finalized block", Duration::from_secs(60), |n| {
		n.finalized_number().filter(|f| *f >= 1)
	});
	assert!(finalized <= node.best_number().unwrap());

	let props = node.rpc("system_properties", "[]").unwrap();
	assert!(props.contains("\"tokenSymbol\":\"VER\""), "{props}");
	assert!(props.contains("\"tokenDecimals\":12"), "{props}");

	let status = node.stop();
	assert!(status.success(), "node exited with {status} after SIGINT\n{}", node.tail(20));
}
