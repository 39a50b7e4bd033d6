//! [`Model`]: a kernel's TorchScript module on libtorch with its parameters in a fixed order (the
//! archive's) and its Adam state ([`super::optim`]), following the tch-rs `jit` idiom (`CModule`,
//! `no_grad`, a chosen `Device`).

use super::{Dataset, Manifest, Task};
use crate::{
	checkpoint,
	error::{bail, Context, Result},
	torch_env,
};
use std::{collections::BTreeMap, io::Cursor};
use tch::{CModule, Device, IValue, Kind, Tensor};
use verity_primitives::cid::Cid;

/// Parameters and Adam state, in a fixed order (the archive's parameter order).
pub struct Model {
	/// The kernel's manifest.
	pub manifest: Manifest,
	/// CID of the TorchScript archive.
	pub archive: Cid,
	module: CModule,
	pub(super) params: Vec<(String, Tensor)>,
	/// Adam moments, one flat tensor each (the optimizer runs on these in a few large ops) …
	pub(super) m_flat: Tensor,
	pub(super) v_flat: Tensor,
	/// … and per-parameter views of them (for checkpoints).
	adam_m: Vec<Tensor>,
	adam_v: Vec<Tensor>,
	/// Optimizer steps taken.
	pub step: u64,
	/// Device.
	pub device: Device,
}

impl Model {
	/// Loads a kernel from its archive bytes and manifest, applying its environment's switches to
	/// libtorch ([`torch_env::reproducible`], process-wide). The archive must be the one the
	/// manifest's record names.
	pub fn load(manifest: Manifest, archive: &[u8], device: Device) -> Result<Self> {
		let cid = manifest.check_archive(archive).map_err(|e| crate::error::invalid!("{e}"))?;
		torch_env::reproducible(&manifest.record.environment)?;
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

	/// Saves the TorchScript module, with its current parameters, as an archive at `path`.
	pub fn save_archive(&self, path: &std::path::Path) -> Result<()> {
		self.module
			.save(path)
			.map_err(|e| crate::error::invalid!("{}", crate::error::torch_message(&e)))
			.with_context(|| format!("saving the kernel archive to {}", path.display()))
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
		self.infer_with(input, batch, |_| {})
	}

	/// [`Model::infer`], telling `done` the rows of each batch as it finishes.
	pub fn infer_with(
		&mut self,
		input: &Tensor,
		batch: i64,
		mut done: impl FnMut(u64),
	) -> Result<Tensor> {
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
				done(len as u64);
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
		checkpoint::encode(&tensors, meta)
	}

	/// Restores parameters and Adam state from [`Self::checkpoint`] bytes.
	pub fn restore(&mut self, bytes: &[u8]) -> Result<BTreeMap<String, String>> {
		let (tensors, meta) = checkpoint::decode(bytes)?;
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

	/// A next-token kernel's context length (an error for a kernel without one).
	pub fn context(&self) -> Result<i64> {
		self.manifest.context.context("next-token kernel without a context length")
	}
}
