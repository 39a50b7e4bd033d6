//! `verity-worker`: Verity's off-chain compute worker.
//!
//! Kernels and their results:
//! - [`kernel`]: AIVM kernels (TorchScript archive + manifest holding the chain's kernel record)
//!   on libtorch through `tch`: inference in batches, training with a checkpointable Adam.
//! - [`torch_env`]: process and libtorch set-up, the kernel environment's reproducibility switches.
//! - [`infer`]: the inference pipeline (input checked, batched run, digest, output blob).
//! - [`digest`]: tensors digested by the specification in `verity_primitives::digest`.
//! - [`checkpoint`]: the safetensors format of checkpoints, datasets and outputs.
//! - [`store`]: the content-addressed blob store (CIDv1, sha2-256, raw codec), checked on read,
//!   and blobs between workers ([`store::remote`]).
//!
//! Workers together:
//! - [`p2p`]: the libp2p node (TCP + Noise + yamux), one request-response protocol per subsystem.
//! - [`collective`]: ring AllReduce over [`p2p`], chunked and pipelined, bit-identical everywhere.
//! - [`group`]: training-group membership (status, forming, re-forming).
//! - [`train`]: group training (sync or DiLoCo) with re-formation after a member is lost.
//! - [`steps`]: a member's step chain (states and gradient digests), what audits replay one step of.
//!
//! Around them: [`bench`] (hardware, AllReduce, training-step and cipher benchmarks), [`metrics`]
//! (Prometheus), [`output`] (the JSON lines the CLI prints), [`error`] (the library's error type).
//!
//! Dependencies point one way: `error` and `output` at the top, then `train` → `group`,
//! `collective` → `p2p`; `infer` → `kernel` → `checkpoint`, `torch_env`; `store::remote` →
//! `p2p`. The chain client, the job loop and the inference server (docs/architecture.md) join at
//! the top beside `train` and `infer`.

// Test-only faults stay out of release builds.
#[cfg(all(feature = "fault-injection", not(debug_assertions)))]
compile_error!("the fault-injection feature is for test builds only, never a release build");

pub mod bench;
pub mod chain;
pub mod checkpoint;
pub mod collective;
pub mod digest;
pub mod error;
pub mod group;
pub mod infer;
pub mod kernel;
pub mod metrics;
pub mod output;
pub mod p2p;
pub mod progress;
pub mod provider;
pub mod serve;
pub mod steps;
pub mod store;
pub mod torch_env;
mod torch_ffi;
pub mod train;
