//! Helpers for tests that start the real `verity-node` binary: free ports, a process guard that
//! never leaks a node, and a minimal JSON-RPC client over plain HTTP.

#![allow(dead_code)]

pub mod network;
pub mod tx;

use std::{
	io::{BufRead, BufReader, Read, Write},
	net::{TcpListener, TcpStream},
	path::{Path, PathBuf},
	process::{Child, Command, ExitStatus, Stdio},
	sync::{Arc, Mutex},
	time::{Duration, Instant},
};

/// The node binary cargo built for these tests.
pub fn node_bin() -> PathBuf {
	PathBuf::from(env!("CARGO_BIN_EXE_verity-node"))
}

/// A TCP port that is free right now on loopback.
pub fn free_port() -> u16 {
	free_ports(1)[0]
}

/// `n` distinct TCP ports that are free right now on loopback (all held until all are chosen,
/// so the system cannot hand out the same port twice).
pub fn free_ports(n: usize) -> Vec<u16> {
	let listeners: Vec<TcpListener> =
		(0..n).map(|_| TcpListener::bind("127.0.0.1:0").unwrap()).collect();
	listeners.iter().map(|l| l.local_addr().unwrap().port()).collect()
}

/// A running node. Killed on drop, so a failing test leaves no process behind.
pub struct Node {
	pub name: String,
	pub child: Option<Child>,
	pub rpc_port: u16,
	pub p2p_port: u16,
	pub log: Arc<Mutex<Vec<String>>>,
}

impl Node {
	/// Starts `verity-node` with `args` plus loopback-only networking on fresh ports.
	pub fn start(name: &str, args: &[&str]) -> Node {
		let ports = free_ports(2);
		Self::start_on(name, args, ports[0], ports[1])
	}

	/// Starts `verity-node` on the given ports.
	pub fn start_on(name: &str, args: &[&str], rpc_port: u16, p2p_port: u16) -> Node {
		let mut cmd = Command::new(node_bin());
		cmd.args(args)
			.args(["--rpc-port", &rpc_port.to_string()])
			.args(["--listen-addr", &format!("/ip4/127.0.0.1/tcp/{p2p_port}")])
			.args(["--no-prometheus", "--no-telemetry", "--no-mdns"])
			.stdout(Stdio::null())
			.stderr(Stdio::piped());
		let mut child = cmd.spawn().expect("start verity-node");
		let log = Arc::new(Mutex::new(Vec::new()));
		let stderr = child.stderr.take().unwrap();
		let sink = log.clone();
		std::thread::spawn(move || {
			for line in BufReader::new(stderr).lines().map_while(Result::ok) {
				sink.lock().unwrap().push(line);
			}
		});
		Node { name: name.into(), child: Some(child), rpc_port, p2p_port, log }
	}

	/// The last lines the node logged, for failure messages.
	pub fn tail(&self, n: usize) -> String {
		let log = self.log.lock().unwrap();
		log.iter().rev().take(n).rev().cloned().collect::<Vec<_>>().join("\n")
	}

	/// One JSON-RPC call; `Err` while the server is not up yet.
	pub fn rpc(&self, method: &str, params: &str) -> Result<String, String> {
		rpc_call(self.rpc_port, method, params)
	}

	/// Waits until `check` returns `Some`, polling once a second, or panics with the log tail.
	pub fn wait_for<T>(
		&self,
		what: &str,
		timeout: Duration,
		mut check: impl FnMut(&Node) -> Option<T>,
	) -> T {
		let start = Instant::now();
		loop {
			if let Some(v) = check(self) {
				return v;
			}
			if start.elapsed() > timeout {
				panic!(
					"{}: timed out after {timeout:?} waiting for {what}\n{}",
					self.name,
					self.tail(40)
				);
			}
			std::thread::sleep(Duration::from_millis(1000));
		}
	}

	/// Best block number, if the node answers.
	pub fn best_number(&self) -> Option<u64> {
		let header = self.rpc("chain_getHeader", "[]").ok()?;
		block_number(&header)
	}

	/// Finalized block number, if the node answers.
	pub fn finalized_number(&self) -> Option<u64> {
		let hash = self.rpc("chain_getFinalizedHead", "[]").ok()?;
		let hash = json_string_field(&hash, "result")?;
		let header = self.rpc("chain_getHeader", &format!("[\"{hash}\"]")).ok()?;
		block_number(&header)
	}

	/// `alice: best #12 finalized #10`, or `alice: no answer`, for failure messages.
	pub fn status(&self) -> String {
		match (self.best_number(), self.finalized_number()) {
			(Some(b), Some(f)) => format!("{}: best #{b} finalized #{f}", self.name),
			_ => format!("{}: no answer on rpc port {}", self.name, self.rpc_port),
		}
	}

	/// Sends SIGINT and waits for the process to exit.
	pub fn stop(&mut self) -> ExitStatus {
		let mut child = self.child.take().expect("node is running");
		signal(child.id(), "INT");
		let start = Instant::now();
		loop {
			if let Some(status) = child.try_wait().unwrap() {
				return status;
			}
			if start.elapsed() > Duration::from_secs(60) {
				let _ = child.kill();
				panic!("{} did not stop within 60 s of SIGINT\n{}", self.name, self.tail(40));
			}
			std::thread::sleep(Duration::from_millis(200));
		}
	}

	/// Kills the process at once (SIGKILL), as a crash would.
	pub fn kill(&mut self) {
		if let Some(mut child) = self.child.take() {
			let _ = child.kill();
			let _ = child.wait();
		}
	}
}

impl Drop for Node {
	fn drop(&mut self) {
		self.kill();
	}
}

/// Sends a signal with the system's `kill` (no libc dependency for one call).
fn signal(pid: u32, sig: &str) {
	let _ = Command::new("kill").args([&format!("-{sig}"), &pid.to_string()]).status();
}

/// A JSON-RPC request over HTTP/1.1 to 127.0.0.1:`port`; returns the response body.
pub fn rpc_call(port: u16, method: &str, params: &str) -> Result<String, String> {
	let body = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{params}}}"#);
	let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
	stream.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
	write!(
		stream,
		"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
		body.len(),
		body
	)
	.map_err(|e| e.to_string())?;
	let mut response = String::new();
	stream.read_to_string(&mut response).map_err(|e| e.to_string())?;
	let (_, body) = response.split_once("\r\n\r\n").ok_or("malformed HTTP response")?;
	if body.contains("\"error\"") {
		return Err(body.to_string());
	}
	Ok(body.to_string())
}

/// The string value of `"field":"..."` in a flat JSON text.
pub fn json_string_field(json: &str, field: &str) -> Option<String> {
	let key = format!("\"{field}\":\"");
	let start = json.find(&key)? + key.len();
	let end = json[start..].find('"')? + start;
	Some(json[start..end].to_string())
}

/// The block number of a `chain_getHeader` response.
pub fn block_number(header: &str) -> Option<u64> {
	let hex = json_string_field(header, "number")?;
	u64::from_str_radix(hex.trim_start_matches("0x"), 16).ok()
}

/// A fresh directory under the system temp dir, removed on drop.
pub fn temp_dir(prefix: &str) -> tempfile::TempDir {
	tempfile::Builder::new().prefix(prefix).tempdir().unwrap()
}

/// Runs the node binary to completion (for subcommands) and returns (status, stdout, stderr).
pub fn run_node(args: &[&str]) -> (ExitStatus, String, String) {
	let out = Command::new(node_bin()).args(args).output().expect("run verity-node");
	(
		out.status,
		String::from_utf8_lossy(&out.stdout).into(),
		String::from_utf8_lossy(&out.stderr).into(),
	)
}

/// Generates a node (libp2p) key file and returns its peer id.
pub fn generate_node_key(path: &Path) -> String {
	let p = path.to_str().unwrap();
	let (status, _, stderr) = run_node(&["key", "generate-node-key", "--file", p]);
	assert!(status.success(), "generate-node-key: {stderr}");
	let (status, peer_id, stderr) = run_node(&["key", "inspect-node-key", "--file", p]);
	assert!(status.success(), "inspect-node-key: {stderr}");
	peer_id.trim().to_string()
}

/// The workspace root.
pub fn workspace_root() -> &'static Path {
	Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}
