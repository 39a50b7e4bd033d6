//! Benchmarks: the hardware benchmark (`bench-hw`), ring AllReduce goodput against our own link
//! throughput (`bench-allreduce`), and a training step (`bench-step`). The anchors they are
//! compared with (torch.distributed gloo, PyTorch eager) run beside them in `scripts/bench-worker.sh`.

use crate::error::{bail, Result};
use crate::{
	collective::{Collective, CollectiveConfig, Group},
	kernel::{Adam, Dataset, Model},
	p2p::Net,
};
use serde::Serialize;
use std::time::{Duration, Instant};
use tch::{Device, Kind, Tensor};

/// The median of `v` (NaN for none: the CLI refuses zero repetitions before it gets here).
fn median(mut v: Vec<f64>) -> f64 {
	v.sort_by(|a, b| a.total_cmp(b));
	v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn spread(v: &[f64]) -> f64 {
	let m = median(v.to_vec());
	let (lo, hi) = v.iter().fold((f64::MAX, f64::MIN), |(l, h), x| (l.min(*x), h.max(*x)));
	(hi - lo) / m
}

/// What `bench-hw` measured.
#[derive(Debug, Serialize)]
pub struct HwReport {
	/// Device.
	pub device: String,
	/// Matrix size of the GEMM.
	pub gemm_n: i64,
	/// Sustained GEMM throughput (median), FLOP/s.
	pub gemm_flops: f64,
	/// (max − min) / median over the timed repetitions.
	pub gemm_spread: f64,
	/// Memory bandwidth of a large copy (read + write), bytes/s.
	pub mem_bandwidth: f64,
	/// Spread of the bandwidth repetitions.
	pub mem_spread: f64,
	/// Capacity to offer: sustained FLOP/s in work units (10^12 FLOPs) per second.
	pub capacity_wu_per_s: f64,
	/// The same in milli-WU/s, the marketplace's unit for offers.
	pub capacity_milli_wu_per_s: u64,
}

fn sync(device: Device) {
	if let Device::Cuda(i) = device {
		tch::Cuda::synchronize(i as i64);
	}
}

/// Rates of `op` (each doing `work` units) over `reps` samples of at least `window` each, after
/// about `window` of warm-up: every sample runs the op as many times as the warm-up says fit in
/// `window`, so a sample is a sustained rate, not one short call at the mercy of a scheduler tick.
fn sustained_rates(
	device: Device,
	reps: usize,
	window: Duration,
	work: f64,
	mut op: impl FnMut(),
) -> Vec<f64> {
	let warm = Instant::now();
	let mut calls = 0u32;
	while calls < 3 || warm.elapsed() < window {
		op();
		sync(device);
		calls += 1;
	}
	let per_sample = ((window.as_secs_f64() / (warm.elapsed().as_secs_f64() / f64::from(calls)))
		.ceil() as u32)
		.max(1);
	(0..reps)
		.map(|_| {
			let t = Instant::now();
			for _ in 0..per_sample {
				op();
			}
			sync(device);
			f64::from(per_sample) * work / t.elapsed().as_secs_f64()
		})
		.collect()
}

/// Measures sustained f32 GEMM throughput and copy bandwidth on `device`: `reps` samples of at
/// least 250 ms each, medians reported.
pub fn bench_hw(device: Device, gemm_n: i64, reps: usize) -> HwReport {
	let _guard = tch::no_grad_guard();
	tch::manual_seed(0);
	let window = Duration::from_millis(250);
	let a = Tensor::randn([gemm_n, gemm_n], (Kind::Float, device));
	let b = Tensor::randn([gemm_n, gemm_n], (Kind::Float, device));
	let c = Tensor::zeros([gemm_n, gemm_n], (Kind::Float, device));
	let flop = 2.0 * (gemm_n as f64).powi(3);
	let gemm = sustained_rates(device, reps, window, flop, || {
		let _ = a.matmul_out(&c, &b);
	});
	let elems = 64 << 20; // 256 MiB of f32
	let src = Tensor::ones([elems], (Kind::Float, device));
	let mut dst = Tensor::zeros([elems], (Kind::Float, device));
	let bw = sustained_rates(device, reps, window, 2.0 * 4.0 * elems as f64, || {
		dst.copy_(&src);
	});
	let flops = median(gemm.clone());
	HwReport {
		device: format!("{device:?}"),
		gemm_n,
		gemm_flops: flops,
		gemm_spread: spread(&gemm),
		mem_bandwidth: median(bw.clone()),
		mem_spread: spread(&bw),
		capacity_wu_per_s: flops / 1e12,
		capacity_milli_wu_per_s: (flops / 1e9) as u64,
	}
}

/// One AllReduce figure.
#[derive(Debug, Serialize)]
pub struct AllReduceFigure {
	/// Group size.
	pub n: usize,
	/// Tensor size in bytes.
	pub bytes: usize,
	/// Median seconds per AllReduce.
	pub seconds: f64,
	/// Our libp2p link's measured throughput, bytes/s (one sender, one receiver, same chunking).
	pub link_bytes_per_s: f64,
	/// Ring optimum 2(n−1)/n · S / B, seconds.
	pub ring_optimum_seconds: f64,
	/// ring optimum / measured (1.0 = the optimum).
	pub fraction_of_optimum: f64,
	/// Per-link throughput when all n links of the ring carry traffic at once, bytes/s.
	pub link_under_ring_load_bytes_per_s: f64,
	/// The optimum with that throughput as B, over the measured time.
	pub fraction_of_optimum_under_ring_load: f64,
	/// Algorithm bandwidth S / t, bytes/s.
	pub goodput_bytes_per_s: f64,
}

struct Peer {
	net: Net,
	collective: Collective,
}

async fn peers(n: usize, config: CollectiveConfig) -> Result<Vec<Peer>> {
	let seeds: Vec<String> = (0..n).map(|i| format!("bench-allreduce-{i}")).collect();
	let nodes = crate::p2p::mesh(&seeds, Duration::from_secs(120)).await?;
	Ok(nodes
		.into_iter()
		.map(|(net, inbound)| {
			let collective = Collective::start(net.clone(), inbound.allreduce, config);
			Peer { net, collective }
		})
		.collect())
}

/// Throughput of one link: `bytes` sent from `a` to `b` as probe requests of the AllReduce chunk
/// size with `window` in flight, the same transport path the ring uses.
async fn link_throughput(a: &Net, b: &Net, bytes: usize, config: CollectiveConfig) -> Result<f64> {
	let chunks = bytes.div_ceil(config.chunk_bytes);
	let payload = vec![0u8; config.chunk_bytes.min(bytes)];
	let start = Instant::now();
	let mut inflight = futures::stream::FuturesUnordered::new();
	let mut sent = 0;
	use futures::StreamExt;
	while sent < chunks || !inflight.is_empty() {
		while sent < chunks && inflight.len() < config.window {
			inflight.push(a.probe(b.peer_id, payload.clone()).await);
			sent += 1;
		}
		if let Some(r) = inflight.next().await {
			r.map_err(|_| crate::error::invalid!("network stopped"))??;
		}
	}
	Ok(bytes as f64 / start.elapsed().as_secs_f64())
}

/// Throughput of each link when every peer sends `bytes` to its ring successor at the same time (the
/// ring's own traffic pattern; on one machine all links share its cores): bytes / slowest time.
async fn ring_link_throughput(nets: &[Net], bytes: usize, config: CollectiveConfig) -> Result<f64> {
	let start = Instant::now();
	let mut tasks = Vec::new();
	for (i, a) in nets.iter().enumerate() {
		let (a, b) = (a.clone(), nets[(i + 1) % nets.len()].clone());
		tasks.push(tokio::spawn(async move { link_throughput(&a, &b, bytes, config).await }));
	}
	for t in tasks {
		t.await??;
	}
	Ok(bytes as f64 / start.elapsed().as_secs_f64())
}

/// Ring AllReduce of `bytes` across `n` in-process workers connected over loopback TCP (each with
/// its own libp2p swarm, Noise and yamux), median of `reps`.
pub async fn bench_allreduce(
	n: usize,
	sizes: &[usize],
	reps: usize,
	config: CollectiveConfig,
) -> Result<Vec<AllReduceFigure>> {
	let peers = peers(n, config).await?;
	let group = Group::new(0, peers.iter().map(|p| p.net.peer_id).collect());
	let mut figures = Vec::new();
	let mut round = 0u64;
	for &bytes in sizes {
		let link = {
			let _ =
				link_throughput(&peers[0].net, &peers[1].net, bytes.min(16 << 20), config).await?;
			let mut v = Vec::new();
			for _ in 0..reps {
				v.push(link_throughput(&peers[0].net, &peers[1].net, bytes, config).await?);
			}
			median(v)
		};
		let mut times = Vec::new();
		for rep in 0..=reps {
			round += 1;
			let start = Instant::now();
			let mut tasks = Vec::new();
			for (i, p) in peers.iter().enumerate() {
				let data = vec![i as f32 + 0.5; bytes / 4];
				let c = p.collective.clone();
				let g = group.clone();
				tasks.push(tokio::spawn(async move { c.all_reduce(&g, round, data).await }));
			}
			let mut first: Option<Vec<f32>> = None;
			for t in tasks {
				let out = t.await??;
				match &first {
					None => first = Some(out),
					Some(f) => {
						if *f != out {
							bail!("members disagree on the AllReduce result")
						}
					}
				}
			}
			if rep > 0 {
				times.push(start.elapsed().as_secs_f64());
			}
		}
		let t = median(times);
		let nets: Vec<Net> = peers.iter().map(|p| p.net.clone()).collect();
		let mut loaded = Vec::new();
		for _ in 0..reps {
			loaded.push(ring_link_throughput(&nets, bytes, config).await?);
		}
		let loaded = median(loaded);
		let share = 2.0 * (n as f64 - 1.0) / n as f64 * bytes as f64;
		let optimum = share / link;
		figures.push(AllReduceFigure {
			n,
			bytes,
			seconds: t,
			link_bytes_per_s: link,
			ring_optimum_seconds: optimum,
			fraction_of_optimum: optimum / t,
			link_under_ring_load_bytes_per_s: loaded,
			fraction_of_optimum_under_ring_load: share / loaded / t,
			goodput_bytes_per_s: bytes as f64 / t,
		});
	}
	Ok(figures)
}

/// What `bench-step` measured.
#[derive(Debug, Serialize)]
pub struct StepFigure {
	/// Kernel name.
	pub kernel: String,
	/// Batch size.
	pub batch: usize,
	/// Median seconds per training step (forward, backward, Adam).
	pub seconds: f64,
	/// Spread of the repetitions.
	pub spread: f64,
}

/// Times a full training step of `model` on the first `batch` examples.
pub fn bench_step(
	model: &mut Model,
	data: &Dataset,
	batch: usize,
	iters: usize,
) -> Result<StepFigure> {
	let idx: Vec<i64> = (0..batch as i64).collect();
	let (x, y) = data.batch(&idx, model.manifest.context)?;
	let adam = Adam::default();
	let mut times = Vec::new();
	for i in 0..iters + 5 {
		let t = Instant::now();
		let (g, _) = model.local_gradient(&x, &y, batch as i64)?;
		model.adam_step(&g, &adam)?;
		sync(model.device);
		if i >= 5 {
			times.push(t.elapsed().as_secs_f64());
		}
	}
	Ok(StepFigure {
		kernel: model.manifest.name.clone(),
		batch,
		seconds: median(times.clone()),
		spread: spread(&times),
	})
}

/// One AEAD's throughput in `bench-cipher`.
#[derive(Debug, Serialize)]
pub struct CipherFigure {
	/// The cipher and its implementation.
	pub cipher: &'static str,
	/// Record size sealed and opened at a time, bytes.
	pub record_bytes: usize,
	/// Plaintext bytes per second through seal and then open (what one link costs its two ends
	/// together), median of the samples.
	pub seal_open_bytes_per_s: f64,
	/// (max − min) / median.
	pub spread: f64,
}

/// Seals and opens `record` bytes at a time with the AEAD libp2p-noise uses on native targets
/// (`ring`'s ChaCha20-Poly1305, through snow's ring resolver) and with `ring`'s AES-256-GCM, and
/// copies them (the memcpy scale): the transport's own per-byte cost beside the alternative.
pub fn bench_cipher(record: usize, reps: usize) -> Result<Vec<CipherFigure>> {
	use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, CHACHA20_POLY1305};
	if record == 0 {
		bail!("--record-kib must be at least 1");
	}
	let window = Duration::from_millis(250);
	let buf = vec![0x5au8; record];
	let mut counter = 0u64;
	let mut nonce = move || {
		counter += 1;
		let mut n = [0u8; 12];
		n[4..].copy_from_slice(&counter.to_le_bytes());
		n
	};
	let figure = |cipher, rates: Vec<f64>| CipherFigure {
		cipher,
		record_bytes: record,
		seal_open_bytes_per_s: median(rates.clone()),
		spread: spread(&rates),
	};
	let mut out = Vec::new();

	let mut failed = false;
	for (name, alg) in [
		("chacha20-poly1305 (ring; libp2p-noise's cipher)", &CHACHA20_POLY1305),
		("aes-256-gcm (ring)", &AES_256_GCM),
	] {
		let key = LessSafeKey::new(
			UnboundKey::new(alg, &[7u8; 32]).map_err(|_| crate::error::invalid!("ring key"))?,
		);
		let mut sealed = Vec::with_capacity(record + alg.tag_len());
		let rates = sustained_rates(Device::Cpu, reps, window, record as f64, || {
			let n = nonce();
			sealed.clear();
			sealed.extend_from_slice(&buf);
			let ok = key
				.seal_in_place_append_tag(
					Nonce::assume_unique_for_key(n),
					Aad::empty(),
					&mut sealed,
				)
				.and_then(|()| {
					key.open_in_place(Nonce::assume_unique_for_key(n), Aad::empty(), &mut sealed)
						.map(|_| ())
				});
			failed |= ok.is_err();
		});
		out.push(figure(name, rates));
	}

	let mut dst = vec![0u8; record];
	let rates = sustained_rates(Device::Cpu, reps, window, record as f64, || {
		dst.copy_from_slice(&buf);
		std::hint::black_box(&dst);
	});
	out.push(figure("memcpy (no cipher)", rates));
	if failed {
		bail!("a record did not open after sealing");
	}
	Ok(out)
}
