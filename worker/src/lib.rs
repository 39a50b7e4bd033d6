//! `verity-worker`: Verity's off-chain compute worker.
//!
//! - [`kernel`]: AIVM kernels (TorchScript archive + manifest) on libtorch through `tch`: inference
//!   in batches, training with a checkpointable Adam, deterministic set-up.
//! - [`digest`]: output digests (the proof-of-compute commitment's input), per-step gradient
//!   digests and their Merkle root, the safetensors checkpoint format.
//! - [`store`]: the content-addressed blob store (CIDv1, sha2-256, raw codec), checked on read.
//! - [`net`] and [`wire`]: the libp2p node (TCP + Noise + yamux, request-response) as an actor.
//! - [`collective`]: ring AllReduce over [`net`], chunked and pipelined, bit-identical everywhere.
//! - [`train`]: group training (sync or DiLoCo) with re-formation after a member is lost.
//! - [`bench`]: the hardware benchmark and the AllReduce and training-step benchmarks.
//! - [`metrics`]: Prometheus metrics.
//! - [`error`]: the library's error type.

pub mod bench;
pub mod collective;
pub mod digest;
pub mod error;
pub mod kernel;
pub mod metrics;
pub mod net;
pub mod store;
mod torch_ffi;
pub mod train;
pub mod wire;
