//! Bad input on the command line gives a one-line error and a non-zero exit, never a panic.

mod common;

use common::{run_node, temp_dir};

fn assert_one_line_error(args: &[&str], expected: &str) {
	let (status, _stdout, stderr) = run_node(args);
	assert!(!status.success(), "{args:?} succeeded");
	assert_eq!(status.code(), Some(1), "{args:?}: {stderr}");
	// Log lines (timestamped) may come first; the error itself is exactly one short line.
	let lines: Vec<&str> =
		stderr.lines().filter(|l| !l.trim().is_empty() && !is_log_line(l)).collect();
	assert_eq!(lines.len(), 1, "{args:?} printed more than one error line:\n{stderr}");
	assert!(lines[0].starts_with("Error: "), "{stderr}");
	assert!(lines[0].contains(expected), "{args:?}: expected `{expected}` in `{stderr}`");
	assert!(lines[0].chars().count() < 450, "error line too long: {}", lines[0]);
	assert!(!stderr.contains("panicked"), "{stderr}");
}

/// `2026-11-22 22:11:56 Building chain spec`: a line of the node's logger.
fn is_log_line(line: &str) -> bool {
	let b = line.as_bytes();
	b.len() > 20 && b[4] == b'-' && b[7] == b'-' && b[13] == b':' && b[16] == b':'
}

#[test]
fn unknown_chain_name_is_a_one_line_error() {
	assert_one_line_error(
		&["build-spec", "--chain", "no-such-chain"],
		"unknown chain `no-such-chain`",
	);
}

#[test]
fn missing_chain_spec_file_is_a_one_line_error() {
	assert_one_line_error(
		&["--chain", "/nonexistent/verity-spec.json", "--tmp"],
		"unknown chain `/nonexistent/verity-spec.json`",
	);
}

#[test]
fn malformed_chain_spec_is_a_one_line_error() {
	let dir = temp_dir("verity-bad-spec");
	let path = dir.path().join("bad.json");
	std::fs::write(&path, "{ \"name\": \"broken\", ").unwrap();
	assert_one_line_error(&["build-spec", "--chain", path.to_str().unwrap()], "invalid chain spec");
}

#[test]
fn chain_spec_with_invalid_genesis_is_a_one_line_error() {
	let dir = temp_dir("verity-bad-genesis");
	// Take the real dev spec and add a genesis entry no pallet of the runtime has.
	let (status, spec, stderr) = run_node(&["build-spec", "--chain", "dev"]);
	assert!(status.success(), "{stderr}");
	assert!(spec.contains("\"patch\": {"), "dev spec has no genesis patch");
	let spec = spec.replacen("\"patch\": {", "\"patch\": {\n\"noSuchPallet\": {},", 1);
	let path = dir.path().join("invalid-genesis.json");
	std::fs::write(&path, spec).unwrap();
	assert_one_line_error(
		&["build-spec", "--raw", "--chain", path.to_str().unwrap()],
		"noSuchPallet",
	);
}
