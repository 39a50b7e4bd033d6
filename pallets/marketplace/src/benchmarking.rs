//! Benchmarks of every call and of each part of the per-block hook, at their worst cases: full
//! offer lists, full queues, deadline slots that must be probed, the largest groups.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::arithmetic_side_effects)]

use crate::{impls::DEADLINE_PROBE, pallet::*, types::*, Pallet as Market};
use alloc::{vec, vec::Vec};
use polkadot_sdk::{
	frame_benchmarking::v2::*,
	frame_support::{
		traits::{fungible::Mutate, EnsureOrigin, Get, Hooks},
		BoundedVec,
	},
	frame_system::{self, pallet_prelude::BlockNumberFor, RawOrigin},
	sp_runtime::{traits::One, Perbill, Saturating},
};
use verity_primitives::{
	cid::Cid,
	kernel::KernelId,
	market::{TaskId, TaskOutcome},
};

/// Capacity that fits any benchmark job: 10^6 milli-WU/s.
const CAPACITY: u64 = 1_000_000;

fn params<T: Config>() -> ParamsOf<T> {
	MarketParams {
		accept_window: 10u32.into(),
		heartbeat_interval: 10u32.into(),
		missed_deadline_penalty: 1u32.into(),
		protocol_fee: Perbill::from_percent(5),
		verification_margin: Perbill::from_percent(20),
		index_smoothing: Perbill::from_percent(10),
		supply_horizon_secs: 3_600,
		load_tolerance_secs: u64::MAX / 2,
		max_reassignments: 100,
		collateral_percent: 200,
	}
}

fn class_def<T: Config>() -> ResourceClass<BalanceOf<T>> {
	ResourceClass {
		name: BoundedVec::try_from(vec![b'c'; 32]).unwrap(),
		base_price: 1_000u32.into(),
		min_price: 1u32.into(),
		max_price: 1_000_000u32.into(),
		device: verity_primitives::kernel::DeviceClass::Cuda,
	}
}

/// Parameters and class 0 in place, with its price index at the base price (a chain's genesis
/// may define class 0 with other bounds); returns class 0.
fn setup<T: Config>() -> ClassId {
	Params::<T>::put(params::<T>());
	let class = class_def::<T>();
	PriceIndex::<T>::insert(0, class.base_price);
	Market::<T>::do_set_class(0, class).unwrap();
	0
}

fn provider<T: Config>(i: u32) -> T::AccountId {
	let who: T::AccountId = account("provider", i, 0);
	T::BenchmarkHelper::make_provider(&who);
	who
}

fn buyer<T: Config>(name: &'static str) -> T::AccountId {
	let who: T::AccountId = account(name, 0, 0);
	T::Currency::set_balance(&who, BalanceOf::<T>::from(u32::MAX) * 1_000_000u32.into());
	who
}

/// `n` offers in `class` from distinct providers, cheapest first; returns their ids.
fn offers<T: Config>(class: ClassId, n: u32) -> Vec<OfferId> {
	(0..n)
		.map(|i| {
			Market::<T>::do_publish_offer(
				provider::<T>(i),
				class,
				CAPACITY,
				PriceSpec::Fixed((10 + i).into()),
				1,
				u64::MAX,
			)
			.unwrap()
		})
		.collect()
}

fn cid_input(i: u32) -> CidInput {
	Cid::of_raw_bytes(&i.to_le_bytes()).to_text().into_bytes().try_into().unwrap()
}

fn deadline<T: Config>() -> BlockNumberFor<T> {
	frame_system::Pallet::<T>::block_number().saturating_add(T::MaxJobDuration::get())
}

/// Fills the deadline slots from `at` so that the next deadline probes all but the last one.
fn fill_deadlines<T: Config>(at: BlockNumberFor<T>) {
	let mut block = at;
	for _ in 0..DEADLINE_PROBE - 1 {
		let full = vec![Deadline::Job(u64::MAX); T::MaxDeadlinesPerBlock::get() as usize];
		Deadlines::<T>::insert(block, BoundedVec::try_from(full).unwrap());
		block = block.saturating_add(One::one());
	}
}

/// Settings of `MaxHyperParams` bytes that parse: the longest number the JSON may hold (the
/// parser's slowest path), `{"lr":0.111…1}`. (Not `0.000…01`: at the runtime's 1,024 bytes that
/// underflows to 0, which the settings refuse, and every benchmark posting a training job failed
/// on the real runtime while the mock's 64 bytes passed.)
fn longest_hyperparams<T: Config>() -> BoundedVec<u8, T::MaxHyperParams> {
	let (head, tail) = (&b"{\"lr\":0."[..], &b"}"[..]);
	let digits = (T::MaxHyperParams::get() as usize).saturating_sub(head.len() + tail.len());
	let json = [head, &vec![b'1'; digits], tail].concat();
	BoundedVec::try_from(json).unwrap()
}

fn training_job<T: Config>(
	buyer: &T::AccountId,
	kernel: KernelId,
	class: ClassId,
	group: u32,
) -> u64 {
	let kind = JobKindInput::Training {
		dataset: cid_input(0),
		hyperparams: longest_hyperparams::<T>(),
		epochs: 1,
		group_size: group,
	};
	Market::<T>::do_post_job(
		buyer.clone(),
		kernel,
		class,
		kind,
		u64::from(group) * 10,
		1_000_000u32.into(),
		deadline::<T>(),
	)
	.unwrap()
}

/// A running training job of `group` tasks over `group` offers; returns (job, first task).
fn running_job<T: Config>(group: u32) -> (u64, TaskId) {
	let class = setup::<T>();
	offers::<T>(class, group);
	let b = buyer::<T>("buyer");
	let kernel = T::BenchmarkHelper::make_kernel(&b);
	let first = NextTask::<T>::get();
	let job = training_job::<T>(&b, kernel, class, group);
	assert!(Market::<T>::allocate(job, frame_system::Pallet::<T>::block_number()).unwrap());
	(job, first)
}

fn submit<T: Config>(task: TaskId) {
	let who = Tasks::<T>::get(task).unwrap().provider;
	Market::<T>::do_accept(who.clone(), task).unwrap();
	T::BenchmarkHelper::ready_to_verify(task, 1);
	Market::<T>::do_submit(who, task, Cid::of_raw_bytes(b"result")).unwrap();
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn publish_offer() {
		let class = setup::<T>();
		offers::<T>(class, T::MaxOffersPerClass::get() - 1);
		let who = provider::<T>(u32::MAX);

		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()), class, CAPACITY, PriceSpec::Fixed(5u32.into()), 1, 9);

		assert!(ProviderOffers::<T>::contains_key(&who, class));
	}

	#[benchmark]
	fn update_offer() {
		let class = setup::<T>();
		let id = offers::<T>(class, 1)[0];
		let who = Offers::<T>::get(id).unwrap().provider;

		#[extrinsic_call]
		_(RawOrigin::Signed(who), id, CAPACITY + 1, PriceSpec::FollowIndex, 2, 3);

		assert_eq!(Offers::<T>::get(id).unwrap().capacity, CAPACITY + 1);
	}

	/// Resuming a paused offer, the costlier way: it reads the provider's stake, the parameters
	/// and the class to count what the stake backs now (pausing only subtracts).
	#[benchmark]
	fn set_offer_status() {
		let class = setup::<T>();
		let id = offers::<T>(class, 1)[0];
		let who = Offers::<T>::get(id).unwrap().provider;
		Market::<T>::do_set_offer_status(who.clone(), id, OfferStatus::Paused).unwrap();

		#[extrinsic_call]
		_(RawOrigin::Signed(who), id, OfferStatus::Active);

		assert_eq!(Offers::<T>::get(id).unwrap().status, OfferStatus::Active);
	}

	#[benchmark]
	fn withdraw_offer() {
		let class = setup::<T>();
		let ids = offers::<T>(class, T::MaxOffersPerClass::get());
		let id = ids[0];
		let who = Offers::<T>::get(id).unwrap().provider;

		#[extrinsic_call]
		_(RawOrigin::Signed(who), id);

		assert!(!Offers::<T>::contains_key(id));
	}

	#[benchmark]
	fn post_job(i: Linear<1, { T::MaxInputs::get() }>) {
		let class = setup::<T>();
		let b = buyer::<T>("buyer");
		let kernel = T::BenchmarkHelper::make_kernel(&b);
		let kind = JobKindInput::Inference {
			inputs: BoundedVec::try_from((0..i).map(cid_input).collect::<Vec<_>>()).unwrap(),
			committee: T::MaxCommittee::get(),
		};
		fill_deadlines::<T>(deadline::<T>());

		#[extrinsic_call]
		_(RawOrigin::Signed(b), kernel, class, kind, 1_000, 1_000_000u32.into(), deadline::<T>());

		assert_eq!(Queue::<T>::get().len(), 1);
	}

	#[benchmark]
	fn cancel_job() {
		let class = setup::<T>();
		let b = buyer::<T>("buyer");
		let kernel = T::BenchmarkHelper::make_kernel(&b);
		let first = NextJob::<T>::get();
		// A full queue (the removal scans it), filled by as many buyers as the per-buyer limit
		// needs.
		for i in 0..T::MaxQueued::get() {
			let who = match i {
				0 => b.clone(),
				i => {
					let who: T::AccountId = account("filler", i / T::MaxQueuedPerBuyer::get(), 0);
					T::Currency::set_balance(
						&who,
						BalanceOf::<T>::from(u32::MAX) * 1_000u32.into(),
					);
					who
				}
			};
			training_job::<T>(&who, kernel, class, 1);
		}

		#[extrinsic_call]
		_(RawOrigin::Signed(b), first);

		assert!(!Jobs::<T>::contains_key(first));
	}

	#[benchmark]
	fn accept_task() {
		let (_, task) = running_job::<T>(1);
		let who = Tasks::<T>::get(task).unwrap().provider;
		let now = frame_system::Pallet::<T>::block_number();
		fill_deadlines::<T>(now.saturating_add(params::<T>().heartbeat_interval));

		#[extrinsic_call]
		_(RawOrigin::Signed(who), task);

		assert_eq!(Tasks::<T>::get(task).unwrap().state, TaskState::Accepted);
	}

	#[benchmark]
	fn heartbeat() {
		let (_, task) = running_job::<T>(1);
		let who = Tasks::<T>::get(task).unwrap().provider;
		Market::<T>::do_accept(who.clone(), task).unwrap();
		let now = frame_system::Pallet::<T>::block_number();
		fill_deadlines::<T>(now.saturating_add(params::<T>().heartbeat_interval));

		#[extrinsic_call]
		_(RawOrigin::Signed(who), task);

		assert_eq!(Tasks::<T>::get(task).unwrap().state, TaskState::Accepted);
	}

	#[benchmark]
	fn submit_result() {
		let (_, task) = running_job::<T>(1);
		let who = Tasks::<T>::get(task).unwrap().provider;
		Market::<T>::do_accept(who.clone(), task).unwrap();
		T::BenchmarkHelper::ready_to_verify(task, 1);

		#[extrinsic_call]
		_(RawOrigin::Signed(who), task, cid_input(7));

		assert_eq!(Tasks::<T>::get(task).unwrap().state, TaskState::Submitted);
	}

	#[benchmark]
	fn set_resource_class() -> Result<(), BenchmarkError> {
		setup::<T>();
		let origin =
			T::AdminOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		let id = (0..=u8::MAX).find(|c| !ResourceClasses::<T>::contains_key(c)).unwrap();

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, id, class_def::<T>());

		assert!(ResourceClasses::<T>::contains_key(id));
		Ok(())
	}

	#[benchmark]
	fn set_params() -> Result<(), BenchmarkError> {
		let origin =
			T::AdminOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, params::<T>());

		assert_eq!(Params::<T>::get(), Some(params::<T>()));
		Ok(())
	}

	/// The index step for `c` classes (no deadlines, empty queue).
	#[benchmark]
	fn on_initialize_index(c: Linear<1, { T::MaxClasses::get() }>) {
		Params::<T>::put(params::<T>());
		for id in ClassIds::<T>::get() {
			ResourceClasses::<T>::remove(id);
		}
		ClassIds::<T>::kill();
		for id in 0..c {
			Market::<T>::do_set_class(id as u8, class_def::<T>()).unwrap();
			Stats::<T>::insert(
				id as u8,
				ClassStats { demand: 1 << 60, capacity: 1 << 20, load: 1 << 40 },
			);
		}
		let now = frame_system::Pallet::<T>::block_number();

		#[block]
		{
			Market::<T>::on_initialize(now);
		}

		assert_eq!(ClassIds::<T>::get().len() as u32, c);
	}

	/// One missed task, reassigned over `o` offers (index step for the existing classes
	/// included).
	#[benchmark]
	fn on_initialize_task_missed(o: Linear<2, { T::MaxOffersPerClass::get() }>) {
		let class = setup::<T>();
		offers::<T>(class, o);
		let b = buyer::<T>("buyer");
		let kernel = T::BenchmarkHelper::make_kernel(&b);
		let job = training_job::<T>(&b, kernel, class, 1);
		let now = frame_system::Pallet::<T>::block_number();
		assert!(Market::<T>::allocate(job, now).unwrap());
		let task = Jobs::<T>::get(job).unwrap().tasks[0];
		let first = Tasks::<T>::get(task).unwrap().provider;
		let due = Tasks::<T>::get(task).unwrap().due;
		frame_system::Pallet::<T>::set_block_number(due);
		Queue::<T>::kill();

		#[block]
		{
			Market::<T>::on_initialize(due);
		}

		assert_ne!(Tasks::<T>::get(task).unwrap().provider, first);
	}

	/// One job of `t` tasks failing at its deadline.
	#[benchmark]
	fn on_initialize_job_failed(t: Linear<1, { T::MaxTasksPerJob::get() }>) {
		let (job, _) = running_job::<T>(t);
		let at = Jobs::<T>::get(job).unwrap().deadline;
		frame_system::Pallet::<T>::set_block_number(at);

		#[block]
		{
			Market::<T>::on_initialize(at);
		}

		assert!(!Jobs::<T>::contains_key(job));
	}

	/// Allocating one training job of group `t` over `o` offers.
	#[benchmark]
	fn on_initialize_allocate(
		o: Linear<{ T::MaxTasksPerJob::get() }, { T::MaxOffersPerClass::get() }>,
		t: Linear<1, { T::MaxTasksPerJob::get() }>,
	) {
		let class = setup::<T>();
		offers::<T>(class, o);
		let b = buyer::<T>("buyer");
		let kernel = T::BenchmarkHelper::make_kernel(&b);
		let job = training_job::<T>(&b, kernel, class, t);
		let now = frame_system::Pallet::<T>::block_number();
		fill_deadlines::<T>(now.saturating_add(params::<T>().accept_window));

		#[block]
		{
			Market::<T>::on_initialize(now);
		}

		assert_eq!(Jobs::<T>::get(job).unwrap().tasks.len() as u32, t);
	}

	/// The last of `t` tasks verified: the job completes and pays `t` providers and a full
	/// committee per task.
	#[benchmark]
	fn complete_job(t: Linear<1, { T::MaxTasksPerJob::get() }>) {
		let (job, first) = running_job::<T>(t);
		let credited: Vec<T::AccountId> =
			(0..T::MaxCommittee::get()).map(|i| provider::<T>(1_000 + i)).collect();
		for task in first..first + u64::from(t) {
			submit::<T>(task);
		}
		for task in first..first + u64::from(t) - 1 {
			<Market<T> as TaskOutcome<_>>::task_verified(task, Cid::of_raw_bytes(b"r"), &credited)
				.unwrap();
		}
		let last = first + u64::from(t) - 1;

		#[block]
		{
			<Market<T> as TaskOutcome<_>>::task_verified(last, Cid::of_raw_bytes(b"r"), &credited)
				.unwrap();
		}

		assert!(!Jobs::<T>::contains_key(job));
	}

	#[benchmark]
	fn set_endpoint() {
		let who = buyer::<T>("peer");
		let peer: BoundedVec<u8, MaxPeerIdLen> = vec![7u8; 64].try_into().unwrap();
		let addr: BoundedVec<u8, MaxAddrLen> = vec![4u8; 96].try_into().unwrap();
		let addrs: BoundedVec<_, MaxAddrs> = vec![addr; 4].try_into().unwrap();

		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()), peer, addrs);

		assert!(Endpoints::<T>::contains_key(&who));
	}

	#[benchmark]
	fn clear_endpoint() {
		let who = buyer::<T>("peer");
		let peer: BoundedVec<u8, MaxPeerIdLen> = vec![7u8; 64].try_into().unwrap();
		let addr: BoundedVec<u8, MaxAddrLen> = vec![4u8; 96].try_into().unwrap();
		let addrs: BoundedVec<_, MaxAddrs> = vec![addr; 4].try_into().unwrap();
		Market::<T>::do_set_endpoint(who.clone(), peer, addrs).unwrap();

		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()));

		assert!(!Endpoints::<T>::contains_key(&who));
	}

	impl_benchmark_test_suite!(Market, crate::mock::new_test_ext(), crate::mock::Test);
}
