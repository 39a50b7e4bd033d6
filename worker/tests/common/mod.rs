//! Shared helpers for the worker's integration tests: the example kernels (exported once per test
//! binary by scripts/kernels.py with real PyTorch), free ports and worker processes.
#![allow(dead_code)]

use std::{
	io::{BufRead, BufReader},
	path::{Path, PathBuf},
	process::{Child, Command, Stdio},
	sync::{mpsc, OnceLock},
	time::Duration,
};

pub const WORKER: &str = env!("CARGO_BIN_EXE_verity-worker");

/// The kernels directory (digits/, charlm/), exported once.
pub fn kernels() -> &'static Path {
	static DIR: OnceLock<PathBuf> = OnceLock::new();
	DIR.get_or_init(|| {
		let dir = std::env::temp_dir().join(format!("verity-kernels-{}", std::process::id()));
		let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/kernels.py");
		let status = Command::new("python3").arg(script).arg(&dir).status().expect("python3 runs");
		assert!(status.success(), "scripts/kernels.py failed");
		dir
	})
}

pub fn free_port() -> u16 {
	std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn peer_id(identity: &str) -> String {
	let out = Command::new(WORKER).args(["peer-id", "--identity", identity]).output().unwrap();
	assert!(out.status.success());
	String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A running worker whose stdout lines (JSON) arrive on a channel.
pub struct Worker {
	pub child: Child,
	pub lines: mpsc::Receiver<serde_json::Value>,
	pub stderr: PathBuf,
}

impl Worker {
	/// The next JSON line, or panics after `timeout`.
	pub fn next(&self, timeout: Duration) -> serde_json::Value {
		self.lines.recv_timeout(timeout).unwrap_or_else(|_| {
			panic!(
				"worker printed nothing for {timeout:?}; stderr:\n{}",
				std::fs::read_to_string(&self.stderr).unwrap_or_default()
			)
		})
	}

	/// Waits for the final report.
	pub fn report(&mut self, timeout: Duration) -> serde_json::Value {
		loop {
			let line = self.next(timeout);
			if line["event"] == "done" {
				let status = self.child.wait().unwrap();
				assert!(status.success(), "worker failed");
				return line["report"].clone();
			}
		}
	}
}

impl Drop for Worker {
	fn drop(&mut self) {
		let _ = self.child.kill();
		let _ = self.child.wait();
	}
}

/// Starts `n` training workers of `kernel` that know each other; `extra` goes to every one.
pub fn train_group(n: usize, kernel: &str, tag: &str, store: &Path, extra: &[&str]) -> Vec<Worker> {
	let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
	let ids: Vec<String> = (0..n).map(|i| format!("{tag}-{i}")).collect();
	let peers: Vec<String> = (0..n)
		.map(|i| format!("/ip4/127.0.0.1/tcp/{}/p2p/{}", ports[i], peer_id(&ids[i])))
		.collect();
	(0..n)
		.map(|i| {
			let stderr = store.join(format!("{tag}-{i}.stderr"));
			let mut cmd = Command::new(WORKER);
			cmd.arg("train")
				.arg("--kernel")
				.arg(kernels().join(kernel))
				.arg("--store")
				.arg(store.join(format!("{tag}-{i}")))
				.args([
					"--identity",
					&ids[i],
					"--listen",
					&format!("/ip4/127.0.0.1/tcp/{}", ports[i]),
				])
				.args(extra);
			for (j, p) in peers.iter().enumerate() {
				if j != i {
					cmd.args(["--peer", p]);
				}
			}
			let mut child = cmd
				.stdout(Stdio::piped())
				.stderr(std::fs::File::create(&stderr).unwrap())
				.spawn()
				.expect("verity-worker starts");
			let out = child.stdout.take().unwrap();
			let (tx, lines) = mpsc::channel();
			std::thread::spawn(move || {
				for line in BufReader::new(out).lines().map_while(Result::ok) {
					if let Ok(v) = serde_json::from_str(&line) {
						if tx.send(v).is_err() {
							break;
						}
					}
				}
			});
			Worker { child, lines, stderr }
		})
		.collect()
}

/// Runs `verity-worker args…` to completion: (success, stdout, stderr).
pub fn run(args: &[&str]) -> (bool, String, String) {
	let out = Command::new(WORKER).args(args).output().unwrap();
	(
		out.status.success(),
		String::from_utf8_lossy(&out.stdout).into_owned(),
		String::from_utf8_lossy(&out.stderr).into_owned(),
	)
}

pub fn files_in(dir: &Path) -> usize {
	std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}
