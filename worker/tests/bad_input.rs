//! Bad input to the worker binary: an archive the manifest's record does not name, a corrupt
//! TorchScript archive, a manifest the chain would refuse, a blob whose bytes do not match its CID,
//! out-of-range arguments — each a clear error and nothing written.

mod common;

use common::*;
use std::{
	io::{BufRead, BufReader},
	process::{Command, Stdio},
};

fn copy_kernel(to: &std::path::Path) {
	std::fs::create_dir_all(to).unwrap();
	for f in ["kernel.pt", "kernel.json", "train.safetensors", "test.safetensors"] {
		std::fs::copy(kernels().join("digits").join(f), to.join(f)).unwrap();
	}
}

#[test]
fn corrupt_torchscript_archive_is_a_clear_error_and_nothing_is_stored() {
	let dir = tempfile::tempdir().unwrap();
	let kernel = dir.path().join("kernel");
	copy_kernel(&kernel);
	let mut archive = std::fs::read(kernel.join("kernel.pt")).unwrap();
	let half = archive.len() / 2;
	archive.truncate(half);
	std::fs::write(kernel.join("kernel.pt"), &archive).unwrap();
	let store = dir.path().join("store");
	let input = kernel.join("test.safetensors");
	let attempt = |expected: &str| {
		for args in [
			vec!["infer", "--input", input.to_str().unwrap()],
			vec!["train", "--identity", "corrupt", "--epochs", "1"],
		] {
			let mut full: Vec<String> = args.iter().map(|s| s.to_string()).collect();
			full.extend([
				"--kernel".into(),
				kernel.to_str().unwrap().into(),
				"--store".into(),
				store.to_str().unwrap().into(),
			]);
			let (ok, _, err) = run(&full.iter().map(String::as_str).collect::<Vec<_>>());
			assert!(!ok);
			assert!(err.contains(expected), "{err}");
			assert_eq!(files_in(&store), 0, "nothing written to the store");
		}
	};
	// The record names the original archive: the truncated one is not it.
	attempt("is not the archive the manifest's record names");
	// A record that names the truncated archive: libtorch cannot load it.
	let manifest_path = kernel.join("kernel.json");
	let mut manifest: serde_json::Value =
		serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
	let (_, put, _) = run(&[
		"put",
		"--store",
		dir.path().join("scratch").to_str().unwrap(),
		kernel.join("kernel.pt").to_str().unwrap(),
	]);
	manifest["record"]["archive"] = serde_json::Value::String(put.trim().to_string());
	std::fs::write(&manifest_path, serde_json::to_vec(&manifest).unwrap()).unwrap();
	attempt("is not a loadable TorchScript archive");
	// A record the chain would refuse (the worker's old field names) is no manifest.
	manifest["record"]["environment"]["tf32"] = serde_json::Value::Bool(false);
	std::fs::write(&manifest_path, serde_json::to_vec(&manifest).unwrap()).unwrap();
	attempt("unknown field `tf32`");
	// A manifest that is not a manifest.
	std::fs::write(kernel.join("kernel.json"), b"{\"name\": 1}").unwrap();
	let (ok, _, err) = run(&[
		"infer",
		"--kernel",
		kernel.to_str().unwrap(),
		"--input",
		"x",
		"--store",
		store.to_str().unwrap(),
	]);
	assert!(!ok);
	assert!(err.contains("not a kernel manifest"), "{err}");
}

#[test]
fn blob_that_does_not_match_its_cid_is_refused_and_not_written() {
	let dir = tempfile::tempdir().unwrap();
	let served = dir.path().join("served");
	let blob = dir.path().join("blob");
	std::fs::write(&blob, b"a checkpoint, say").unwrap();
	let (ok, cid, _) = run(&["put", "--store", served.to_str().unwrap(), blob.to_str().unwrap()]);
	assert!(ok);
	let cid = cid.trim().to_string();
	let (ok2, cid2, _) = run(&["put", "--store", served.to_str().unwrap(), blob.to_str().unwrap()]);
	assert!(ok2 && cid2.trim() == cid);
	let other = dir.path().join("other");
	std::fs::write(&other, b"another blob").unwrap();
	let (_, other_cid, _) =
		run(&["put", "--store", served.to_str().unwrap(), other.to_str().unwrap()]);
	// Tamper with the served copy of the second blob.
	std::fs::write(served.join(other_cid.trim()), b"another blob, tampered").unwrap();

	let port = free_port();
	struct KillOnDrop(std::process::Child);
	impl Drop for KillOnDrop {
		fn drop(&mut self) {
			let _ = self.0.kill();
			let _ = self.0.wait();
		}
	}
	let mut server = Command::new(WORKER)
		.args([
			"serve",
			"--store",
			served.to_str().unwrap(),
			"--identity",
			"server",
			"--listen",
			&format!("/ip4/127.0.0.1/tcp/{port}"),
		])
		.stdout(Stdio::piped())
		.stderr(Stdio::null())
		.spawn()
		.unwrap();
	let stdout = server.stdout.take().unwrap();
	let _server = KillOnDrop(server);
	let mut addr = String::new();
	BufReader::new(stdout).read_line(&mut addr).unwrap();
	let addr = addr.trim().to_string();

	let fetched = dir.path().join("fetched");
	let fetch = |cid: &str| {
		run(&[
			"fetch",
			"--store",
			fetched.to_str().unwrap(),
			"--identity",
			"client",
			"--peer",
			&addr,
			"--cid",
			cid,
		])
	};
	// The honest blob arrives and is checked.
	let (ok, out, err) = fetch(&cid);
	assert!(ok, "{err}");
	assert!(out.contains(&cid));
	assert_eq!(std::fs::read(fetched.join(&cid)).unwrap(), b"a checkpoint, say");
	// The tampered one: the server's own check refuses to serve it, nothing is written.
	let (ok, _, err) = fetch(other_cid.trim());
	assert!(!ok);
	assert!(err.contains("do not match their CID"), "{err}");
	assert!(!fetched.join(other_cid.trim()).exists());
	assert_eq!(files_in(&fetched), 1);
	// A malformed CID.
	let (ok, _, err) = fetch("bafkreinotacid");
	assert!(!ok);
	assert!(err.contains("malformed CID"), "{err}");
}

#[test]
fn a_bulk_port_in_use_is_a_clear_error() {
	let dir = tempfile::tempdir().unwrap();
	let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
	let port = busy.local_addr().unwrap().port().to_string();
	let kernel = kernels().join("digits");
	let store = dir.path().join("store");
	let (ok, _, err) = run(&[
		"train",
		"--kernel",
		kernel.to_str().unwrap(),
		"--store",
		store.to_str().unwrap(),
		"--identity",
		"a",
		"--bulk-port",
		&port,
	]);
	assert!(!ok, "started on a bulk port in use");
	assert!(err.contains(&format!("bulk listener at 127.0.0.1:{port}: ")), "{err}");
}

#[test]
fn out_of_range_arguments_are_refused_before_anything_runs() {
	let dir = tempfile::tempdir().unwrap();
	let store = dir.path().join("store");
	let kernel = kernels().join("digits");
	let (store_arg, kernel_arg) = (store.to_str().unwrap(), kernel.to_str().unwrap());
	let input = kernel.join("test.safetensors");
	let infer = |extra: &[&'static str]| {
		let base = ["infer", "--kernel", kernel_arg, "--store", store_arg, "--input"];
		[&base[..], &[input.to_str().unwrap()], extra].concat()
	};
	let train = |extra: &[&'static str]| {
		let base = ["train", "--kernel", kernel_arg, "--store", store_arg, "--identity", "a"];
		[&base[..], extra].concat()
	};
	let fetch = ["fetch", "--store", store_arg, "--identity", "a", "--cid", "Qm1"];
	for (args, flag) in [
		(vec!["bench-cipher", "--record-kib", "0", "--reps", "1"], "--record-kib"),
		(vec!["bench-allreduce", "--n", "1"], "--n"),
		(vec!["bench-allreduce", "--sizes-mib", "1,0"], "--sizes-mib"),
		(vec!["bench-hw", "--reps", "0"], "--reps"),
		(vec!["bench-step", "--kernel", kernel_arg, "--iters", "0"], "--iters"),
		(infer(&["--batch", "0"]), "--batch"),
		(infer(&["--threads", "0"]), "--threads"),
		(train(&["--batch", "0"]), "--batch"),
		(train(&["--chunk-kib", "70000"]), "--chunk-kib"),
		(train(&["--bulk-port", "70000"]), "--bulk-port"),
		(train(&["--shard", "0:0"]), "--shard"),
		(train(&["--shard", "12"]), "--shard"),
		(fetch.to_vec(), "--cid"),
	] {
		let (ok, _, err) = run(&args);
		assert!(!ok, "{args:?} was accepted");
		assert!(err.contains("invalid value") && err.contains(flag), "{args:?}: {err}");
		assert!(!store.exists(), "{args:?} wrote the store");
	}
	// A shard outside the training set, or one without DiLoCo.
	for (args, why) in [
		(train(&["--shard", "1400:100", "--mode", "diloco"]), "outside the training set"),
		(train(&["--shard", "0:100"]), "needs --mode diloco"),
	] {
		let (ok, _, err) = run(&args);
		assert!(!ok && err.contains(why), "{args:?}: {err}");
		assert!(!store.exists(), "{args:?} wrote the store");
	}
}

#[test]
fn provide_refuses_bad_keys_and_terms_before_it_starts() {
	let dir = tempfile::tempdir().unwrap();
	let data = dir.path().join("data");
	let data = data.to_str().unwrap();
	let key = dir.path().join("provider.key");
	std::fs::write(&key, "//Charlie").unwrap();
	std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
	let key = key.to_str().unwrap();
	for (args, expected) in [
		(vec!["provide", "--data", data], "give exactly one of --suri and --key-file"),
		(vec!["provide", "--data", data, "--key-file", key], "chmod 600"),
		(
			vec!["provide", "--data", data, "--suri", "//A", "--key-file", key],
			"cannot be used with",
		),
		(vec!["provide", "--data", data, "--suri", "bad words here"], "not a secret URI"),
		(vec!["provide", "--data", data, "--suri", "//Charlie", "--price", "0"], "above zero"),
		(vec!["provide", "--data", data, "--suri", "//Charlie", "--price", "1e3"], "not an amount"),
		(
			vec![
				"provide",
				"--data",
				data,
				"--suri",
				"//Charlie",
				"--min-job",
				"5",
				"--max-job",
				"2",
			],
			"above --max-job",
		),
	] {
		let (ok, _, err) = run(&args);
		assert!(!ok, "{args:?}");
		assert!(err.contains(expected), "{args:?}: {err}");
	}
	assert!(!std::path::Path::new(data).exists(), "nothing written");
}
