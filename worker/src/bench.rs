//! Benchmarks: the hardware benchmark (`bench-hw`), ring AllReduce goodput against the link's
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
	/// Which path the chunks took: `bulk` (the bulk lane) or `libp2p` (`/verity/allreduce/1`).
	pub lane: &'static str,
	/// Median seconds per AllReduce.
	pub seconds: f64,
	/// The link's throughput, bytes/s: plain TCP between two sockets on the same interface, one
	/// sender, one receiver, written in the AllReduce's chunk size, no cipher (what the link
	/// carries, not what our stack makes of it).
	pub link_bytes_per_s: f64,
	/// Ring optimum 2(n−1)/n · S / B, seconds.
	pub ring_optimum_seconds: f64,
	/// ring optimum / measured (1.0 = the optimum).
	pub fraction_of_optimum: f64,
	/// Per-link throughput (plain TCP, as above) when all n links of the ring carry traffic at
	/// once, bytes/s.
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

async fn peers(n: usize, config: CollectiveConfig, bulk: bool) -> Result<Vec<Peer>> {
	let seeds: Vec<(String, bool)> =
		(0..n).map(|i| (format!("bench-allreduce-{i}-{bulk}"), bulk)).collect();
	let nodes = crate::p2p::mesh_with(&seeds, Duration::from_secs(120)).await?;
	Ok(nodes
		.into_iter()
		.map(|(net, inbound)| {
			let collective = Collective::start(net.clone(), inbound.allreduce, config);
			Peer { net, collective }
		})
		.collect())
}

/// Throughput of `links` loopback TCP connections carrying `bytes` each at the same time, bytes/s
/// per link (bytes / the slowest): plain sockets, written `chunk` bytes at a time, read into one
/// buffer, no cipher.
async fn tcp_links(links: usize, bytes: usize, chunk: usize) -> Result<f64> {
	use tokio::io::{AsyncReadExt, AsyncWriteExt};
	let mut pairs = Vec::new();
	for _ in 0..links {
		let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
		let tx = tokio::net::TcpStream::connect(listener.local_addr()?).await?;
		let (rx, _) = listener.accept().await?;
		tx.set_nodelay(true)?;
		pairs.push((tx, rx));
	}
	let start = Instant::now();
	let mut tasks = Vec::new();
	for (mut tx, mut rx) in pairs {
		tasks.push(tokio::spawn(async move {
			let data = vec![1u8; chunk.min(bytes).max(1)];
			let mut left = bytes;
			while left > 0 {
				let k = left.min(data.len());
				tx.write_all(&data[..k]).await?;
				left -= k;
			}
			std::io::Result::Ok(())
		}));
		tasks.push(tokio::spawn(async move {
			let mut buf = vec![0u8; chunk.max(1)];
			let mut left = bytes;
			while left > 0 {
				let k = rx.read(&mut buf).await?;
				if k == 0 {
					return Err(std::io::ErrorKind::UnexpectedEof.into());
				}
				left = left.saturating_sub(k);
			}
			Ok(())
		}));
	}
	for t in tasks {
		t.await.map_err(|e| crate::error::invalid!("{e}"))??;
	}
	Ok(bytes as f64 / start.elapsed().as_secs_f64())
}

/// Ring AllReduce of `bytes` across `n` in-process workers connected over loopback TCP (each with
/// its own libp2p swarm, Noise and yamux; `bulk`: chunks on the bulk lane), median of `reps`.
pub async fn bench_allreduce(
	n: usize,
	sizes: &[usize],
	reps: usize,
	config: CollectiveConfig,
	bulk: bool,
) -> Result<Vec<AllReduceFigure>> {
	let peers = peers(n, config, bulk).await?;
	let group = Group::new(0, peers.iter().map(|p| p.net.peer_id).collect());
	let mut figures = Vec::new();
	let mut round = 0u64;
	for &bytes in sizes {
		let link = {
			let _ = tcp_links(1, bytes.min(16 << 20), config.chunk_bytes).await?;
			let mut v = Vec::new();
			for _ in 0..reps {
				v.push(tcp_links(1, bytes, config.chunk_bytes).await?);
			}
			median(v)
		};
		let mut times = Vec::new();
		for rep in 0..=reps {
			round += 1;
			// The tensors exist before the clock starts (as gloo's do in bench_gloo.py).
			let inputs: Vec<Vec<f32>> =
				(0..peers.len()).map(|i| vec![i as f32 + 0.5; bytes / 4]).collect();
			let start = Instant::now();
			let mut tasks = Vec::new();
			for (p, data) in peers.iter().zip(inputs) {
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
		let mut loaded = Vec::new();
		for _ in 0..reps {
			loaded.push(tcp_links(n, bytes, config.chunk_bytes).await?);
		}
		let loaded = median(loaded);
		let share = 2.0 * (n as f64 - 1.0) / n as f64 * bytes as f64;
		let optimum = share / link;
		figures.push(AllReduceFigure {
			n,
			bytes,
			lane: if bulk { "bulk" } else { "libp2p" },
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

/// One member of a ring across processes (`bench-allreduce-member`).
pub struct Member {
	/// Every member's address, in rank order.
	pub members: Vec<std::net::SocketAddr>,
	/// This member's rank.
	pub rank: usize,
	/// Whether chunks use the bulk lane.
	pub bulk: bool,
}

/// What one member measured for one size.
#[derive(Debug, Serialize)]
pub struct MemberFigure {
	/// Group size.
	pub n: usize,
	/// This member's rank.
	pub rank: usize,
	/// Tensor size in bytes.
	pub bytes: usize,
	/// `bulk` or `libp2p`.
	pub lane: &'static str,
	/// Seconds of each timed round, from the barrier before it to this member's result.
	pub seconds: Vec<f64>,
}

/// The seed of rank `i`'s identity in [`bench_allreduce_member`] (every member derives every
/// other's peer id from it).
fn member_seed(i: usize) -> String {
	format!("bench-allreduce-member-{i}")
}

/// Ring AllReduce of each size across processes (each in its own network namespace in
/// `scripts/bench-wan.sh`): connects to every member, then per size one warm-up round and `reps`
/// timed ones, each after a barrier (a one-value AllReduce) so all members start together.
pub async fn bench_allreduce_member(
	m: &Member,
	sizes: &[usize],
	reps: usize,
	config: CollectiveConfig,
) -> Result<Vec<MemberFigure>> {
	use crate::p2p::{key_from_seed, NetConfig};
	use libp2p::multiaddr::Protocol;
	let n = m.members.len();
	let listen = |a: &std::net::SocketAddr| {
		libp2p::Multiaddr::empty()
			.with(match a.ip() {
				std::net::IpAddr::V4(ip) => Protocol::Ip4(ip),
				std::net::IpAddr::V6(ip) => Protocol::Ip6(ip),
			})
			.with(Protocol::Tcp(a.port()))
	};
	let (net, inbound, event_loop) = crate::p2p::new(NetConfig {
		key: key_from_seed(&member_seed(m.rank)),
		listen: listen(&m.members[m.rank]),
		request_timeout: Duration::from_secs(120),
		bulk: m.bulk.then_some(0),
	})
	.await?;
	tokio::spawn(event_loop.run());
	let ids: Vec<libp2p::PeerId> =
		(0..n).map(|i| key_from_seed(&member_seed(i)).public().to_peer_id()).collect();
	// Each member dials those after it; the others dial it (one connection per pair).
	for (i, (id, addr)) in ids.iter().zip(&m.members).enumerate().skip(m.rank + 1) {
		let deadline = Instant::now() + Duration::from_secs(30);
		while let Err(e) = net.dial(*id, listen(addr)).await {
			if Instant::now() > deadline {
				bail!("member {i} at {addr}: {e}");
			}
			tokio::time::sleep(Duration::from_millis(200)).await;
		}
	}
	let deadline = Instant::now() + Duration::from_secs(60);
	while net.connected().await.len() < n - 1 {
		if Instant::now() > deadline {
			bail!("not every member connected within 60 s");
		}
		tokio::time::sleep(Duration::from_millis(50)).await;
	}
	let collective = Collective::start(net.clone(), inbound.allreduce, config);
	let group = Group::in_order(0, ids.clone(), &ids);
	let mut round = 0u64;
	let mut figures = Vec::new();
	for &bytes in sizes {
		let mut seconds = Vec::new();
		for rep in 0..=reps {
			round += 1;
			collective.all_reduce(&group, round, vec![1.0]).await?;
			round += 1;
			let start = Instant::now();
			let out =
				collective.all_reduce(&group, round, vec![m.rank as f32 + 0.5; bytes / 4]).await?;
			let elapsed = start.elapsed().as_secs_f64();
			let want = (0..n).map(|i| i as f32 + 0.5).sum::<f32>();
			if out.iter().any(|v| *v != want) {
				bail!("the AllReduce of {bytes} bytes is not {want} everywhere");
			}
			if rep > 0 {
				seconds.push(elapsed);
			}
		}
		figures.push(MemberFigure {
			n,
			rank: m.rank,
			bytes,
			lane: if m.bulk { "bulk" } else { "libp2p" },
			seconds,
		});
	}
	// The others may still be finishing their last round: keep serving for a moment.
	tokio::time::sleep(Duration::from_secs(2)).await;
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
