//! Benchmarks of every call at its worst case: the largest record (`MaxTensors` inputs and
//! outputs of `MaxDims` dimensions each, a numeric-tolerance rule, a `supersedes` link).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::arithmetic_side_effects)]

use crate::{pallet::*, types::*, Pallet as Registry};
use alloc::vec;
use polkadot_sdk::{
	frame_benchmarking::v2::*,
	frame_support::{
		traits::{fungible::Mutate, EnsureOrigin, Get},
		BoundedVec,
	},
	frame_system::RawOrigin,
};
use verity_primitives::{
	cid::Cid,
	kernel::{AggregationRule, DeviceClass, KernelId},
};

fn funded<T: Config>(name: &'static str) -> T::AccountId {
	let who: T::AccountId = account(name, 0, 0);
	T::Currency::set_balance(&who, Registry::<T>::deposit_of(1_000_000) * 10u32.into());
	who
}

fn largest_spec(content: &[u8], supersedes: Option<KernelId>) -> KernelSpec {
	let tensor = TensorSpec {
		dtype: DType::F32,
		shape: BoundedVec::try_from(vec![7u32; <MaxDims as Get<u32>>::get() as usize]).unwrap(),
	};
	let tensors =
		BoundedVec::try_from(vec![tensor; <MaxTensors as Get<u32>>::get() as usize]).unwrap();
	KernelSpec {
		archive: Cid::of_raw_bytes(content),
		environment: Environment {
			libtorch: BoundedVec::try_from(vec![b'9'; <MaxVersionLen as Get<u32>>::get() as usize])
				.unwrap(),
			device: DeviceClass::Cuda,
			dtype: DType::F32,
			deterministic_algorithms: true,
			tf32_disabled: true,
			seed: 1,
		},
		inputs: tensors.clone(),
		outputs: tensors,
		inference_flops: 1_000_000,
		train_flops: 3_000_000,
		rule: AggregationRule::NumericTolerance {
			len: 64,
			abs_tolerance: 10,
			rel_tolerance_ppm: 5,
		},
		supersedes,
	}
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn register_kernel() {
		let owner = funded::<T>("owner");
		let old = Registry::<T>::do_register(owner.clone(), largest_spec(b"v1", None)).unwrap();
		let spec = largest_spec(b"v2", Some(old));
		let archive = spec.archive.to_text().into_bytes().try_into().unwrap();

		#[extrinsic_call]
		_(
			RawOrigin::Signed(owner.clone()),
			archive,
			spec.environment.clone(),
			spec.inputs.clone(),
			spec.outputs.clone(),
			spec.inference_flops,
			spec.train_flops,
			spec.rule,
			spec.supersedes,
		);

		assert_eq!(Kernels::<T>::get(old).unwrap().superseded_by, Some(spec.id(&owner)));
	}

	#[benchmark]
	fn deprecate_kernel() {
		let owner = funded::<T>("owner");
		let id = Registry::<T>::do_register(owner.clone(), largest_spec(b"k", None)).unwrap();

		#[extrinsic_call]
		_(RawOrigin::Signed(owner), id);

		assert_eq!(Kernels::<T>::get(id).unwrap().status, KernelStatus::Deprecated);
	}

	#[benchmark]
	fn remove_kernel() {
		let owner = funded::<T>("owner");
		let id = Registry::<T>::do_register(owner.clone(), largest_spec(b"k", None)).unwrap();
		Registry::<T>::do_deprecate(id, None).unwrap();

		#[extrinsic_call]
		_(RawOrigin::Signed(owner), id);

		assert!(!Kernels::<T>::contains_key(id));
	}

	#[benchmark]
	fn force_deprecate_kernel() -> Result<(), BenchmarkError> {
		let owner = funded::<T>("owner");
		let id = Registry::<T>::do_register(owner, largest_spec(b"k", None)).unwrap();
		let origin =
			T::AdminOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, id);

		assert_eq!(Kernels::<T>::get(id).unwrap().status, KernelStatus::Deprecated);
		Ok(())
	}

	impl_benchmark_test_suite!(Registry, crate::mock::new_test_ext(), crate::mock::Test);
}
