//! The logic behind the calls and the [`KernelInspect`] implementation. Every function checks all
//! its preconditions before it writes.

#![cfg_attr(
	not(test),
	deny(
		clippy::unwrap_used,
		clippy::expect_used,
		clippy::indexing_slicing,
		clippy::arithmetic_side_effects
	)
)]

use codec::Encode;
use polkadot_sdk::{
	frame_support::{
		ensure,
		pallet_prelude::*,
		traits::{fungible::MutateHold, tokens::Precision},
	},
	frame_system,
	sp_runtime::{traits::Saturating, ArithmeticError},
};
use verity_primitives::{
	kernel::{KernelId, KernelInfo, KernelInspect},
	market::{JobId, TrainingRecords},
};

use crate::{pallet::*, types::*};

impl<T: Config> Pallet<T> {
	/// `DepositBase + DepositPerByte × encoded_len`, saturating (a record is at most a few KiB).
	pub fn deposit_of(encoded_len: u32) -> BalanceOf<T> {
		T::DepositBase::get()
			.saturating_add(T::DepositPerByte::get().saturating_mul(encoded_len.into()))
	}

	fn check_spec(spec: &KernelSpec) -> DispatchResult {
		let tensors_ok =
			|list: &[TensorSpec]| !list.is_empty() && list.iter().all(|t| !t.shape.is_empty());
		ensure!(
			tensors_ok(&spec.inputs)
				&& tensors_ok(&spec.outputs)
				&& !spec.environment.libtorch.is_empty(),
			Error::<T>::InvalidSchema
		);
		ensure!(spec.rule.is_valid(), Error::<T>::InvalidRule);
		ensure!(spec.inference_flops > 0, Error::<T>::ZeroCost);
		Ok(())
	}

	/// Registers `spec` for `owner`; returns the kernel id.
	pub fn do_register(owner: T::AccountId, spec: KernelSpec) -> Result<KernelId, DispatchError> {
		Self::check_spec(&spec)?;
		let id = spec.id(&owner);
		ensure!(!Kernels::<T>::contains_key(id), Error::<T>::KernelExists);
		if let Some(old) = spec.supersedes {
			let old = Kernels::<T>::get(old).ok_or(Error::<T>::UnknownKernel)?;
			ensure!(old.owner == owner, Error::<T>::NotOwner);
			ensure!(old.superseded_by.is_none(), Error::<T>::AlreadySuperseded);
		}
		let len = u32::try_from(spec.encoded_size()).map_err(|_| ArithmeticError::Overflow)?;
		let deposit = Self::deposit_of(len);
		T::Currency::hold(&HoldReason::KernelDeposit.into(), &owner, deposit)
			.map_err(|_| Error::<T>::InsufficientDeposit)?;

		if let Some(old) = spec.supersedes {
			Kernels::<T>::mutate(old, |entry| {
				if let Some(entry) = entry {
					entry.superseded_by = Some(id);
				}
			});
		}
		let archive = spec.archive;
		let supersedes = spec.supersedes;
		Kernels::<T>::insert(
			id,
			KernelEntry {
				spec,
				owner: owner.clone(),
				deposit,
				registered_at: frame_system::Pallet::<T>::block_number(),
				status: KernelStatus::Active,
				superseded_by: None,
				jobs: 0,
			},
		);
		Self::deposit_event(Event::KernelRegistered {
			kernel: id,
			owner,
			archive,
			deposit,
			supersedes,
		});
		Ok(id)
	}

	/// Registers the model of completed training job `job` for its buyer `owner` as the next
	/// version of the kernel it trained (`spec.supersedes` is set to that kernel); returns the
	/// new kernel's id.
	pub fn do_register_trained(
		owner: T::AccountId,
		job: JobId,
		mut spec: KernelSpec,
	) -> Result<KernelId, DispatchError> {
		let model = T::Training::trained(job).ok_or(Error::<T>::UnknownTraining)?;
		ensure!(model.buyer == owner, Error::<T>::NotBuyer);
		ensure!(model.version.is_none(), Error::<T>::AlreadyRegistered);
		spec.supersedes = Some(model.kernel);
		let id = Self::do_register(owner, spec)?;
		Lineage::<T>::insert(
			id,
			TrainedFrom { job, checkpoint: model.checkpoint, epochs: model.epochs },
		);
		T::Training::set_version(job, Some(id));
		Self::deposit_event(Event::KernelTrained {
			kernel: id,
			base: model.kernel,
			job,
			checkpoint: model.checkpoint,
		});
		Ok(id)
	}

	/// `id` and the versions it supersedes, newest first, each with its lineage (at most
	/// [`MAX_HISTORY`]; a removed ancestor ends the walk after its id).
	pub fn versions(id: KernelId) -> alloc::vec::Vec<(KernelId, Option<TrainedFrom>)> {
		let mut out = alloc::vec::Vec::new();
		let mut next = Some(id);
		while let Some(k) = next {
			if out.len() >= MAX_HISTORY as usize {
				break;
			}
			out.push((k, Lineage::<T>::get(k)));
			next = Kernels::<T>::get(k).and_then(|e| e.spec.supersedes);
		}
		out
	}

	/// Deprecates `id`; `by` is the signer (must own it) or `None` for the admin origin.
	pub fn do_deprecate(id: KernelId, by: Option<T::AccountId>) -> DispatchResult {
		let mut entry = Kernels::<T>::get(id).ok_or(Error::<T>::UnknownKernel)?;
		if let Some(who) = &by {
			ensure!(&entry.owner == who, Error::<T>::NotOwner);
		}
		ensure!(entry.status == KernelStatus::Active, Error::<T>::AlreadyDeprecated);
		entry.status = KernelStatus::Deprecated;
		Kernels::<T>::insert(id, entry);
		Self::deposit_event(Event::KernelDeprecated { kernel: id, forced: by.is_none() });
		Ok(())
	}

	/// Removes deprecated, unreferenced `id` owned by `who` and releases its deposit.
	pub fn do_remove(id: KernelId, who: T::AccountId) -> DispatchResult {
		let entry = Kernels::<T>::get(id).ok_or(Error::<T>::UnknownKernel)?;
		ensure!(entry.owner == who, Error::<T>::NotOwner);
		ensure!(entry.status == KernelStatus::Deprecated, Error::<T>::NotDeprecated);
		ensure!(entry.jobs == 0, Error::<T>::InUse);
		T::Currency::release(
			&HoldReason::KernelDeposit.into(),
			&who,
			entry.deposit,
			Precision::BestEffort,
		)?;
		Kernels::<T>::remove(id);
		// The job's model may be registered again.
		if let Some(from) = Lineage::<T>::take(id) {
			T::Training::set_version(from.job, None);
		}
		Self::deposit_event(Event::KernelRemoved {
			kernel: id,
			owner: who,
			deposit: entry.deposit,
		});
		Ok(())
	}

	/// Storage invariants: each owner's `KernelDeposit` hold equals the deposits of its kernels;
	/// each deposit is what the record's size asks for; every `superseded_by` link points at a
	/// kernel that names this one in `supersedes`; every lineage belongs to a registered kernel
	/// whose base is the trained kernel, and its trained model links back to it.
	#[cfg(any(feature = "try-runtime", feature = "std", test))]
	pub fn do_try_state() -> Result<(), polkadot_sdk::sp_runtime::TryRuntimeError> {
		use alloc::collections::btree_map::BTreeMap;
		use polkadot_sdk::frame_support::traits::fungible::InspectHold;
		let mut held: BTreeMap<T::AccountId, BalanceOf<T>> = BTreeMap::new();
		for (id, entry) in Kernels::<T>::iter() {
			ensure!(entry.spec.id(&entry.owner) == id, "kernel stored under a wrong id");
			let len = u32::try_from(entry.spec.encoded_size()).map_err(|_| "record too long")?;
			ensure!(entry.deposit == Self::deposit_of(len), "deposit does not match record size");
			let sum = held.entry(entry.owner.clone()).or_default();
			*sum = sum.saturating_add(entry.deposit);
			if let Some(next) = entry.superseded_by {
				if let Some(next) = Kernels::<T>::get(next) {
					ensure!(next.spec.supersedes == Some(id), "broken version link");
				}
			}
		}
		for (id, from) in Lineage::<T>::iter() {
			let entry =
				Kernels::<T>::get(id).ok_or("lineage of a kernel that is not registered")?;
			let model = T::Training::trained(from.job).ok_or("lineage names no trained model")?;
			ensure!(model.version == Some(id), "the trained model does not link back");
			ensure!(entry.spec.supersedes == Some(model.kernel), "version of another base");
			ensure!(model.checkpoint == from.checkpoint, "lineage checkpoint differs");
		}
		for (who, sum) in held {
			ensure!(
				T::Currency::balance_on_hold(&HoldReason::KernelDeposit.into(), &who) == sum,
				"kernel deposits differ from the hold"
			);
		}
		Ok(())
	}
}

impl<T: Config> KernelInspect<T::AccountId> for Pallet<T> {
	fn kernel(id: &KernelId) -> Option<KernelInfo<T::AccountId>> {
		Kernels::<T>::get(id).map(|e| KernelInfo {
			owner: e.owner,
			inference_flops: e.spec.inference_flops,
			train_flops: e.spec.train_flops,
			device: e.spec.environment.device,
			rule: e.spec.rule,
			usable: e.status == KernelStatus::Active,
		})
	}

	fn acquire(id: &KernelId) -> DispatchResult {
		Kernels::<T>::try_mutate(id, |entry| {
			let entry = entry.as_mut().ok_or(Error::<T>::UnknownKernel)?;
			ensure!(entry.status == KernelStatus::Active, Error::<T>::AlreadyDeprecated);
			entry.jobs = entry.jobs.checked_add(1).ok_or(ArithmeticError::Overflow)?;
			Ok(())
		})
	}

	fn release(id: &KernelId) {
		Kernels::<T>::mutate(id, |entry| {
			if let Some(entry) = entry {
				entry.jobs = entry.jobs.saturating_sub(1);
			}
		});
	}
}
