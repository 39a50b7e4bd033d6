//! Group training with real libtorch (CPU) and real libp2p sockets on loopback: three worker
//! processes, a killed member, reproducibility, the char transformer, DiLoCo and step replay.

mod common;

use common::*;
use std::time::Duration;

const T: Duration = Duration::from_secs(120);

fn cid_blob(store: &std::path::Path, cid: &str) -> Vec<u8> {
	std::fs::read(store.join(cid)).unwrap()
}

/// `verity-worker replay-step` on the digits kernel with lr 0.005 and a group of 2; the digest.
fn replay(checkpoint: &std::path::Path, rank: usize, extra: &[&str]) -> serde_json::Value {
	let kernel = kernels().join("digits");
	let rank = rank.to_string();
	let mut args = vec!["replay-step", "--kernel", kernel.to_str().unwrap()];
	args.extend(["--checkpoint", checkpoint.to_str().unwrap(), "--rank", &rank]);
	args.extend(["--group-size", "2", "--lr", "0.005"]);
	args.extend(extra);
	let (ok, out, err) = run(&args);
	assert!(ok, "{err}");
	serde_json::from_str(out.trim()).unwrap()
}

/// The step chain named by an epoch record's `step_chain`, from a worker's store.
fn step_chain(store: &std::path::Path, cid: &serde_json::Value) -> verity_worker::steps::StepChain {
	verity_worker::steps::StepChain::from_bytes(&cid_blob(store, cid.as_str().unwrap())).unwrap()
}

#[test]
fn three_workers_train_digits_to_95_percent_with_one_checkpoint() {
	let dir = tempfile::tempdir().unwrap();
	let mut workers =
		train_group(3, "digits", "three", dir.path(), &["--epochs", "15", "--lr", "0.005"]);
	let reports: Vec<_> = workers.iter_mut().map(|w| w.report(T)).collect();
	for r in &reports {
		assert!(r["eval"].as_f64().unwrap() >= 0.95, "test accuracy {}", r["eval"]);
		assert_eq!(
			r["checkpoint"], reports[0]["checkpoint"],
			"every worker ends with the same checkpoint CID"
		);
		assert_eq!(r["group"].as_array().unwrap().len(), 3);
		assert_eq!(r["reforms"], 0);
		// Every epoch's checkpoint is the same on every member.
		for (a, b) in
			r["epochs"].as_array().unwrap().iter().zip(reports[0]["epochs"].as_array().unwrap())
		{
			assert_eq!(a["checkpoint"], b["checkpoint"]);
		}
	}
	// The checkpoint is in each worker's store under its CID, and it is safetensors that PyTorch reads.
	let cid = reports[0]["checkpoint"].as_str().unwrap();
	let path = dir.path().join("three-1").join(cid);
	let out = std::process::Command::new("python3")
		.args(["-c", "import sys; from safetensors.torch import load_file; t = load_file(sys.argv[1]); print(sorted(t)[:3], t['param/fc1.weight'].shape)"])
		.arg(&path)
		.output()
		.unwrap();
	assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
	assert!(String::from_utf8_lossy(&out.stdout).contains("torch.Size([128, 64])"));
}

#[test]
fn killing_one_of_three_workers_the_others_reform_resume_and_finish() {
	let dir = tempfile::tempdir().unwrap();
	let mut workers = train_group(
		3,
		"digits",
		"kill",
		dir.path(),
		&["--epochs", "15", "--lr", "0.005", "--stall-timeout", "5"],
	);
	// Let the third worker finish epoch 4, then kill it.
	loop {
		let line = workers[2].next(T);
		if line["event"] == "epoch" && line["record"]["epoch"] == 4 {
			break;
		}
	}
	workers[2].child.kill().unwrap();
	workers[2].child.wait().unwrap();
	let a = workers[0].report(T);
	let b = workers[1].report(T);
	assert_eq!(a["checkpoint"], b["checkpoint"]);
	assert!(a["reforms"].as_u64().unwrap() >= 1, "the group re-formed");
	assert_eq!(a["group"].as_array().unwrap().len(), 2);
	assert!(a["eval"].as_f64().unwrap() >= 0.95, "accuracy {}", a["eval"]);
	let epochs = a["epochs"].as_array().unwrap();
	assert_eq!(epochs.len(), 15, "every epoch done once after the resume");
	assert_eq!(epochs[0]["group_size"], 3);
	assert_eq!(epochs[14]["group_size"], 2);
}

#[test]
fn same_seed_same_checkpoints_and_output_digests_and_replayed_steps() {
	let dir = tempfile::tempdir().unwrap();
	let args = ["--epochs", "3", "--lr", "0.005"];
	let mut first = train_group(2, "digits", "run1", dir.path(), &args);
	let r1: Vec<_> = first.iter_mut().map(|w| w.report(T)).collect();
	let mut second = train_group(2, "digits", "run2", dir.path(), &args);
	let r2: Vec<_> = second.iter_mut().map(|w| w.report(T)).collect();
	// Different identities, ports and processes; the same seed, data and kernel.
	for (a, b) in
		r1[0]["epochs"].as_array().unwrap().iter().zip(r2[0]["epochs"].as_array().unwrap())
	{
		assert_eq!(a["checkpoint"], b["checkpoint"]);
	}
	assert_eq!(r1[1]["checkpoint"], r2[0]["checkpoint"]);

	// Inference with the trained checkpoint: the same output digest twice.
	let store = dir.path().join("infer");
	let ckpt = dir.path().join("run1-0").join(r1[0]["checkpoint"].as_str().unwrap());
	let kernel = kernels().join("digits");
	let test = kernel.join("test.safetensors");
	let infer = |checkpoint: &std::path::Path, input: &std::path::Path| -> serde_json::Value {
		let (ok, out, err) = run(&[
			"infer",
			"--kernel",
			kernel.to_str().unwrap(),
			"--checkpoint",
			checkpoint.to_str().unwrap(),
			"--input",
			input.to_str().unwrap(),
			"--store",
			store.to_str().unwrap(),
			"--batch",
			"100",
		]);
		assert!(ok, "{err}");
		serde_json::from_str(out.trim()).unwrap()
	};
	let d1 = infer(&ckpt, &test);
	let d2 = infer(&dir.path().join("run2-1").join(r2[1]["checkpoint"].as_str().unwrap()), &test);
	assert_eq!(d1["digest"], d2["digest"]);
	assert_eq!(d1["output_cid"], d2["output_cid"]);
	assert_eq!(d1["shape"], serde_json::json!([360, 10]));
	// A changed input changes the digest.
	let changed = dir.path().join("changed.safetensors");
	let status = std::process::Command::new("python3")
		.args(["-c", "import sys; from safetensors.torch import load_file, save_file; t = load_file(sys.argv[1]); t['x'][0, 10] += 0.5; save_file(t, sys.argv[2])"])
		.arg(&test)
		.arg(&changed)
		.status()
		.unwrap();
	assert!(status.success());
	assert_ne!(infer(&ckpt, &changed)["digest"], d1["digest"]);
	// Changed weights (the checkpoint after epoch 1) change the digest.
	let epoch1 = dir.path().join("run1-0").join(r1[0]["epochs"][0]["checkpoint"].as_str().unwrap());
	assert_ne!(infer(&epoch1, &test)["digest"], d1["digest"]);

	// Replay: step 0 of epoch 2 (global step = steps per epoch) from the epoch-1 checkpoint gives
	// the member's recorded leaf, and the leaves give the recorded Merkle root.
	let e2 = &r1[0]["epochs"][1];
	let spe = e2["steps"].as_u64().unwrap();
	let chain = step_chain(&dir.path().join("run1-0"), &e2["step_chain"]);
	assert_eq!(chain.steps() as u64, spe);
	assert_eq!(format!("{:?}", chain.root()), e2["gradient_root"].as_str().unwrap());
	let rank =
		r1[0]["group"].as_array().unwrap().iter().position(|p| *p == r1[0]["peer_id"]).unwrap();
	let spe_text = spe.to_string();
	let replayed = replay(&epoch1, rank, &["--step", &spe_text]);
	assert_eq!(replayed["digest"], format!("{:?}", chain.digests[0]));
	assert_eq!(replayed.get("leaf"), None, "a sync-mode step has no leaf of its own");
	// The other member's shard gives another digest.
	assert_ne!(replay(&epoch1, 1 - rank, &["--step", &spe_text])["digest"], replayed["digest"]);
}

#[test]
fn char_transformer_loss_falls_well_below_its_start() {
	let dir = tempfile::tempdir().unwrap();
	let mut workers = train_group(
		2,
		"charlm",
		"lm",
		dir.path(),
		&["--epochs", "2", "--batch", "32", "--lr", "0.003"],
	);
	let reports: Vec<_> = workers.iter_mut().map(|w| w.report(Duration::from_secs(600))).collect();
	let start = reports[0]["eval_start"].as_f64().unwrap();
	let end = reports[0]["eval"].as_f64().unwrap();
	assert!(start > 3.0, "an untrained model is near ln(vocab): {start}");
	assert!(end < 0.5 * start, "held-out loss {start} -> {end}");
	assert_eq!(reports[0]["checkpoint"], reports[1]["checkpoint"]);
}

#[test]
fn diloco_members_agree_and_an_inner_step_replays_from_the_round_start_or_alone_from_its_state() {
	let dir = tempfile::tempdir().unwrap();
	let args = ["--mode", "diloco", "--inner-steps", "10", "--epochs", "20", "--lr", "0.005"];
	let mut workers = train_group(2, "digits", "diloco", dir.path(), &args);
	let reports: Vec<_> = workers.iter_mut().map(|w| w.report(T)).collect();
	assert_eq!(reports[0]["checkpoint"], reports[1]["checkpoint"]);
	assert!(reports[0]["eval"].as_f64().unwrap() >= 0.93, "accuracy {}", reports[0]["eval"]);
	// Audit of outer round 3, inner step 7 of member `rank`: replay from the round-2 checkpoint.
	let rank = reports[1]["group"]
		.as_array()
		.unwrap()
		.iter()
		.position(|p| *p == reports[1]["peer_id"])
		.unwrap();
	let store = dir.path().join("diloco-1");
	let round3 = &reports[1]["epochs"][2];
	let chain = step_chain(&store, &round3["step_chain"]);
	let start = store.join(reports[1]["epochs"][1]["checkpoint"].as_str().unwrap());
	let from_start =
		replay(&start, rank, &["--mode", "diloco", "--from-step", "20", "--step", "27"]);
	assert_eq!(from_start["digest"], format!("{:?}", chain.digests[7]));
	assert_eq!(from_start["leaf"], format!("{:?}", chain.leaves()[7]));
	// An audit's replay: step 7 alone from the state the member's chain names for it.
	let state = store.join(chain.states[7].to_text());
	let alone = replay(&state, rank, &["--mode", "diloco", "--step", "27"]);
	assert_eq!(alone, from_start);
}

#[test]
fn a_training_worker_serves_prometheus_metrics() {
	use std::io::{Read, Write};
	let dir = tempfile::tempdir().unwrap();
	let metrics = format!("127.0.0.1:{}", free_port());
	let mut workers =
		train_group(1, "digits", "metrics", dir.path(), &["--epochs", "40", "--metrics", &metrics]);
	loop {
		let line = workers[0].next(T);
		if line["event"] == "epoch" && line["record"]["epoch"] == 2 {
			break;
		}
	}
	let mut sock = std::net::TcpStream::connect(&metrics).unwrap();
	sock.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
	let mut body = String::new();
	sock.read_to_string(&mut body).unwrap();
	assert!(body.starts_with("HTTP/1.1 200 OK"), "{body}");
	// A browser page on another origin (the dashboard) may read it.
	assert!(body.contains("\r\nAccess-Control-Allow-Origin: *\r\n"), "{body}");
	let steps: u64 = body
		.lines()
		.find_map(|l| l.strip_prefix("verity_worker_train_steps_total "))
		.expect("train steps metric")
		.trim()
		.parse()
		.unwrap();
	assert!(steps >= 44, "two epochs of 22 steps done: {steps}");
	assert!(body.contains("verity_worker_train_loss "));
	workers[0].report(T);
}
