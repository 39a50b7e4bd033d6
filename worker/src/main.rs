//! `verity-worker`: runs AIVM kernels with libtorch, trains in groups over libp2p, serves and
//! fetches content-addressed blobs, and benchmarks the machine. See `verity-worker --help`.

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use std::{
	io::Write,
	net::SocketAddr,
	path::{Path, PathBuf},
	sync::{Arc, Mutex},
	time::Duration,
};
use verity_worker::{
	bench,
	collective::{Collective, CollectiveConfig},
	digest,
	kernel::{self, Adam, Dataset, Manifest, Model},
	metrics::Metrics,
	net::{self, key_from_seed, Net, NetConfig},
	store::{parse_cid, ContentStore},
	train::{self, Learner, Mode, TorchLearner, TrainConfig, Trainer},
	wire::Hello,
};

#[derive(Parser)]
#[command(
	name = "verity-worker",
	version,
	about = "Verity compute worker: AIVM kernels on libtorch, AllReduce over libp2p"
)]
struct Cli {
	#[command(subcommand)]
	cmd: Cmd,
}

#[derive(clap::Args, Clone)]
struct TorchArgs {
	/// cpu, cuda or auto (CUDA when available).
	#[arg(long, default_value = "cpu")]
	device: String,
	/// libtorch intra-op threads (part of the reproducibility environment).
	#[arg(long, default_value_t = 1)]
	threads: usize,
}

#[derive(clap::Args, Clone)]
struct NetArgs {
	/// Identity: the ed25519 secret key is sha2-256 of this string (`peer-id` prints the id).
	#[arg(long)]
	identity: String,
	/// Listen address.
	#[arg(long, default_value = "/ip4/127.0.0.1/tcp/0")]
	listen: String,
	/// Other group members, `/ip4/…/tcp/…/p2p/<peer id>` (repeat).
	#[arg(long = "peer")]
	peers: Vec<String>,
	/// Seconds without progress before an AllReduce round fails.
	#[arg(long, default_value_t = 10)]
	stall_timeout: u64,
	/// AllReduce chunk size in KiB.
	#[arg(long, default_value_t = 1024)]
	chunk_kib: usize,
	/// Serve Prometheus metrics on this address (`/metrics`).
	#[arg(long)]
	metrics: Option<SocketAddr>,
}

/// How a training step is taken (the same on every member, and when a step is replayed).
#[derive(clap::Args, Clone)]
struct StepArgs {
	/// Global batch size.
	#[arg(long, default_value_t = 64)]
	batch: usize,
	/// Adam learning rate.
	#[arg(long, default_value_t = 1e-3)]
	lr: f64,
	/// Seed of the data order.
	#[arg(long, default_value_t = 7)]
	data_seed: u64,
	#[arg(long, value_enum, default_value_t = Mode::Sync)]
	mode: Mode,
}

impl StepArgs {
	fn config(
		&self,
		epochs: u64,
		inner_steps: u64,
		outer_lr: f64,
		outer_momentum: f64,
	) -> TrainConfig {
		TrainConfig {
			epochs,
			batch: self.batch,
			adam: Adam { lr: self.lr, ..Adam::default() },
			seed: self.data_seed,
			mode: self.mode,
			inner_steps,
			outer_lr,
			outer_momentum,
			max_reforms: 10,
		}
	}
}

#[derive(Subcommand)]
enum Cmd {
	/// Prints the peer id of an identity string.
	PeerId {
		#[arg(long)]
		identity: String,
	},
	/// Trains a kernel in a group (3 workers: run this 3 times with each other as --peer).
	Train {
		/// Kernel directory (kernel.pt, kernel.json, train.safetensors, test.safetensors), as
		/// written by scripts/kernels.py.
		#[arg(long)]
		kernel: PathBuf,
		/// Content store directory.
		#[arg(long)]
		store: PathBuf,
		#[command(flatten)]
		net: NetArgs,
		#[command(flatten)]
		torch: TorchArgs,
		#[arg(long, default_value_t = 10)]
		epochs: u64,
		#[command(flatten)]
		step: StepArgs,
		/// DiLoCo: local steps per outer round.
		#[arg(long, default_value_t = 20)]
		inner_steps: u64,
		#[arg(long, default_value_t = 0.7)]
		outer_lr: f64,
		#[arg(long, default_value_t = 0.9)]
		outer_momentum: f64,
		/// Write the final report (JSON) here too.
		#[arg(long)]
		report: Option<PathBuf>,
	},
	/// Runs a kernel on inputs and prints the output CID and digest.
	Infer {
		#[arg(long)]
		kernel: PathBuf,
		/// A checkpoint (file) whose parameters to use instead of the archive's.
		#[arg(long)]
		checkpoint: Option<PathBuf>,
		/// Inputs: safetensors with `x` (or `tokens`, cut into context windows).
		#[arg(long)]
		input: PathBuf,
		#[arg(long, default_value_t = 256)]
		batch: i64,
		#[arg(long)]
		store: PathBuf,
		#[command(flatten)]
		torch: TorchArgs,
	},
	/// Re-executes one member's training step from a checkpoint and prints its gradient digest.
	ReplayStep {
		#[arg(long)]
		kernel: PathBuf,
		/// Checkpoint file: the state before the step (sync) or at the start of the outer round (DiLoCo).
		#[arg(long)]
		checkpoint: PathBuf,
		/// Global step number to re-execute.
		#[arg(long)]
		step: u64,
		/// DiLoCo: the first step of the outer round the checkpoint starts.
		#[arg(long)]
		from_step: Option<u64>,
		#[arg(long)]
		rank: usize,
		#[arg(long)]
		group_size: usize,
		#[command(flatten)]
		train: StepArgs,
		#[command(flatten)]
		torch: TorchArgs,
	},
	/// Measures sustained GEMM throughput and memory bandwidth; prints capacity in WU/s.
	BenchHw {
		#[command(flatten)]
		torch: TorchArgs,
		#[arg(long, default_value_t = 1024)]
		gemm_n: i64,
		#[arg(long, default_value_t = 15)]
		reps: usize,
	},
	/// Ring AllReduce goodput of n in-process workers over loopback libp2p.
	BenchAllreduce {
		#[arg(long, default_value_t = 2)]
		n: usize,
		/// Tensor sizes in MiB, comma-separated.
		#[arg(long, value_delimiter = ',', default_value = "1,16,64")]
		sizes_mib: Vec<usize>,
		#[arg(long, default_value_t = 3)]
		reps: usize,
		#[arg(long, default_value_t = 1024)]
		chunk_kib: usize,
		#[arg(long, default_value_t = 8)]
		window: usize,
	},
	/// Seal-and-open throughput of the transport's cipher beside AES-256-GCM and memcpy.
	BenchCipher {
		/// Record size in KiB.
		#[arg(long, default_value_t = 1024)]
		record_kib: usize,
		#[arg(long, default_value_t = 9)]
		reps: usize,
	},
	/// Times a training step (forward, backward, Adam) of a kernel.
	BenchStep {
		#[arg(long)]
		kernel: PathBuf,
		#[arg(long, default_value_t = 64)]
		batch: usize,
		#[arg(long, default_value_t = 100)]
		iters: usize,
		#[command(flatten)]
		torch: TorchArgs,
	},
	/// Stores a file; prints its CID.
	Put {
		#[arg(long)]
		store: PathBuf,
		file: PathBuf,
	},
	/// Serves the store's blobs to peers until interrupted.
	Serve {
		#[arg(long)]
		store: PathBuf,
		#[command(flatten)]
		net: NetArgs,
	},
	/// Fetches a blob from a peer, checks it against its CID and stores it.
	Fetch {
		#[arg(long)]
		store: PathBuf,
		#[command(flatten)]
		net: NetArgs,
		#[arg(long)]
		cid: String,
	},
}

struct KernelDir {
	manifest: Manifest,
	archive: Vec<u8>,
}

fn read_kernel(dir: &Path) -> anyhow::Result<KernelDir> {
	let manifest_path = dir.join("kernel.json");
	let manifest: Manifest = serde_json::from_slice(
		&std::fs::read(&manifest_path)
			.with_context(|| format!("reading {}", manifest_path.display()))?,
	)
	.with_context(|| format!("{} is not a kernel manifest", manifest_path.display()))?;
	let archive_path = dir.join("kernel.pt");
	let archive = std::fs::read(&archive_path)
		.with_context(|| format!("reading {}", archive_path.display()))?;
	Ok(KernelDir { manifest, archive })
}

fn read_dataset(path: &Path, store: Option<&ContentStore>) -> anyhow::Result<Dataset> {
	let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
	if let Some(store) = store {
		store.put(&bytes)?;
	}
	Dataset::from_bytes(&bytes).with_context(|| format!("dataset {}", path.display()))
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
	let mut out = std::io::stdout().lock();
	serde_json::to_writer(&mut out, value)?;
	writeln!(out)?;
	out.flush()?;
	Ok(())
}

async fn start_net(
	args: &NetArgs,
	store: Option<ContentStore>,
	hello: Arc<Mutex<Hello>>,
) -> anyhow::Result<(Net, tokio::sync::mpsc::Receiver<net::Event>, Vec<libp2p::PeerId>)> {
	let cfg = NetConfig {
		key: key_from_seed(&args.identity),
		listen: args.listen.parse().with_context(|| format!("bad --listen {}", args.listen))?,
		request_timeout: Duration::from_secs(60),
	};
	let (net, events) = Net::start(cfg, store, hello).await?;
	let mut peers = Vec::new();
	for p in &args.peers {
		let addr: libp2p::Multiaddr = p.parse().with_context(|| format!("bad --peer {p}"))?;
		let (peer, addr) = net::split_peer_addr(&addr)?;
		if peer != net.peer_id {
			net.dial(peer, addr).await;
			peers.push(peer);
		}
	}
	tracing::info!(peer_id = %net.peer_id, addr = %net.addr, "listening");
	Ok((net, events, peers))
}

fn main() {
	// cuBLAS is deterministic only with a fixed workspace configuration, read when its first
	// handle is made; set here, before any thread starts, unless the operator chose one.
	if std::env::var_os("CUBLAS_WORKSPACE_CONFIG").is_none() {
		std::env::set_var("CUBLAS_WORKSPACE_CONFIG", ":4096:8");
	}
	// Freed tensors stay in the heap for the next step (unless the operator tuned glibc's malloc).
	let tuned = ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES"]
		.iter()
		.any(|v| std::env::var_os(v).is_some());
	if !tuned && !kernel::malloc_keep_freed() {
		eprintln!("warning: glibc refused the heap settings; training steps will be slower");
	}
	let runtime =
		tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build();
	match runtime {
		Ok(rt) => rt.block_on(cli_main()),
		Err(e) => {
			eprintln!("error: starting the async runtime: {e}");
			std::process::exit(1);
		}
	}
}

async fn cli_main() {
	tracing_subscriber::fmt()
		.with_env_filter(
			tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
		)
		.with_writer(std::io::stderr)
		.init();
	if let Err(e) = run(Cli::parse()).await {
		eprintln!("error: {e:#}");
		std::process::exit(1);
	}
}

async fn run(cli: Cli) -> anyhow::Result<()> {
	match cli.cmd {
		Cmd::PeerId { identity } => println!("{}", key_from_seed(&identity).public().to_peer_id()),
		Cmd::Train {
			kernel: dir,
			store,
			net: net_args,
			torch,
			epochs,
			step,
			inner_steps,
			outer_lr,
			outer_momentum,
			report,
		} => {
			kernel::init_torch(torch.threads);
			let device = kernel::device(&torch.device)?;
			let store = ContentStore::open(&store)?;
			if step.batch == 0 {
				bail!("--batch must be at least 1");
			}
			let k = read_kernel(&dir)?;
			tch::manual_seed(k.manifest.environment.seed as i64);
			let model = Model::load(k.manifest, &k.archive, device)?;
			store.put(&k.archive)?;
			let train_data = read_dataset(&dir.join("train.safetensors"), Some(&store))?;
			let test_data = read_dataset(&dir.join("test.safetensors"), Some(&store))?;
			let hello = Arc::new(Mutex::new(Hello::default()));
			let (net, events, peers) =
				start_net(&net_args, Some(store.clone()), hello.clone()).await?;
			let metrics = Metrics::new();
			if let Some(addr) = net_args.metrics {
				let at = metrics.clone().serve(addr).await?;
				tracing::info!(%at, "metrics");
			}
			let collective = Collective::start(
				net.clone(),
				events,
				CollectiveConfig {
					chunk_bytes: net_args.chunk_kib * 1024,
					window: 8,
					stall_timeout: Duration::from_secs(net_args.stall_timeout),
				},
			);
			let cfg = step.config(epochs, inner_steps, outer_lr, outer_momentum);
			let trainer = Trainer {
				learner: TorchLearner { model, train: train_data, test: test_data },
				cfg,
				store,
				net,
				collective,
				hello,
				runtime: tokio::runtime::Handle::current(),
				metrics,
				on_epoch: Box::new(|r| {
					let _ = print_json(&serde_json::json!({ "event": "epoch", "record": r }));
				}),
			};
			let result = tokio::task::spawn_blocking(move || trainer.run(peers)).await??;
			print_json(&serde_json::json!({ "event": "done", "report": result }))?;
			if let Some(path) = report {
				std::fs::write(&path, serde_json::to_vec_pretty(&result)?)?;
			}
		}
		Cmd::Infer { kernel: dir, checkpoint, input, batch, store, torch } => {
			kernel::init_torch(torch.threads);
			let store = ContentStore::open(&store)?;
			let k = read_kernel(&dir)?;
			let rule = k.manifest.aggregation;
			let context = k.manifest.context;
			let mut model = Model::load(k.manifest, &k.archive, kernel::device(&torch.device)?)?;
			store.put(&k.archive)?;
			if let Some(c) = checkpoint {
				model.restore(
					&std::fs::read(&c).with_context(|| format!("reading {}", c.display()))?,
				)?;
			}
			let x = match read_dataset(&input, Some(&store))? {
				Dataset::Labelled { x, .. } => x,
				d @ Dataset::Tokens(_) => {
					d.windows(context.context("token input for a kernel without context")?, None)?.0
				}
			};
			if batch < 1 {
				bail!("--batch must be at least 1");
			}
			let out = model.infer(&x, batch)?;
			let digest = digest::output_digest(&out, rule)?;
			let bytes = digest::to_safetensors(
				&[("output".into(), out.shallow_clone())],
				Default::default(),
			)?;
			let cid = store.put(&bytes)?;
			print_json(
				&serde_json::json!({ "output_cid": cid.to_text(), "digest": format!("{digest:?}"), "shape": out.size() }),
			)?;
		}
		Cmd::ReplayStep {
			kernel: dir,
			checkpoint,
			step,
			from_step,
			rank,
			group_size,
			train: step_args,
			torch,
		} => {
			kernel::init_torch(torch.threads);
			if rank >= group_size {
				bail!("--rank {rank} is not below --group-size {group_size}");
			}
			let k = read_kernel(&dir)?;
			let data = read_dataset(&dir.join("train.safetensors"), None)?;
			let model = Model::load(k.manifest, &k.archive, kernel::device(&torch.device)?)?;
			// Replay needs no held-out data; the training set stands in for it.
			let test = Dataset::from_bytes(&std::fs::read(dir.join("train.safetensors"))?)?;
			let mut learner = TorchLearner { model, train: data, test };
			learner.restore(
				&std::fs::read(&checkpoint)
					.with_context(|| format!("reading {}", checkpoint.display()))?,
			)?;
			if step_args.batch == 0 {
				bail!("--batch must be at least 1");
			}
			let cfg = step_args.config(0, 0, 0.0, 0.0);
			let digest = train::replay_step(
				&mut learner,
				&cfg,
				from_step.unwrap_or(step),
				step,
				rank,
				group_size,
			)?;
			print_json(
				&serde_json::json!({ "step": step, "rank": rank, "digest": format!("{digest:?}") }),
			)?;
		}
		Cmd::BenchHw { torch, gemm_n, reps } => {
			kernel::init_torch(torch.threads);
			print_json(&bench::bench_hw(kernel::device(&torch.device)?, gemm_n, reps))?;
		}
		Cmd::BenchAllreduce { n, sizes_mib, reps, chunk_kib, window } => {
			if n < 2 {
				bail!("--n must be at least 2");
			}
			let cfg = CollectiveConfig {
				chunk_bytes: chunk_kib * 1024,
				window,
				stall_timeout: Duration::from_secs(60),
			};
			let sizes: Vec<usize> = sizes_mib.iter().map(|m| m << 20).collect();
			for f in bench::bench_allreduce(n, &sizes, reps, cfg).await? {
				print_json(&f)?;
			}
		}
		Cmd::BenchCipher { record_kib, reps } => {
			for f in bench::bench_cipher(record_kib * 1024, reps)? {
				print_json(&f)?;
			}
		}
		Cmd::BenchStep { kernel: dir, batch, iters, torch } => {
			kernel::init_torch(torch.threads);
			let k = read_kernel(&dir)?;
			let data = read_dataset(&dir.join("train.safetensors"), None)?;
			let mut model = Model::load(k.manifest, &k.archive, kernel::device(&torch.device)?)?;
			print_json(&bench::bench_step(&mut model, &data, batch, iters)?)?;
		}
		Cmd::Put { store, file } => {
			let cid = ContentStore::open(&store)?.put_file(&file)?;
			println!("{}", cid.to_text());
		}
		Cmd::Serve { store, net: args } => {
			let store = ContentStore::open(&store)?;
			let (_net, _events, _) =
				start_net(&args, Some(store), Arc::new(Mutex::new(Hello::default()))).await?;
			println!("{}", _net.addr);
			tokio::signal::ctrl_c().await?;
		}
		Cmd::Fetch { store, net: args, cid } => {
			let store = ContentStore::open(&store)?;
			let cid = parse_cid(&cid)?;
			let (net, _events, peers) =
				start_net(&args, Some(store.clone()), Arc::new(Mutex::new(Hello::default())))
					.await?;
			let peer = *peers.first().context("--peer is required")?;
			let bytes = net::fetch_blob(&net, &store, peer, &cid).await?;
			println!("{} {} bytes", cid.to_text(), bytes.len());
		}
	}
	Ok(())
}
