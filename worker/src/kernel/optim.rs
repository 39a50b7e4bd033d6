//! Adam on flat moment tensors: the whole model's update in a handful of large ops, then one
//! subtraction per parameter. The moments and the step count are part of the checkpoint.

use super::Model;
use crate::error::{bail, Result};
use serde::{Deserialize, Serialize};
use tch::Tensor;

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
}
