//! AIVM kernels on libtorch: a TorchScript archive plus its [`Manifest`] (the chain's kernel
//! record, [`verity_primitives::kernel::KernelSpec`], with the task the archive's loss and data
//! follow), loaded with `tch::CModule`, run for inference in batches and trained with Adam whose
//! state is part of the checkpoint.
//!
//! - [`manifest`]: the manifest (`kernel.json`) and the task;
//! - [`dir`]: a kernel directory as `scripts/kernels.py` writes it;
//! - [`model`]: loading, forward, inference, loss, gradients, checkpoints, evaluation;
//! - [`optim`]: Adam on flat moment tensors;
//! - [`dataset`]: training and input data;
//! - [`export`]: a new kernel version carrying a training checkpoint's parameters.
//!
//! Determinism: one intra-op thread ([`crate::torch_env::init_torch`]), fixed seeds, and the
//! kernel's environment applied by [`Model::load`] through [`crate::torch_env::reproducible`]:
//! libtorch's deterministic algorithms (an op without a deterministic implementation fails
//! instead of running, and uninitialised memory is filled), deterministic cuDNN without
//! autotuning, and IEEE float32 everywhere (no TF32 — libtorch's default for CUDA convolutions
//! and RNNs — and no BF16 in oneDNN) unless the environment allows TF32. Every reduction across
//! workers is done by the ring in a fixed order. Two workers on the same device class with the
//! same archive, data and seed produce bit-identical outputs and checkpoints.

pub mod dataset;
pub mod dir;
pub mod export;
pub mod manifest;
pub mod model;
pub mod optim;

pub use dataset::Dataset;
pub use dir::KernelDir;
pub use manifest::{Manifest, Task};
pub use model::Model;
pub use optim::Adam;
