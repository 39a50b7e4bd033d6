//! AIVM kernels on libtorch: a TorchScript archive plus its manifest (environment, tensor specs,
//! declared cost, aggregation rule), loaded with `tch::CModule`, run for inference in batches and
//! trained with Adam whose state is part of the checkpoint.
//!
//! Determinism: one intra-op thread (set by [`init_torch`]), fixed seeds, and the kernel's
//! environment applied by [`Model::load`] through [`reproducible`]: libtorch's deterministic
//! algorithms (`torch.use_deterministic_algorithms(True)`: an op without a deterministic
//! implementation fails instead of running, and uninitialised memory is filled), deterministic
//! cuDNN without autotuning, and IEEE float32 everywhere (no TF32 — libtorch's default for CUDA
//! convolutions and RNNs — and no BF16 in oneDNN) unless the environment allows TF32. Every
//! reduction across workers is done by the ring in a fixed order. Two workers on the same device
//! class with the same archive, data and seed produce bit-identical outputs and checkpoints.

use crate::digest;
use crate::error::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::{collections::BTreeMap, io::Cursor};
use tch::{CModule, Device, IValue, Kind, Tensor};
use verity_primitives::cid::Cid;

/// A tensor in a kernel's interface.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TensorSpec {
	/// Name.
	pub name: String,
	/// `f32` or `i64`.
	pub dtype: String,
	/// Shape, -1 for the batch dimension.
	pub shape: Vec<i64>,
}

/// The environment a kernel's results are reproducible in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Environment {
	/// libtorch version, e.g. `2.11.0`.
	pub libtorch: String,
	/// `cpu`, `consumer-gpu` or `datacenter-gpu`.
	pub device_class: String,
	/// Compute dtype.
	pub dtype: String,
	/// Deterministic algorithms only.
	pub deterministic: bool,
	/// TF32 matmuls allowed.
	pub tf32: bool,
	/// Seed of all randomness.
	pub seed: u64,
}

/// Declared cost in FLOPs per sample.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Flops {
	/// One forward pass.
	pub forward: u64,
	/// One training step (forward and backward).
	pub train_step: u64,
}

/// How results of a kernel are compared.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "kebab-case")]
pub enum Aggregation {
	/// Digest of the raw f32 outputs.
	Exact,
	/// Digest of the outputs rounded to `fractional_bits` binary places.
	Quantised {
		/// Binary places kept.
		fractional_bits: u8,
	},
}

/// What a kernel's loss is.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Task {
	/// Inputs `x` [B, …], labels `y` [B]; cross-entropy over the logits.
	Classification,
	/// Token windows [B, T]; cross-entropy of each position against the next token.
	NextToken,
}

/// A kernel's manifest (`kernel.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
	/// Name.
	pub name: String,
	/// Loss and data layout.
	pub task: Task,
	/// Environment.
	pub environment: Environment,
	/// Inputs.
	pub inputs: Vec<TensorSpec>,
	/// Outputs.
	pub outputs: Vec<TensorSpec>,
	/// Declared cost.
	pub flops_per_sample: Flops,
	/// Result comparison rule.
	pub aggregation: Aggregation,
	/// Context length (next-token kernels).
	#[serde(default)]
	pub context: Option<i64>,
}

/// Sets libtorch's thread pools: `threads` intra-op threads (part of a kernel's reproducible
/// setting), one inter-op thread. The rest of the reproducibility switches come with the kernel
/// ([`reproducible`], applied by [`Model::load`]).
pub fn init_torch(threads: usize) {
	tch::set_num_threads(threads.max(1) as i32);
	tch::set_num_interop_threads(1);
}

/// libtorch's process-wide reproducibility switches, as read back from libtorch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reproducibility {
	/// Deterministic algorithms only (`torch.are_deterministic_algorithms_enabled()`).
	pub deterministic: bool,
	/// Some backend may compute float32 matmuls, convolutions or RNNs in TF32 or BF16.
	pub reduced_precision: bool,
	/// TorchScript's graph-executor optimisations are on for the calling thread (libtorch keeps
	/// this per thread; [`Model::forward`] turns them off on the thread that runs the kernel).
	pub graph_optimized: bool,
}

/// Applies an environment's switches to libtorch, process-wide: deterministic algorithms and
/// deterministic cuDNN when `env.deterministic`, and IEEE float32 on every backend unless `env.tf32`
/// (then CUDA matmuls, convolutions and RNNs may use TF32). On CUDA, cuBLAS needs
/// `CUBLAS_WORKSPACE_CONFIG=:4096:8` in the environment before its first use for deterministic
/// results; `verity-worker` sets it at start.
pub fn reproducible(env: &Environment) -> Result<()> {
	crate::torch_ffi::set_reproducible(env.deterministic, env.tf32)
		.map_err(|e| crate::error::invalid!("libtorch refused the reproducibility settings: {e}"))
}

pub use crate::torch_ffi::malloc_keep_freed;

/// What libtorch's switches are now.
pub fn reproducibility() -> Reproducibility {
	let (deterministic, reduced_precision, graph_optimized) = crate::torch_ffi::reproducibility();
	Reproducibility { deterministic, reduced_precision, graph_optimized }
}

/// Chooses a device: `cpu`, `cuda` (fails without CUDA) or `auto` (CUDA when available).
pub fn device(choice: &str) -> Result<Device> {
	match choice {
		"cpu" => Ok(Device::Cpu),
		"cuda" if tch::Cuda::is_available() => Ok(Device::Cuda(0)),
		"cuda" => bail!("--device cuda: libtorch reports no CUDA device"),
		"auto" => Ok(Device::cuda_if_available()),
		other => bail!("unknown device {other:?} (cpu, cuda or auto)"),
	}
}

/// Parameters and Adam state, in a fixed order (the archive's parameter order).
pub struct Model {
	/// The kernel's manifest.
	pub manifest: Manifest,
	/// CID of the TorchScript archive.
	pub archive: Cid,
	module: CModule,
	params: Vec<(String, Tensor)>,
	/// Adam moments, one flat tensor each (the optimizer runs on these in a few large ops) …
	m_flat: Tensor,
	v_flat: Tensor,
	/// … and per-parameter views of them (for checkpoints).
	adam_m: Vec<Tensor>,
	adam_v: Vec<Tensor>,
	/// Optimizer steps taken.
	pub step: u64,
	/// Device.
	pub device: Device,
}

/// Adam hyper-parameters.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Adam {
	/// Learning rate.
	pub lr: f64,
	/// β1.
	pub beta1: f64,
	/// β2.
	pub beta2: f64,
	/// ε.
	pub eps: f64,
}

impl Default for Adam {
	fn default() -> Self {
		Adam { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 }
	}
}

impl Model {
	/// Loads a kernel from its archive bytes and manifest, applying its environment's switches to
	/// libtorch ([`reproducible`], process-wide).
	pub fn load(manifest: Manifest, archive: &[u8], device: Device) -> Result<Self> {
		let cid = Cid::of_raw_bytes(archive);
		reproducible(&manifest.environment)?;
		let mut module = CModule::load_data_on_device(&mut Cursor::new(archive), device)
			.map_err(|e| crate::error::invalid!("{}", crate::error::torch_message(&e)))
			.with_context(|| {
				format!("kernel archive {} is not a loadable TorchScript archive", cid.to_text())
			})?;
		module.set_train();
		let params = module.named_parameters().map_err(|e| crate::error::invalid!("{e}"))?;
		if params.is_empty() {
			bail!("kernel archive {} has no parameters", cid.to_text());
		}
		let numel: i64 = params.iter().map(|(_, p)| p.numel() as i64).sum();
		let m_flat = Tensor::zeros([numel], (Kind::Float, device));
		let v_flat = Tensor::zeros([numel], (Kind::Float, device));
		let views = |flat: &Tensor| {
			let mut at = 0i64;
			params
				.iter()
				.map(|(_, p)| {
					let n = p.numel() as i64;
					at += n;
					flat.narrow(0, at - n, n).view(p.size().as_slice())
				})
				.collect::<Vec<_>>()
		};
		let (adam_m, adam_v) = (views(&m_flat), views(&v_flat));
		Ok(Model {
			manifest,
			archive: cid,
			module,
			params,
			m_flat,
			v_flat,
			adam_m,
			adam_v,
			step: 0,
			device,
		})
	}

	/// Number of trainable values.
	pub fn numel(&self) -> usize {
		self.params.iter().map(|(_, p)| p.numel()).sum()
	}

	/// Runs the kernel on `input`.
	///
	/// TorchScript's graph-executor optimisations (profiling runs, differentiable subgraphs,
	/// fusion) are turned off first — a per-thread setting in libtorch, so it is set on the thread
	/// that runs the kernel: the archive then runs op by op as PyTorch eager runs the kernel's
	/// module, with no fused kernels whose rounding could differ, and a training step is faster
	/// without them (docs/benchmarks.md).
	pub fn forward(&self, input: &Tensor) -> Result<Tensor> {
		tch::jit::f_set_graph_executor_optimize(false)
			.map_err(|e| crate::error::invalid!("{}", crate::error::torch_message(&e)))?;
		match self.module.forward_is(&[IValue::Tensor(input.shallow_clone())]) {
			Ok(IValue::Tensor(t)) => Ok(t),
			Ok(other) => bail!("kernel returned {other:?}, expected a tensor"),
			Err(e) => bail!("kernel forward failed: {e}"),
		}
	}

	/// Inference in batches of `batch` rows, returning all outputs on the CPU.
	pub fn infer(&mut self, input: &Tensor, batch: i64) -> Result<Tensor> {
		self.module.set_eval();
		let out = tch::no_grad(|| -> Result<Tensor> {
			let n = input.size()[0];
			let mut parts = Vec::new();
			let mut at = 0;
			while at < n {
				let len = batch.min(n - at);
				parts.push(
					self.forward(&input.narrow(0, at, len).to_device(self.device))?
						.to_device(Device::Cpu),
				);
				at += len;
			}
			Ok(Tensor::cat(&parts, 0))
		});
		self.module.set_train();
		out
	}

	/// The loss of a batch: the sum of per-sample losses divided by `global_batch`, so that the
	/// sum of every member's gradient is the gradient of the whole batch's mean loss.
	pub fn loss(&self, input: &Tensor, target: &Tensor, global_batch: i64) -> Result<Tensor> {
		let logits = self.forward(&input.to_device(self.device))?;
		let target = target.to_device(self.device);
		let (logits, target, per_sample) = match self.manifest.task {
			Task::Classification => (logits, target, 1),
			Task::NextToken => {
				let v = *logits.size().last().unwrap_or(&1);
				let t = logits.size()[1];
				(logits.view([-1, v]), target.view([-1]), t)
			}
		};
		let sum = logits.log_softmax(-1, Kind::Float).nll_loss_nd::<Tensor>(
			&target,
			None,
			tch::Reduction::Sum,
			-100,
		);
		Ok(sum / (global_batch * per_sample) as f64)
	}

	/// Computes this member's gradient of a batch and returns it flattened in parameter order.
	pub fn local_gradient(
		&mut self,
		input: &Tensor,
		target: &Tensor,
		global_batch: i64,
	) -> Result<(Vec<f32>, f64)> {
		let loss = self.loss(input, target, global_batch)?;
		// Gradients returned directly (like `torch.autograd.grad`): nothing accumulates in `.grad`,
		// so there is nothing to zero between steps.
		let params: Vec<&Tensor> = self.params.iter().map(|(_, p)| p).collect();
		let grads: Vec<Tensor> = Tensor::f_run_backward(&[&loss], &params, false, false)?
			.into_iter()
			.zip(&params)
			.map(
				|(g, p)| if g.defined() { g.flatten(0, -1) } else { p.zeros_like().flatten(0, -1) },
			)
			.collect();
		let flat = Tensor::cat(&grads, 0).to_device(Device::Cpu);
		Ok((Vec::<f32>::try_from(&flat)?, loss.double_value(&[])))
	}

	/// The parameters flattened in order.
	pub fn flat_params(&self) -> Result<Vec<f32>> {
		let parts: Vec<Tensor> =
			self.params.iter().map(|(_, p)| p.detach().flatten(0, -1)).collect();
		Ok(Vec::<f32>::try_from(&Tensor::cat(&parts, 0).to_device(Device::Cpu))?)
	}

	/// Overwrites the parameters from a flat vector.
	pub fn set_flat_params(&mut self, flat: &[f32]) -> Result<()> {
		self.for_each_slice(flat, |p, src| {
			p.detach().copy_(src);
		})
	}

	fn for_each_slice(&mut self, flat: &[f32], mut f: impl FnMut(&Tensor, &Tensor)) -> Result<()> {
		if flat.len() != self.numel() {
			bail!("vector of {} values for a model of {}", flat.len(), self.numel());
		}
		let all = Tensor::from_slice(flat).to_device(self.device);
		let mut at = 0i64;
		tch::no_grad(|| {
			for (_, p) in &self.params {
				let n = p.numel() as i64;
				f(p, &all.narrow(0, at, n).view(p.size().as_slice()));
				at += n;
			}
		});
		Ok(())
	}

	/// Forgets the Adam moments and step count.
	pub fn reset_optimizer(&mut self) {
		tch::no_grad(|| {
			let _ = self.m_flat.zero_();
			let _ = self.v_flat.zero_();
		});
		self.step = 0;
	}

	/// One Adam step with the given (already reduced) flat gradient.
	pub fn adam_step(&mut self, flat_grad: &[f32], opt: &Adam) -> Result<()> {
		if flat_grad.len() != self.numel() {
			bail!("gradient of {} values for a model of {}", flat_grad.len(), self.numel());
		}
		self.step += 1;
		let t = self.step as i32;
		let bc1 = 1.0 - opt.beta1.powi(t);
		let bc2 = 1.0 - opt.beta2.powi(t);
		let g = Tensor::from_slice(flat_grad).to_device(self.device);
		tch::no_grad(|| {
			// The whole model in a handful of large ops, then one subtraction per parameter.
			let _ = self.m_flat.lerp_(&g, 1.0 - opt.beta1);
			let _ = self.v_flat.g_mul_scalar_(opt.beta2);
			let _ = self.v_flat.addcmul_(&(&g * (1.0 - opt.beta2)), &g);
			let mut denom = &self.v_flat / bc2;
			let _ = denom.sqrt_();
			let _ = denom.g_add_scalar_(opt.eps);
			let mut update = &self.m_flat / &denom;
			let _ = update.g_mul_scalar_(opt.lr / bc1);
			let mut at = 0i64;
			for (_, p) in &self.params {
				let n = p.numel() as i64;
				let _ = p.detach().g_sub_(&update.narrow(0, at, n).view(p.size().as_slice()));
				at += n;
			}
		});
		Ok(())
	}

	/// Serialises parameters and Adam state as safetensors (readable by
	/// `safetensors.torch.load_file`): `param/<name>`, `adam_m/<name>`, `adam_v/<name>`, and the
	/// metadata `step`, `kernel` (archive CID) and any `extra` entries; `tensors` are stored too.
	pub fn checkpoint(
		&self,
		extra: &BTreeMap<String, String>,
		mut tensors: Vec<(String, Tensor)>,
	) -> Result<Vec<u8>> {
		for (i, (name, p)) in self.params.iter().enumerate() {
			tensors.push((format!("param/{name}"), p.detach().to_device(Device::Cpu).contiguous()));
			tensors.push((
				format!("adam_m/{name}"),
				self.adam_m[i].to_device(Device::Cpu).contiguous(),
			));
			tensors.push((
				format!("adam_v/{name}"),
				self.adam_v[i].to_device(Device::Cpu).contiguous(),
			));
		}
		let mut meta = extra.clone();
		meta.insert("step".into(), self.step.to_string());
		meta.insert("kernel".into(), self.archive.to_text());
		digest::to_safetensors(&tensors, meta)
	}

	/// Restores parameters and Adam state from [`Self::checkpoint`] bytes.
	pub fn restore(&mut self, bytes: &[u8]) -> Result<BTreeMap<String, String>> {
		let (tensors, meta) = digest::from_safetensors(bytes)?;
		if meta.get("kernel") != Some(&self.archive.to_text()) {
			bail!(
				"checkpoint is for kernel {:?}, not {}",
				meta.get("kernel"),
				self.archive.to_text()
			);
		}
		let find = |key: String| -> Result<&Tensor> {
			tensors
				.iter()
				.find(|(k, _)| *k == key)
				.map(|(_, t)| t)
				.with_context(|| format!("checkpoint lacks {key}"))
		};
		tch::no_grad(|| -> Result<()> {
			for (i, (name, p)) in self.params.iter().enumerate() {
				for (key, dst) in
					[("param", p), ("adam_m", &self.adam_m[i]), ("adam_v", &self.adam_v[i])]
				{
					let src = find(format!("{key}/{name}"))?;
					if src.size() != dst.size() {
						bail!(
							"checkpoint {key}/{name} has shape {:?}, the kernel {:?}",
							src.size(),
							dst.size()
						);
					}
					dst.detach().copy_(src);
				}
			}
			Ok(())
		})?;
		self.step =
			meta.get("step").and_then(|s| s.parse().ok()).context("checkpoint lacks step")?;
		Ok(meta)
	}

	/// Accuracy (classification) or mean loss (next-token) on held-out data.
	pub fn evaluate(&mut self, data: &Dataset) -> Result<f64> {
		match (self.manifest.task, data) {
			(Task::Classification, Dataset::Labelled { x, y }) => {
				let logits = self.infer(x, 512)?;
				let correct =
					logits.argmax(-1, false).eq_tensor(y).to_kind(Kind::Float).mean(Kind::Float);
				Ok(correct.double_value(&[]))
			}
			(Task::NextToken, Dataset::Tokens { .. }) => {
				let (inp, tgt) = data.windows(self.context()?, None)?;
				let n = inp.size()[0].min(256);
				let loss =
					tch::no_grad(|| self.loss(&inp.narrow(0, 0, n), &tgt.narrow(0, 0, n), n))?;
				Ok(loss.double_value(&[]))
			}
			_ => bail!("dataset does not fit the kernel's task"),
		}
	}

	fn context(&self) -> Result<i64> {
		self.manifest.context.context("next-token kernel without a context length")
	}
}

/// Training or evaluation data.
pub enum Dataset {
	/// Inputs and class labels.
	Labelled {
		/// Inputs [N, …].
		x: Tensor,
		/// Labels [N].
		y: Tensor,
	},
	/// A token stream.
	Tokens(Tensor),
}

impl Dataset {
	/// Reads a dataset blob (safetensors with `x` and `y`, or `tokens`).
	pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
		let (tensors, _) = digest::from_safetensors(bytes)?;
		let get = |k: &str| tensors.iter().find(|(n, _)| n == k).map(|(_, t)| t.shallow_clone());
		match (get("x"), get("y"), get("tokens")) {
			(Some(x), Some(y), _) => {
				if x.size()[0] != y.size()[0] {
					bail!("dataset has {} inputs but {} labels", x.size()[0], y.size()[0]);
				}
				Ok(Dataset::Labelled { x, y })
			}
			(_, _, Some(tokens)) => Ok(Dataset::Tokens(tokens)),
			_ => bail!("dataset has neither x and y nor tokens"),
		}
	}

	/// Number of training examples (rows, or token windows of `context`).
	pub fn examples(&self, context: Option<i64>) -> i64 {
		match self {
			Dataset::Labelled { y, .. } => y.size()[0],
			Dataset::Tokens(t) => (t.size()[0] - 1) / context.unwrap_or(1).max(1),
		}
	}

	/// Next-token windows: inputs [W, T] and targets shifted by one; `index` picks windows.
	pub fn windows(&self, context: i64, index: Option<&[i64]>) -> Result<(Tensor, Tensor)> {
		let Dataset::Tokens(t) = self else { bail!("not a token dataset") };
		let w = (t.size()[0] - 1) / context;
		let picks: Vec<i64> = index.map(<[i64]>::to_vec).unwrap_or_else(|| (0..w).collect());
		let starts = Tensor::from_slice(&picks) * context;
		let offsets = Tensor::arange(context, (Kind::Int64, Device::Cpu));
		let idx = starts.unsqueeze(1) + offsets.unsqueeze(0);
		Ok((
			t.index_select(0, &idx.view([-1])).view([-1, context]),
			t.index_select(0, &(idx + 1).view([-1])).view([-1, context]),
		))
	}

	/// The examples at `index` as (input, target).
	pub fn batch(&self, index: &[i64], context: Option<i64>) -> Result<(Tensor, Tensor)> {
		match self {
			Dataset::Labelled { x, y } => {
				let i = Tensor::from_slice(index);
				Ok((x.index_select(0, &i), y.index_select(0, &i)))
			}
			Dataset::Tokens(_) => {
				self.windows(context.context("token data needs a context")?, Some(index))
			}
		}
	}
}
