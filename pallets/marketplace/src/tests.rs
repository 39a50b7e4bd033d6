use crate::{mock::*, pallet::*, types::*, Error, Event};
use polkadot_sdk::{
	frame_support::{assert_noop, assert_ok, traits::fungible::InspectHold, BoundedVec},
	sp_runtime::{DispatchError, Perbill},
};
use verity_primitives::{
	cid::Cid,
	kernel::{DeviceClass, KernelInspect},
	market::{TaskId, TaskOutcome, TrainedModel, TrainingRecords},
	staking::SlashReason,
};

/// 10^10 FLOPs per sample forward (100 samples = 1 WU), 3×10^10 per training step.
const FWD: u64 = 10_000_000_000;
const TRAIN: u64 = 30_000_000_000;

fn signed(who: AccountId) -> RuntimeOrigin {
	RuntimeOrigin::signed(who)
}

fn cid(content: &[u8]) -> CidInput {
	Cid::of_raw_bytes(content).to_text().into_bytes().try_into().unwrap()
}

fn inference(inputs: usize, committee: u32) -> JobKindInputOf<Test> {
	JobKindInput::Inference {
		inputs: (0..inputs).map(|i| cid(&[i as u8])).collect::<Vec<_>>().try_into().unwrap(),
		committee,
	}
}

fn training(epochs: u32, group_size: u32) -> JobKindInputOf<Test> {
	JobKindInput::Training {
		dataset: cid(b"digits"),
		hyperparams: b"{\"lr\":0.1}".to_vec().try_into().unwrap(),
		epochs,
		group_size,
	}
}

fn offer(who: AccountId, class: ClassId, capacity: u64, price: Balance) -> OfferId {
	Market::do_publish_offer(who, class, capacity, PriceSpec::Fixed(price), 1, 1_000_000).unwrap()
}

fn escrow(who: AccountId) -> Balance {
	Balances::balance_on_hold(&HoldReason::JobEscrow.into(), &who)
}

fn task(id: TaskId) -> TaskEntry<Test> {
	Tasks::<Test>::get(id).unwrap()
}

/// Accepts and submits task `id` as its provider.
fn accept_and_submit(id: TaskId) {
	let who = task(id).provider;
	assert_ok!(Market::accept_task(signed(who), id));
	assert_ok!(Market::submit_result(signed(who), id, cid(&id.to_le_bytes())));
}

// ---------------------------------------------------------------- classes and parameters

#[test]
fn set_resource_class_adds_and_changes_classes() {
	build_and_execute(|| {
		let tpu = class(b"tpu", 50, 5, 500);
		assert_noop!(
			Market::set_resource_class(signed(ALICE), 2, tpu.clone()),
			DispatchError::BadOrigin
		);
		assert_ok!(Market::set_resource_class(RuntimeOrigin::root(), 2, tpu.clone()));
		System::assert_last_event(Event::ResourceClassSet { class: 2, definition: tpu }.into());
		assert_eq!(PriceIndex::<Test>::get(2), 50);
		// Narrower bounds clamp the current index.
		assert_ok!(Market::set_resource_class(RuntimeOrigin::root(), 2, class(b"tpu", 80, 60, 90)));
		assert_eq!(PriceIndex::<Test>::get(2), 60);
		for bad in
			[class(b"", 1, 1, 1), class(b"x", 0, 0, 1), class(b"x", 5, 6, 9), class(b"x", 9, 1, 5)]
		{
			assert_noop!(
				Market::set_resource_class(RuntimeOrigin::root(), 3, bad),
				Error::<Test>::InvalidClass
			);
		}
		assert_ok!(Market::set_resource_class(RuntimeOrigin::root(), 3, class(b"x", 1, 1, 1)));
		assert_noop!(
			Market::set_resource_class(RuntimeOrigin::root(), 4, class(b"y", 1, 1, 1)),
			Error::<Test>::TooManyClasses
		);
	});
}

#[test]
fn set_params_needs_admin_and_valid_values() {
	build_and_execute(|| {
		let mut p = default_params();
		p.protocol_fee = Perbill::zero();
		assert_noop!(Market::set_params(signed(ALICE), p), DispatchError::BadOrigin);
		assert_ok!(Market::set_params(RuntimeOrigin::root(), p));
		System::assert_last_event(Event::ParamsSet { params: p }.into());
		for bad in [
			MarketParams { accept_window: 0, ..p },
			MarketParams { heartbeat_interval: 0, ..p },
			MarketParams { supply_horizon_secs: 0, ..p },
		] {
			assert_noop!(
				Market::set_params(RuntimeOrigin::root(), bad),
				Error::<Test>::InvalidParams
			);
		}
	});
}

// ---------------------------------------------------------------- offers

#[test]
fn publish_offer_works() {
	build_and_execute(|| {
		MockStake::set(CAROL, 1_000_000); // backs the whole capacity as supply (finding 6)
		assert_ok!(Market::publish_offer(signed(CAROL), CPU, 1_500, PriceSpec::Fixed(30), 1, 100));
		System::assert_last_event(
			Event::OfferPublished {
				offer: 0,
				provider: CAROL,
				class: CPU,
				capacity: 1_500,
				price: PriceSpec::Fixed(30),
			}
			.into(),
		);
		let o = Offers::<Test>::get(0).unwrap();
		assert_eq!((o.provider, o.status, o.load), (CAROL, OfferStatus::Active, 0));
		assert_eq!(Stats::<Test>::get(CPU).capacity, 1_500);
		assert_eq!(ProviderOffers::<Test>::get(CAROL, CPU), Some(0));
		// The same provider may offer in another class.
		assert_ok!(Market::publish_offer(signed(CAROL), GPU, 9, PriceSpec::FollowIndex, 1, 100));
	});
}

#[test]
fn publish_offer_rejects_bad_input() {
	build_and_execute(|| {
		let publish = |who, class, cap, price, min, max| {
			Market::publish_offer(signed(who), class, cap, price, min, max)
		};
		assert_noop!(
			publish(FERDIE, CPU, 1, PriceSpec::Fixed(1), 1, 1),
			DispatchError::Other("InsufficientStake")
		);
		assert_noop!(publish(CAROL, 9, 1, PriceSpec::Fixed(1), 1, 1), Error::<Test>::UnknownClass);
		assert_noop!(
			publish(CAROL, CPU, 0, PriceSpec::Fixed(1), 1, 1),
			Error::<Test>::InvalidOffer
		);
		assert_noop!(
			publish(CAROL, CPU, 1, PriceSpec::Fixed(1), 2, 1),
			Error::<Test>::InvalidOffer
		);
		assert_noop!(
			publish(CAROL, CPU, 1, PriceSpec::Fixed(1), 0, 0),
			Error::<Test>::InvalidOffer
		);
		assert_noop!(publish(CAROL, CPU, 1, PriceSpec::Fixed(0), 1, 1), Error::<Test>::ZeroPrice);
		assert_ok!(publish(CAROL, CPU, 1, PriceSpec::Fixed(1), 1, 1));
		assert_noop!(publish(CAROL, CPU, 1, PriceSpec::Fixed(1), 1, 1), Error::<Test>::OfferExists);
		for p in 10..17 {
			MockStake::set(p, 1_000);
			assert_ok!(publish(p, CPU, 1, PriceSpec::Fixed(1), 1, 1));
		}
		assert_noop!(
			publish(DAVE, CPU, 1, PriceSpec::Fixed(1), 1, 1),
			Error::<Test>::TooManyOffers
		);
	});
}

#[test]
fn update_pause_resume_and_withdraw_offer() {
	build_and_execute(|| {
		MockStake::set(CAROL, 1_000_000); // backs the whole capacity as supply (finding 6)
		let id = offer(CAROL, CPU, 1_000, 30);
		assert_noop!(
			Market::update_offer(signed(DAVE), id, 1, PriceSpec::Fixed(1), 1, 1),
			Error::<Test>::NotProvider
		);
		assert_noop!(
			Market::update_offer(signed(CAROL), 7, 1, PriceSpec::Fixed(1), 1, 1),
			Error::<Test>::UnknownOffer
		);
		assert_noop!(
			Market::update_offer(signed(CAROL), id, 0, PriceSpec::Fixed(1), 1, 1),
			Error::<Test>::InvalidOffer
		);
		assert_ok!(Market::update_offer(signed(CAROL), id, 2_000, PriceSpec::FollowIndex, 1, 50));
		System::assert_last_event(
			Event::OfferUpdated { offer: id, capacity: 2_000, price: PriceSpec::FollowIndex }
				.into(),
		);
		assert_eq!(Stats::<Test>::get(CPU).capacity, 2_000);

		assert_ok!(Market::set_offer_status(signed(CAROL), id, OfferStatus::Paused));
		System::assert_last_event(
			Event::OfferStatusChanged { offer: id, status: OfferStatus::Paused }.into(),
		);
		assert_eq!(Stats::<Test>::get(CPU).capacity, 0);
		assert_noop!(
			Market::set_offer_status(signed(CAROL), id, OfferStatus::Paused),
			Error::<Test>::SameStatus
		);
		assert_ok!(Market::set_offer_status(signed(CAROL), id, OfferStatus::Active));
		assert_eq!(Stats::<Test>::get(CPU).capacity, 2_000);

		assert_noop!(Market::withdraw_offer(signed(DAVE), id), Error::<Test>::NotProvider);
		assert_ok!(Market::withdraw_offer(signed(CAROL), id));
		System::assert_last_event(Event::OfferWithdrawn { offer: id }.into());
		assert!(Offers::<Test>::get(id).is_none());
		assert!(ClassOffers::<Test>::get(CPU).is_empty());
		assert_eq!(Stats::<Test>::get(CPU).capacity, 0);
		assert_noop!(Market::withdraw_offer(signed(CAROL), id), Error::<Test>::UnknownOffer);
	});
}

#[test]
fn busy_offer_cannot_shrink_or_withdraw() {
	build_and_execute(|| {
		let k = kernel(FWD, TRAIN);
		let id = offer(CAROL, CPU, 1_000, 30);
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, inference(1, 1), 100, 50, 100));
		run_to_block(2);
		assert_eq!(Offers::<Test>::get(id).unwrap().open_tasks, 1);
		assert_noop!(
			Market::update_offer(signed(CAROL), id, 999, PriceSpec::Fixed(30), 1, 1_000_000),
			Error::<Test>::OfferBusy
		);
		assert_noop!(Market::withdraw_offer(signed(CAROL), id), Error::<Test>::OfferBusy);
		assert_ok!(Market::update_offer(
			signed(CAROL),
			id,
			1_001,
			PriceSpec::Fixed(30),
			1,
			1_000_000
		));
	});
}

// ---------------------------------------------------------------- jobs

#[test]
fn post_job_holds_the_budget_and_queues() {
	build_and_execute(|| {
		let k = kernel(FWD, TRAIN);
		let free = Balances::free_balance(ALICE);
		// 1,000 samples × 10^10 FLOPs = 10 WU; 10 × 50 + 20 % margin = 600.
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, inference(2, 3), 1_000, 50, 100));
		System::assert_last_event(
			Event::JobPosted {
				job: 0,
				buyer: ALICE,
				kernel: k,
				class: CPU,
				work: 10,
				budget: 600,
				deadline: 100,
			}
			.into(),
		);
		assert_eq!(escrow(ALICE), 600);
		assert_eq!(Balances::free_balance(ALICE), free - 600);
		assert_eq!(Queue::<Test>::get().to_vec(), vec![0]);
		// Demand only once an offer could take it (finding 6): none yet.
		assert_eq!(Stats::<Test>::get(CPU).demand, 0);
		assert_eq!(pallet_aivm_registry::Kernels::<Test>::get(k).unwrap().jobs, 1);
		assert_eq!(Market::quote(10_000_000_000_000, 50), Some(600));

		// Training: 3×10^10 × 100 samples × 2 epochs = 6 WU.
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, training(2, 2), 100, 10, 100));
		assert_eq!(Jobs::<Test>::get(1).unwrap().flops, 6_000_000_000_000);
	});
}

#[test]
fn post_job_rejects_bad_input_and_changes_nothing() {
	build_and_execute(|| {
		let k = kernel(FWD, TRAIN);
		let inference_only = kernel(FWD + 1, 0);
		let post = |who, kernel, class, kind, samples, price, deadline| {
			Market::post_job(signed(who), kernel, class, kind, samples, price, deadline)
		};
		let bad_cid: CidInput = b"QmNotV1".to_vec().try_into().unwrap();
		assert_noop!(
			post(
				ALICE,
				k,
				CPU,
				JobKindInput::Inference {
					inputs: vec![bad_cid.clone()].try_into().unwrap(),
					committee: 1
				},
				1,
				1,
				100
			),
			Error::<Test>::InvalidCid
		);
		assert_noop!(
			post(
				ALICE,
				k,
				CPU,
				JobKindInput::Training {
					dataset: bad_cid,
					hyperparams: BoundedVec::new(),
					epochs: 1,
					group_size: 1
				},
				1,
				1,
				100
			),
			Error::<Test>::InvalidCid
		);
		let unknown = verity_primitives::kernel::KernelId::repeat_byte(7);
		assert_noop!(
			post(ALICE, unknown, CPU, inference(1, 1), 1, 1, 100),
			Error::<Test>::UnknownKernel
		);
		assert_noop!(post(ALICE, k, 9, inference(1, 1), 1, 1, 100), Error::<Test>::UnknownClass);
		assert_noop!(post(ALICE, k, CPU, inference(1, 1), 0, 1, 100), Error::<Test>::ZeroJob);
		assert_noop!(post(ALICE, k, CPU, inference(0, 1), 1, 1, 100), Error::<Test>::ZeroJob);
		assert_noop!(post(ALICE, k, CPU, inference(1, 0), 1, 1, 100), Error::<Test>::ZeroJob);
		assert_noop!(post(ALICE, k, CPU, training(0, 1), 1, 1, 100), Error::<Test>::ZeroJob);
		assert_noop!(post(ALICE, k, CPU, training(1, 0), 1, 1, 100), Error::<Test>::ZeroJob);
		assert_noop!(post(ALICE, k, CPU, training(1, 3), 2, 1, 100), Error::<Test>::ZeroJob);
		assert_noop!(post(ALICE, k, CPU, training(1, 5), 10, 1, 100), Error::<Test>::JobTooLarge);
		assert_noop!(post(ALICE, k, CPU, inference(1, 6), 1, 1, 100), Error::<Test>::JobTooLarge);
		// MaxJobWork is 10^6 WU = 10^8 samples of this kernel.
		assert_noop!(
			post(ALICE, k, CPU, inference(1, 1), 100_000_001, 1, 100),
			Error::<Test>::JobTooLarge
		);
		assert_noop!(
			post(ALICE, inference_only, CPU, training(1, 1), 1, 1, 100),
			Error::<Test>::NotTrainable
		);
		assert_noop!(post(ALICE, k, CPU, inference(1, 1), 1, 0, 100), Error::<Test>::ZeroMaxPrice);
		// Deadlines: after the accept window (3 blocks), within MaxJobDuration (1,000).
		assert_noop!(post(ALICE, k, CPU, inference(1, 1), 1, 1, 4), Error::<Test>::InvalidDeadline);
		assert_noop!(
			post(ALICE, k, CPU, inference(1, 1), 1, 1, 1_002),
			Error::<Test>::InvalidDeadline
		);
		// Budget above the free balance: 10^8 samples = 10^6 WU at 10^4 per WU.
		assert_noop!(
			post(ALICE, k, CPU, inference(1, 1), 100_000_000, 10_000, 100),
			Error::<Test>::InsufficientBalance
		);
		assert_ok!(pallet_aivm_registry::Pallet::<Test>::do_deprecate(k, None));
		assert_noop!(
			post(ALICE, k, CPU, inference(1, 1), 1, 1, 100),
			Error::<Test>::KernelDeprecated
		);
		assert!(Jobs::<Test>::iter().next().is_none());
		assert_eq!(escrow(ALICE), 0);
	});
}

#[test]
fn post_job_fails_when_the_queue_is_full() {
	build_and_execute(|| {
		let k = kernel(FWD, TRAIN);
		for who in [ALICE, ALICE, BOB, BOB] {
			assert_ok!(Market::post_job(signed(who), k, CPU, inference(1, 1), 1, 1, 100));
		}
		assert_noop!(
			Market::post_job(signed(FERDIE), k, CPU, inference(1, 1), 1, 1, 100),
			Error::<Test>::QueueFull
		);
	});
}

#[test]
fn cancel_job_refunds_in_full_until_allocated() {
	build_and_execute(|| {
		let k = kernel(FWD, TRAIN);
		let free = Balances::free_balance(ALICE);
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, inference(1, 1), 1_000, 50, 100));
		assert_noop!(Market::cancel_job(signed(BOB), 0), Error::<Test>::NotBuyer);
		assert_noop!(Market::cancel_job(signed(ALICE), 5), Error::<Test>::UnknownJob);
		assert_ok!(Market::cancel_job(signed(ALICE), 0));
		System::assert_last_event(Event::JobCancelled { job: 0, refund: 600 }.into());
		assert_eq!(Balances::free_balance(ALICE), free);
		assert!(Queue::<Test>::get().is_empty());
		assert_eq!(Stats::<Test>::get(CPU).demand, 0);
		assert_eq!(pallet_aivm_registry::Kernels::<Test>::get(k).unwrap().jobs, 0);

		offer(CAROL, CPU, 1_000, 30);
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, inference(1, 1), 1_000, 50, 100));
		run_to_block(2);
		assert_noop!(Market::cancel_job(signed(ALICE), 1), Error::<Test>::JobRunning);
	});
}

// ---------------------------------------------------------------- allocation

#[test]
fn job_goes_to_the_cheaper_offer_first() {
	build_and_execute(|| {
		let k = kernel(FWD, TRAIN);
		let _carol = offer(CAROL, CPU, 1_000, 30);
		let dave = offer(DAVE, CPU, 1_000, 20);
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, inference(1, 1), 1_000, 50, 100));
		run_to_block(2);
		let t = task(0);
		assert_eq!((t.provider, t.offer, t.samples, t.price), (DAVE, dave, 1_000, 20));
		assert_eq!((t.state, t.due), (TaskState::Assigned, 2 + 3));
		System::assert_has_event(
			Event::TaskAssigned {
				task: 0,
				job: 0,
				provider: DAVE,
				offer: dave,
				first_sample: 0,
				samples: 1_000,
				price: 20,
				accept_by: 5,
			}
			.into(),
		);
		assert_eq!(Jobs::<Test>::get(0).unwrap().status, JobStatus::Running);
		assert_eq!(Offers::<Test>::get(dave).unwrap().load, 10_000_000_000_000);
		assert!(Tasks::<Test>::get(1).is_none());
	});
}

#[test]
fn work_beyond_the_cheapest_capacity_spills_to_the_next_offer() {
	build_and_execute(|| {
		let k = kernel(FWD, TRAIN);
		// Deadline at block 11 from block 2: 9 blocks × 6 s = 54 s. DAVE at 0.1 WU/s does 5.4 WU
		// = 540 samples; the rest (460) goes to CAROL.
		let carol = offer(CAROL, CPU, 1_000, 30);
		let dave = offer(DAVE, CPU, 100, 20);
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, inference(1, 1), 1_000, 50, 11));
		run_to_block(2);
		assert_eq!((task(0).offer, task(0).samples, task(0).first_sample), (dave, 540, 0));
		assert_eq!((task(1).offer, task(1).samples, task(1).first_sample), (carol, 460, 540));
	});
}

#[test]
fn training_goes_to_distinct_cheapest_providers_with_larger_shards_first() {
	build_and_execute(|| {
		let k = kernel(FWD, TRAIN);
		let carol = offer(CAROL, CPU, 1_000, 30);
		let dave = offer(DAVE, CPU, 1_000, 20);
		let _eve = offer(EVE, CPU, 1_000, 40);
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, training(1, 2), 101, 50, 100));
		run_to_block(2);
		assert_eq!((task(0).provider, task(0).offer, task(0).samples), (DAVE, dave, 51));
		assert_eq!((task(1).provider, task(1).offer, task(1).samples), (CAROL, carol, 50));
		assert_eq!(task(0).flops, 51 * 30_000_000_000);
	});
}

#[test]
fn price_ties_are_broken_by_chain_randomness() {
	let winner = |seed| {
		let mut w = 0;
		new_test_ext().execute_with(|| {
			MockRandomness::set_seed(seed);
			let k = kernel(FWD, TRAIN);
			offer(CAROL, CPU, 1_000, 30);
			offer(DAVE, CPU, 1_000, 30);
			assert_ok!(Market::post_job(signed(ALICE), k, CPU, inference(1, 1), 100, 50, 100));
			run_to_block(2);
			w = task(0).provider;
		});
		w
	};
	let winners: Vec<AccountId> = (0..16).map(winner).collect();
	assert!(winners.contains(&CAROL) && winners.contains(&DAVE), "{winners:?}");
	assert_eq!(winner(3), winner(3));
}

#[test]
fn paused_unstaked_and_overloaded_offers_get_no_new_work() {
	build_and_execute(|| {
		let k = kernel(FWD, TRAIN);
		let mut p = default_params();
		p.load_tolerance_secs = 5;
		assert_ok!(Market::set_params(RuntimeOrigin::root(), p));
		let carol = offer(CAROL, CPU, 1_000, 10);
		let dave = offer(DAVE, CPU, 1_000, 20);
		let eve = offer(EVE, CPU, 1_000, 30);
		// 20 WU to CAROL: 20 s of queued work at 1 WU/s; the average is 6.7 s, τ = 5 s.
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, inference(1, 1), 2_000, 50, 100));
		run_to_block(2);
		assert_eq!(task(0).offer, carol);
		assert_ok!(Market::accept_task(signed(CAROL), 0));
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, inference(1, 1), 100, 50, 100));
		run_to_block(3);
		assert_eq!(task(1).offer, dave, "overloaded CAROL skipped");
		assert_ok!(Market::accept_task(signed(DAVE), 1));
		// DAVE paused, CAROL still overloaded: EVE.
		assert_ok!(Market::set_offer_status(signed(DAVE), dave, OfferStatus::Paused));
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, inference(1, 1), 100, 50, 100));
		run_to_block(4);
		assert_eq!(task(2).offer, eve);
		assert_ok!(Market::accept_task(signed(EVE), 2));
		// EVE loses its provider stake: nobody left, the job waits in the queue.
		MockStake::set(EVE, 0);
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, inference(1, 1), 100, 50, 100));
		run_to_block(5);
		assert_eq!(Jobs::<Test>::get(3).unwrap().status, JobStatus::Queued);
		assert!(Tasks::<Test>::get(3).is_none());
	});
}

#[test]
fn a_job_that_cannot_be_placed_waits_then_fails_with_a_full_refund() {
	build_and_execute(|| {
		let k = kernel(FWD, TRAIN);
		let free = Balances::free_balance(ALICE);
		// An offer too dear for the job.
		offer(CAROL, CPU, 1_000, 80);
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, inference(1, 1), 1_000, 50, 20));
		run_to_block(10);
		assert_eq!(Queue::<Test>::get().to_vec(), vec![0]);
		// A cheap offer appears: placed at the next block.
		offer(DAVE, CPU, 1_000, 40);
		run_to_block(11);
		assert_eq!(task(0).provider, DAVE);
		assert_ok!(Market::accept_task(signed(DAVE), 0));
		// Never submitted and heartbeats keep it alive, but the deadline passes unverified.
		for b in [13, 16, 19] {
			run_to_block(b);
			assert_ok!(Market::heartbeat(signed(DAVE), 0));
		}
		run_to_block(20);
		System::assert_has_event(
			Event::JobFailed { job: 0, refund: 600, reason: FailReason::DeadlinePassed }.into(),
		);
		assert_eq!(Balances::free_balance(ALICE), free);
		assert!(Jobs::<Test>::get(0).is_none() && Tasks::<Test>::get(0).is_none());
		assert_eq!(Offers::<Test>::get(1).unwrap().load, 0);
	});
}

// ---------------------------------------------------------------- liveness

#[test]
fn accept_heartbeat_and_submit_follow_the_task_state() {
	build_and_execute(|| {
		let k = kernel(FWD, TRAIN);
		offer(CAROL, CPU, 1_000, 30);
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, inference(1, 3), 100, 50, 100));
		run_to_block(2);
		assert_noop!(Market::accept_task(signed(DAVE), 0), Error::<Test>::NotAssigned);
		assert_noop!(Market::accept_task(signed(CAROL), 9), Error::<Test>::UnknownTask);
		assert_noop!(Market::heartbeat(signed(CAROL), 0), Error::<Test>::WrongTaskState);
		assert_noop!(
			Market::submit_result(signed(CAROL), 0, cid(b"out")),
			Error::<Test>::WrongTaskState
		);
		assert_ok!(Market::accept_task(signed(CAROL), 0));
		System::assert_last_event(Event::TaskAccepted { task: 0, due: 7 }.into());
		assert_noop!(Market::accept_task(signed(CAROL), 0), Error::<Test>::WrongTaskState);
		run_to_block(6);
		assert_ok!(Market::heartbeat(signed(CAROL), 0));
		System::assert_last_event(Event::Heartbeat { task: 0, due: 11 }.into());
		// Past the old due block nothing happens: the heartbeat moved it.
		run_to_block(8);
		assert_eq!(task(0).state, TaskState::Accepted);

		assert_noop!(
			Market::submit_result(signed(CAROL), 0, b"Qm".to_vec().try_into().unwrap()),
			Error::<Test>::InvalidCid
		);
		MockVerifier::refuse(true);
		assert_noop!(
			Market::submit_result(signed(CAROL), 0, cid(b"out")),
			DispatchError::Other("verifier refused")
		);
		MockVerifier::refuse(false);
		assert_ok!(Market::submit_result(signed(CAROL), 0, cid(b"out")));
		System::assert_last_event(
			Event::ResultSubmitted { task: 0, provider: CAROL, result: Cid::of_raw_bytes(b"out") }
				.into(),
		);
		let (id, info, result) = MockVerifier::submitted().pop().unwrap();
		assert_eq!((id, info.job, info.kernel, info.provider), (0, 0, k, CAROL));
		assert_eq!((info.work, info.committee, info.training), (1, 3, false));
		assert_eq!(result, Cid::of_raw_bytes(b"out"));
		assert_eq!(Offers::<Test>::get(0).unwrap().load, 0, "submitted work frees capacity");
		// Nothing further due from the provider.
		run_to_block(20);
		assert_eq!(task(0).state, TaskState::Submitted);
	});
}

#[test]
fn missed_deadline_moves_the_task_penalises_and_the_job_still_completes() {
	build_and_execute(|| {
		let k = kernel(FWD, TRAIN);
		let dave = offer(DAVE, CPU, 1_000, 20);
		let carol = offer(CAROL, CPU, 1_000, 30);
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, inference(1, 1), 1_000, 50, 100));
		run_to_block(2);
		assert_eq!(task(0).provider, DAVE);
		// DAVE accepts, then goes silent: its heartbeat was due at block 7.
		assert_ok!(Market::accept_task(signed(DAVE), 0));
		run_to_block(7);
		System::assert_has_event(
			Event::DeadlineMissed { task: 0, provider: DAVE, penalty: 50 }.into(),
		);
		assert_eq!(MockStake::slashes(), vec![(DAVE, 50, SlashReason::MissedDeadline)]);
		let t = task(0);
		assert_eq!((t.provider, t.offer, t.price, t.reassignments), (CAROL, carol, 30, 1));
		assert_eq!(t.state, TaskState::Assigned);
		assert_eq!(Offers::<Test>::get(dave).unwrap().load, 0);
		assert_eq!(Jobs::<Test>::get(0).unwrap().excluded.to_vec(), vec![DAVE]);

		accept_and_submit(0);
		let (free_alice, free_carol, free_treasury) = (
			Balances::free_balance(ALICE),
			Balances::free_balance(CAROL),
			Balances::free_balance(99),
		);
		assert_ok!(<Market as TaskOutcome<_>>::task_verified(
			0,
			Cid::of_raw_bytes(b"r"),
			&[EVE, BOB]
		));
		// 10 WU at 30 = 300: CAROL 270, fee 30, verifiers 20 % of 300 = 60 (30 each); refund
		// 600 − 360 = 240.
		System::assert_last_event(
			Event::JobCompleted { job: 0, paid: 270, fee: 30, verifiers: 60, refund: 240 }.into(),
		);
		assert_eq!(Balances::free_balance(CAROL), free_carol + 270);
		assert_eq!(Balances::free_balance(99), free_treasury + 30);
		assert_eq!(Balances::free_balance(ALICE), free_alice + 240);
		assert_eq!(escrow(ALICE), 0);
		assert!(Jobs::<Test>::get(0).is_none());
		assert_eq!(pallet_aivm_registry::Kernels::<Test>::get(k).unwrap().jobs, 0);
	});
}

#[test]
fn an_unaccepted_task_is_reassigned_after_the_accept_window() {
	build_and_execute(|| {
		let k = kernel(FWD, TRAIN);
		offer(DAVE, CPU, 1_000, 20);
		offer(CAROL, CPU, 1_000, 30);
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, inference(1, 1), 100, 50, 100));
		run_to_block(5);
		assert_eq!(task(0).provider, CAROL);
		assert_noop!(Market::accept_task(signed(DAVE), 0), Error::<Test>::NotAssigned);
	});
}

/// A training task whose provider misses its deadline goes to another provider, and
/// verification hears of it with the job's group (it lets the newcomer start at the job's next
/// epoch); an inference task's reassignment is not reported.
#[test]
fn a_reassigned_training_task_is_reported_to_verification() {
	build_and_execute(|| {
		let k = kernel(FWD, TRAIN);
		offer(CAROL, CPU, 1_000, 30);
		offer(DAVE, CPU, 1_000, 20);
		offer(EVE, CPU, 1_000, 40);
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, training(2, 2), 100, 50, 100));
		run_to_block(2);
		assert_eq!((task(0).provider, task(1).provider), (DAVE, CAROL));
		assert_ok!(Market::accept_task(signed(DAVE), 0));
		// Carol never accepts: the task moves to Eve.
		run_to_block(5);
		assert_eq!(task(1).provider, EVE);
		assert_eq!(MockVerifier::reassigned(), vec![(1, EVE, vec![0, 1])]);
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, inference(1, 1), 100, 50, 100));
		run_to_block(10);
		assert!(task(2).reassignments >= 1, "the inference task moved on too");
		assert_eq!(MockVerifier::reassigned().len(), 1, "inference reassignments are not reported");
	});
}

#[test]
fn a_job_fails_when_nobody_is_left_to_take_a_task() {
	build_and_execute(|| {
		let k = kernel(FWD, TRAIN);
		let free = Balances::free_balance(ALICE);
		offer(DAVE, CPU, 1_000, 20);
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, inference(1, 1), 100, 50, 100));
		run_to_block(5);
		System::assert_last_event(
			Event::JobFailed { job: 0, refund: 60, reason: FailReason::NoProvider }.into(),
		);
		assert_eq!(Balances::free_balance(ALICE), free);
		assert_eq!(Offers::<Test>::get(0).unwrap().open_tasks, 0);
	});
}

#[test]
fn reassignments_are_bounded() {
	build_and_execute(|| {
		let k = kernel(FWD, TRAIN);
		for (who, price) in [(CAROL, 10), (DAVE, 20), (EVE, 30)] {
			offer(who, CPU, 1_000, price);
		}
		MockStake::set(10, 1_000);
		offer(10, CPU, 1_000, 40);
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, inference(1, 1), 100, 50, 100));
		// max_reassignments = 2: CAROL, DAVE, EVE each miss; the third miss fails the job.
		run_to_block(2 + 3 * 3);
		assert_eq!(MockStake::slashes().len(), 3);
		System::assert_last_event(
			Event::JobFailed { job: 0, refund: 60, reason: FailReason::NoProvider }.into(),
		);
	});
}

// ---------------------------------------------------------------- completion

#[test]
fn rejected_results_are_reassigned_to_someone_else() {
	build_and_execute(|| {
		let k = kernel(FWD, TRAIN);
		offer(DAVE, CPU, 1_000, 20);
		offer(CAROL, CPU, 1_000, 30);
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, inference(1, 1), 100, 50, 100));
		run_to_block(2);
		assert_noop!(<Market as TaskOutcome<_>>::task_rejected(0), Error::<Test>::WrongTaskState);
		accept_and_submit(0);
		assert_ok!(<Market as TaskOutcome<_>>::task_rejected(0));
		System::assert_has_event(Event::TaskRejected { task: 0, provider: DAVE }.into());
		assert_eq!((task(0).provider, task(0).state), (CAROL, TaskState::Assigned));
		assert!(MockStake::slashes().is_empty(), "verification slashes, not the market");
		assert_noop!(
			<Market as TaskOutcome<_>>::task_verified(0, Cid::of_raw_bytes(b"r"), &[]),
			Error::<Test>::WrongTaskState
		);
		assert_noop!(
			<Market as TaskOutcome<_>>::task_verified(7, Cid::of_raw_bytes(b"r"), &[]),
			Error::<Test>::UnknownTask
		);
	});
}

/// Security review finding 15: a provider with the minimum stake could take a task of any value,
/// risking a share of its stake whatever the task paid. Each task now keeps `collateral_percent`
/// (200 %) of its value bonded; an offer gets no more work than its provider's free stake covers,
/// and the collateral follows the task (released when verified, moved with a rejected task).
#[test]
fn finding_15_work_goes_only_where_free_stake_covers_its_collateral() {
	build_and_execute(|| {
		let k = kernel(FWD, TRAIN);
		let carol = offer(CAROL, CPU, 1_000, 30);
		let dave = offer(DAVE, CPU, 1_000, 20);
		offer(EVE, CPU, 1_000, 40);
		MockStake::set(DAVE, 300);
		// 1,000 samples = 10 WU: at DAVE's 20 a value of 200, 400 of collateral; his 300 of
		// stake covers 750 samples (7.5 WU × 20 × 200 %). Before the fix: all 1,000 to DAVE.
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, inference(1, 1), 1_000, 50, 100));
		run_to_block(2);
		assert_eq!((task(0).offer, task(0).samples, task(0).collateral), (dave, 750, 300));
		assert_eq!((task(1).offer, task(1).samples, task(1).collateral), (carol, 250, 150));
		assert_eq!(<Market as TaskOutcome<_>>::task(0).unwrap().collateral, 300);
		assert_eq!((Collateral::<Test>::get(DAVE), Market::free_collateral(&DAVE)), (300, 0));
		// DAVE's stake is all collateral: the next job goes to CAROL although DAVE is cheaper.
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, inference(1, 1), 100, 50, 100));
		run_to_block(3);
		assert_eq!((task(2).provider, task(2).collateral), (CAROL, 60));
		assert_eq!(Collateral::<Test>::get(CAROL), 150 + 60);
		// A rejected task moves on with its collateral: off CAROL, onto EVE (2.5 WU × 40 × 2).
		accept_and_submit(1);
		assert_ok!(<Market as TaskOutcome<_>>::task_rejected(1));
		assert_eq!((task(1).provider, task(1).collateral), (EVE, 200));
		assert_eq!((Collateral::<Test>::get(CAROL), Collateral::<Test>::get(EVE)), (60, 200));
		// Verified work gives its collateral back; an ended job gives back what is left.
		accept_and_submit(0);
		assert_ok!(<Market as TaskOutcome<_>>::task_verified(0, Cid::of_raw_bytes(b"r"), &[]));
		assert!(!Collateral::<Test>::contains_key(DAVE));
		assert_eq!(Market::free_collateral(&DAVE), 300);
		accept_and_submit(1);
		assert_ok!(<Market as TaskOutcome<_>>::task_verified(1, Cid::of_raw_bytes(b"s"), &[]));
		assert!(Jobs::<Test>::get(0).is_none() && !Collateral::<Test>::contains_key(EVE));
		assert_ok!(Market::do_try_state());
	});
}

#[test]
fn a_job_completes_only_when_every_task_is_verified() {
	build_and_execute(|| {
		let k = kernel(FWD, TRAIN);
		offer(CAROL, CPU, 1_000, 30);
		offer(DAVE, CPU, 1_000, 20);
		let (carol0, dave0) = (Balances::free_balance(CAROL), Balances::free_balance(DAVE));
		// Training, group of 2, 200 samples × 3×10^10 = 6 WU; budget 6 × 50 × 1.2 = 360.
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, training(1, 2), 200, 50, 100));
		run_to_block(2);
		accept_and_submit(0);
		accept_and_submit(1);
		assert!(<Market as TaskOutcome<_>>::task(0).unwrap().training);
		assert_ok!(<Market as TaskOutcome<_>>::task_verified(0, Cid::of_raw_bytes(b"a"), &[]));
		assert!(Jobs::<Test>::get(0).is_some());
		assert_ok!(<Market as TaskOutcome<_>>::task_verified(1, Cid::of_raw_bytes(b"a"), &[]));
		// 3 WU each: DAVE 60 − 6 fee, CAROL 90 − 9; no verifiers credited: margin refunded.
		System::assert_has_event(
			Event::JobCompleted { job: 0, paid: 54 + 81, fee: 15, verifiers: 0, refund: 210 }
				.into(),
		);
		assert_eq!(Balances::free_balance(DAVE), dave0 + 54);
		assert_eq!(Balances::free_balance(CAROL), carol0 + 81);
		// The model is kept after the job, for the registry's lineage.
		let checkpoint = Cid::of_raw_bytes(b"a");
		System::assert_last_event(Event::ModelTrained { job: 0, kernel: k, checkpoint }.into());
		assert_eq!(
			<Market as TrainingRecords<_>>::trained(0),
			Some(TrainedModel { kernel: k, buyer: ALICE, checkpoint, epochs: 1, version: None })
		);
	});
}

#[test]
fn a_training_job_keeps_the_checkpoint_most_members_were_verified_with() {
	build_and_execute(|| {
		let k = kernel(FWD, TRAIN);
		offer(CAROL, CPU, 1_000, 30);
		offer(DAVE, CPU, 1_000, 20);
		offer(EVE, CPU, 1_000, 25);
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, training(4, 3), 300, 50, 100));
		run_to_block(2);
		for t in 0..3 {
			accept_and_submit(t);
		}
		let (a, b) = (Cid::of_raw_bytes(b"a"), Cid::of_raw_bytes(b"b"));
		assert_ok!(<Market as TaskOutcome<_>>::task_verified(0, a, &[]));
		assert_ok!(<Market as TaskOutcome<_>>::task_verified(1, b, &[]));
		assert_eq!(<Market as TrainingRecords<_>>::trained(0), None, "not before it completes");
		assert_ok!(<Market as TaskOutcome<_>>::task_verified(2, b, &[]));
		let model = <Market as TrainingRecords<_>>::trained(0).unwrap();
		assert_eq!((model.checkpoint, model.epochs, model.version), (b, 4, None));
		// The registry links a version to it, and unlinks it when that version is removed.
		<Market as TrainingRecords<_>>::set_version(
			0,
			Some(polkadot_sdk::sp_core::H256::repeat_byte(9)),
		);
		assert_eq!(
			TrainedModels::<Test>::get(0).unwrap().version,
			Some(polkadot_sdk::sp_core::H256::repeat_byte(9))
		);
		<Market as TrainingRecords<_>>::set_version(0, None);
		assert_eq!(TrainedModels::<Test>::get(0).unwrap().version, None);
		// Inference jobs keep nothing.
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, inference(1, 1), 100, 50, 100));
		run_to_block(3);
		accept_and_submit(3);
		assert_ok!(<Market as TaskOutcome<_>>::task_verified(3, a, &[]));
		assert!(Jobs::<Test>::get(1).is_none());
		assert_eq!(TrainedModels::<Test>::iter().count(), 1);
	});
}

// ---------------------------------------------------------------- price index

#[test]
fn index_follows_demand_over_supply_within_its_clamps() {
	build_and_execute(|| {
		let k = kernel(FWD, TRAIN);
		// CPU: P_base 10, clamp [1, 1,000]; smoothing 50 %; horizon 60 s.
		let class = ResourceClasses::<Test>::get(CPU).unwrap();
		// Enough stake to back Carol's whole capacity as supply (finding 6).
		MockStake::set(CAROL, 1_000_000);
		let expect = |old: u128, stats: ClassStats| {
			let target = Market::index_target(&class, &stats, 60);
			if target >= old {
				old + (target - old).div_ceil(2)
			} else {
				old - (old - target).div_ceil(2)
			}
		};
		// No demand: the index falls towards the floor.
		run_to_block(2);
		assert_eq!(PriceIndex::<Test>::get(CPU), 10 - 5);

		// Supply: 1 WU/s × 60 s = 60 WU. Demand rises to 120 WU: target 10 × 120 / 60 = 20. The
		// job (3×10^10 × 4,000 samples) is for a group of two: Carol could take it at its
		// price, so it is demand, but it waits for a second member.
		let carol = offer(CAROL, CPU, 1_000, 1_000);
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, training(1, 2), 4_000, 1_000, 100));
		run_to_block(3); // the hook's allocation attempt counts it
		assert!(Jobs::<Test>::get(0).unwrap().in_demand);
		let before = PriceIndex::<Test>::get(CPU);
		let stats = Stats::<Test>::get(CPU);
		assert_eq!(Market::index_target(&class, &stats, 60), 20);
		run_to_block(4);
		assert_eq!(PriceIndex::<Test>::get(CPU), expect(before, stats));
		assert!(PriceIndex::<Test>::get(CPU) > before);

		// Supply falls to a quarter: target 10 × 120 / 15 = 80; the index keeps rising.
		assert_ok!(Market::update_offer(
			signed(CAROL),
			carol,
			250,
			PriceSpec::Fixed(1_000),
			1,
			1_000_000
		));
		let before = PriceIndex::<Test>::get(CPU);
		let stats = Stats::<Test>::get(CPU);
		assert_eq!(Market::index_target(&class, &stats, 60), 80);
		run_to_block(5);
		assert_eq!(PriceIndex::<Test>::get(CPU), expect(before, stats));
		for _ in 0..20 {
			run_to_block(System::block_number() + 1);
		}
		assert_eq!(PriceIndex::<Test>::get(CPU), 80, "converges to the target");

		// No supply at all: the ceiling.
		assert_ok!(Market::set_offer_status(signed(CAROL), carol, OfferStatus::Paused));
		for _ in 0..30 {
			run_to_block(System::block_number() + 1);
		}
		assert_eq!(PriceIndex::<Test>::get(CPU), 1_000);
		assert_eq!(Market::price_index(CPU), 1_000);

		// Demand gone: the floor.
		assert_ok!(Market::cancel_job(signed(ALICE), 0));
		for _ in 0..30 {
			run_to_block(System::block_number() + 1);
		}
		assert_eq!(PriceIndex::<Test>::get(CPU), 1);
	});
}

#[test]
fn offers_following_the_index_are_priced_at_assignment() {
	build_and_execute(|| {
		let k = kernel(FWD, TRAIN);
		assert_ok!(Market::publish_offer(
			signed(CAROL),
			GPU,
			1_000,
			PriceSpec::FollowIndex,
			1,
			1_000
		));
		assert_ok!(Market::post_job(signed(ALICE), k, GPU, inference(1, 1), 100, 1_000, 100));
		run_to_block(2);
		// The index moved in block 2's hook before allocation.
		assert_eq!(task(0).price, PriceIndex::<Test>::get(GPU));
	});
}

#[test]
fn kernel_references_follow_jobs() {
	build_and_execute(|| {
		let k = kernel(FWD, TRAIN);
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, inference(1, 1), 100, 50, 100));
		assert_noop!(
			pallet_aivm_registry::Pallet::<Test>::remove_kernel(signed(BOB), k),
			pallet_aivm_registry::Error::<Test>::NotDeprecated
		);
		assert_ok!(pallet_aivm_registry::Pallet::<Test>::deprecate_kernel(signed(BOB), k));
		assert_noop!(
			pallet_aivm_registry::Pallet::<Test>::remove_kernel(signed(BOB), k),
			pallet_aivm_registry::Error::<Test>::InUse
		);
		assert!(!<Registry as KernelInspect<_>>::kernel(&k).unwrap().usable);
		assert_ok!(Market::cancel_job(signed(ALICE), 0));
		assert_ok!(pallet_aivm_registry::Pallet::<Test>::remove_kernel(signed(BOB), k));
	});
}

#[test]
fn a_burst_of_deadlines_spreads_over_blocks_within_the_budget() {
	build_and_execute(|| {
		let k = kernel(FWD, TRAIN);
		offer(CAROL, CPU, 1_000, 10);
		offer(DAVE, CPU, 1_000, 20);
		// Two jobs allocated in one block, both to CAROL: both tasks due at block 5.
		for _ in 0..2 {
			assert_ok!(Market::post_job(signed(ALICE), k, CPU, inference(1, 1), 1, 50, 100));
		}
		run_to_block(2);
		assert_eq!((task(0).provider, task(1).provider), (CAROL, CAROL));
		assert_eq!((task(0).due, task(1).due), (5, 5));
		// A budget below one deadline's weight: one per block (at least one always runs).
		DeadlineBudget::set(polkadot_sdk::frame_support::weights::Weight::from_parts(1, 1));
		run_to_block(5);
		assert_eq!(MockStake::slashes().len(), 1, "one handled, the other moved on");
		assert_eq!(task(0).provider, DAVE);
		assert_eq!((task(1).provider, task(1).state), (CAROL, TaskState::Assigned));
		assert_eq!(Deadlines::<Test>::get(6).to_vec(), vec![Deadline::Task(1)]);
		run_to_block(6);
		assert_eq!(MockStake::slashes(), vec![(CAROL, 50, SlashReason::MissedDeadline); 2]);
		assert_eq!(task(1).provider, DAVE);
	});
}

#[test]
fn a_task_verification_cannot_decide_fails_its_job_with_a_full_refund() {
	build_and_execute(|| {
		let k = kernel(FWD, TRAIN);
		offer(CAROL, CPU, 1_000, 20);
		let free = Balances::free_balance(ALICE);
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, inference(1, 1), 100, 50, 100));
		run_to_block(2);
		assert_noop!(<Market as TaskOutcome<_>>::task_failed(0), Error::<Test>::WrongTaskState);
		accept_and_submit(0);
		assert_ok!(<Market as TaskOutcome<_>>::task_failed(0));
		System::assert_last_event(
			Event::JobFailed { job: 0, refund: 60, reason: FailReason::NotVerified }.into(),
		);
		assert_eq!(Balances::free_balance(ALICE), free);
		assert!(Jobs::<Test>::get(0).is_none());
		assert_noop!(<Market as TaskOutcome<_>>::task_failed(0), Error::<Test>::UnknownTask);
	});
}

fn endpoint(
	peer: &[u8],
	addrs: &[&[u8]],
) -> (BoundedVec<u8, MaxPeerIdLen>, BoundedVec<BoundedVec<u8, MaxAddrLen>, MaxAddrs>) {
	(
		peer.to_vec().try_into().unwrap(),
		addrs
			.iter()
			.map(|a| a.to_vec().try_into().unwrap())
			.collect::<Vec<_>>()
			.try_into()
			.unwrap(),
	)
}

#[test]
fn an_endpoint_holds_its_deposit_once_and_releases_it_when_cleared() {
	build_and_execute(|| {
		let held = || Balances::balance_on_hold(&HoldReason::Endpoint.into(), &ALICE);
		let (peer, addrs) = endpoint(b"peer-a", &[b"/ip4/1", b"/ip4/2"]);
		assert_ok!(Market::set_endpoint(signed(ALICE), peer.clone(), addrs.clone()));
		System::assert_last_event(Event::EndpointSet { who: ALICE, peer: peer.clone() }.into());
		assert_eq!(held(), 50);
		let stored = Endpoints::<Test>::get(ALICE).unwrap();
		assert_eq!((stored.peer, stored.addrs, stored.deposit), (peer, addrs, 50));
		// Replacing it keeps the one deposit.
		let (peer, addrs) = endpoint(b"peer-b", &[b"/ip4/3"]);
		assert_ok!(Market::set_endpoint(signed(ALICE), peer.clone(), addrs.clone()));
		assert_eq!(held(), 50);
		assert_eq!(Endpoints::<Test>::get(ALICE).unwrap().peer, peer);
		assert_ok!(Market::clear_endpoint(signed(ALICE)));
		System::assert_last_event(Event::EndpointCleared { who: ALICE }.into());
		assert_eq!(held(), 0);
		assert!(Endpoints::<Test>::get(ALICE).is_none());
		assert_noop!(Market::clear_endpoint(signed(ALICE)), Error::<Test>::NoEndpoint);
	});
}

#[test]
fn an_empty_endpoint_or_one_nobody_can_pay_for_is_refused() {
	build_and_execute(|| {
		for (peer, addrs) in [
			endpoint(b"", &[b"/ip4/1"]),
			endpoint(b"peer", &[]),
			endpoint(b"peer", &[b"/ip4/1", b""]),
		] {
			assert_noop!(
				Market::set_endpoint(signed(ALICE), peer, addrs),
				Error::<Test>::InvalidEndpoint
			);
		}
		let (peer, addrs) = endpoint(b"peer", &[b"/ip4/1"]);
		assert_noop!(
			Market::set_endpoint(signed(12345), peer, addrs),
			Error::<Test>::InsufficientBalance
		);
	});
}

// ---------------------------------------------------------------- security review findings
// Each test is named after its finding in the pallets' security review and plays the attack:
// on the code before the fix it fails at the assertion the comment marks.

/// Finding 5: `post_job` + `cancel_job` and repeated heartbeats used to leave dead entries in
/// the deadline index until 16 blocks were full; then honest providers' `accept_task` failed
/// with `DeadlinesFull` and they were slashed. Superseded entries now leave the index at once.
#[test]
fn finding_5_cancelled_jobs_and_heartbeats_cannot_fill_the_deadline_index() {
	build_and_execute(|| {
		let k = kernel(FWD, TRAIN);
		offer(CAROL, CPU, 1_000, 30);
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, inference(1, 1), 100, 50, 100));
		// The attacker fills blocks 7..=22 (8 entries each, 16 blocks of probing).
		for _ in 0..(8 * 16) {
			assert_ok!(Market::post_job(signed(BOB), k, CPU, inference(1, 1), 100, 1, 7));
			assert_ok!(Market::cancel_job(signed(BOB), NextJob::<Test>::get() - 1));
		}
		let entries = || {
			Deadlines::<Test>::iter()
				.flat_map(|(b, l)| l.into_iter().map(move |e| (b, e)))
				.collect::<Vec<_>>()
		};
		assert_eq!(entries(), vec![(100, Deadline::Job(0))], "only the live job's deadline");
		run_to_block(2);
		// Before the fix: DeadlinesFull here, and a slash at block 5.
		assert_ok!(Market::accept_task(signed(CAROL), 0));
		for b in 3..40 {
			run_to_block(b);
			assert_ok!(Market::heartbeat(signed(CAROL), 0));
		}
		let of_task: Vec<_> =
			entries().into_iter().filter(|(_, e)| *e == Deadline::Task(0)).collect();
		assert_eq!(of_task, vec![(task(0).due, Deadline::Task(0))], "one entry per task");
		assert!(MockStake::slashes().is_empty());
		// Submitted: the task's entry goes; ended: the job's.
		assert_ok!(Market::submit_result(signed(CAROL), 0, cid(b"out")));
		assert_eq!(entries(), vec![(100, Deadline::Job(0))]);
	});
}

/// Finding 5: an entry with nothing to do used to be charged the worst case (a missed task
/// reassigned over every offer), so a block drained about ten of them; it now costs one read.
#[test]
fn finding_5_stale_deadline_entries_cost_one_read_each() {
	use crate::weights::WeightInfo;
	use polkadot_sdk::frame_support::traits::Hooks;
	build_and_execute(|| {
		let per_entry = <() as WeightInfo>::on_initialize_task_missed(8)
			.max(<() as WeightInfo>::on_initialize_job_failed(4));
		// A budget for one acting entry: before the fix, seven of these eight moved on.
		DeadlineBudget::set(per_entry.saturating_mul(2));
		let stale: Vec<Deadline> = (100..108).map(Deadline::Task).collect();
		Deadlines::<Test>::insert(3, BoundedVec::try_from(stale).unwrap());
		System::set_block_number(2);
		let base = Market::on_initialize(2);
		System::set_block_number(3);
		let w = Market::on_initialize(3);
		// One read each (the mock's database weights are zero): less than one acting entry.
		assert!(w.saturating_sub(base).all_lt(per_entry), "{w:?} over {base:?}");
		assert!(Deadlines::<Test>::iter().next().is_none(), "all handled, none moved on");
	});
}

/// Finding 26: a buyer with the cheapest offer was assigned its own job, and (with
/// proof-of-compute) could sit in its committee. Its own offers are now never candidates.
#[test]
fn finding_26_a_buyer_is_never_assigned_its_own_job() {
	build_and_execute(|| {
		let k = kernel(FWD, TRAIN);
		MockStake::set(ALICE, 1_000);
		let _own = offer(ALICE, CPU, 1_000, 10);
		let dave = offer(DAVE, CPU, 1_000, 20);
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, inference(1, 1), 1_000, 50, 100));
		run_to_block(2);
		let t = task(0);
		assert_eq!((t.provider, t.offer), (DAVE, dave));
		assert_eq!(<Market as TaskOutcome<_>>::task(0).map(|i| i.buyer), Some(ALICE));
	});
}

/// Finding 27: `try_state` checks the deadline index: each job (and each task awaiting its
/// provider) holds exactly one entry, at its deadline, and nothing else does.
#[test]
fn finding_27_try_state_checks_the_deadline_index() {
	new_test_ext().execute_with(|| {
		let k = kernel(FWD, TRAIN);
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, inference(2, 3), 1_000, 50, 100));
		assert_ok!(Market::do_try_state());
		let entries = Deadlines::<Test>::take(100);
		assert_eq!(Market::do_try_state(), Err("a job without its one deadline entry".into()));
		Deadlines::<Test>::insert(100, entries.clone());
		Deadlines::<Test>::insert(101, entries);
		assert_eq!(Market::do_try_state(), Err("a job without its one deadline entry".into()));
		Deadlines::<Test>::remove(101);
		Deadlines::<Test>::insert(102, BoundedVec::try_from(vec![Deadline::Task(9)]).unwrap());
		assert_eq!(Market::do_try_state(), Err("deadline entries of nothing open".into()));
	});
}

/// Finding 7: at a job's deadline the buyer used to be refunded in full, even for tasks that
/// were verified: a buyer whose sybil took one task and only heartbeated got every other
/// provider's verified results free. Verified work is now paid whatever becomes of the job.
#[test]
fn finding_7_a_job_deadline_pays_verified_work() {
	build_and_execute(|| {
		let k = kernel(FWD, TRAIN);
		offer(DAVE, CPU, 1_000, 20); // the buyer's sybil: cheapest, gets task 0
		offer(CAROL, CPU, 1_000, 30);
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, training(1, 2), 200, 50, 100));
		run_to_block(2);
		assert_eq!((task(0).provider, task(1).provider), (DAVE, CAROL));
		let (carol0, eve0) = (Balances::free_balance(CAROL), Balances::free_balance(EVE));
		accept_and_submit(1);
		assert_ok!(<Market as TaskOutcome<_>>::task_verified(1, Cid::of_raw_bytes(b"r"), &[EVE]));
		assert_ok!(Market::accept_task(signed(DAVE), 0));
		for b in (6..100).step_by(4) {
			run_to_block(b);
			assert_ok!(Market::heartbeat(signed(DAVE), 0));
		}
		run_to_block(100);
		// Task 1: 3 WU at 30 = 90; 10 % fee; 20 % margin to Eve. Budget 6 WU × 50 + 20 % = 360.
		System::assert_has_event(
			Event::VerifiedTasksPaid { job: 0, paid: 81, fee: 9, verifiers: 18 }.into(),
		);
		System::assert_has_event(
			Event::JobFailed { job: 0, refund: 252, reason: FailReason::DeadlinePassed }.into(),
		);
		// Before the fix: Carol and Eve unpaid, refund 360.
		assert_eq!(Balances::free_balance(CAROL), carol0 + 81);
		assert_eq!(Balances::free_balance(EVE), eve0 + 18);
		assert_eq!(escrow(ALICE), 0);
	});
}

/// Finding 15 (audits): the verifiers who re-executed a training task's audited steps were paid
/// nothing (only a bounty when they caught a fake); the margin went to the final committee alone.
/// Auditors whose audit reached a verdict now share the task's margin with that committee.
#[test]
fn finding_15_auditors_share_a_tasks_verification_margin() {
	build_and_execute(|| {
		let k = kernel(FWD, TRAIN);
		offer(DAVE, CPU, 1_000, 20);
		offer(CAROL, CPU, 1_000, 30);
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, training(1, 2), 200, 50, 100));
		run_to_block(2);
		accept_and_submit(0);
		accept_and_submit(1);
		<Market as TaskOutcome<_>>::task_audited(1, &[EVE, FERDIE]);
		<Market as TaskOutcome<_>>::task_audited(1, &[EVE]); // credited once
		<Market as TaskOutcome<_>>::task_audited(9, &[EVE]); // no such task: nothing
		let (bob0, eve0, ferdie0) = (
			Balances::free_balance(BOB),
			Balances::free_balance(EVE),
			Balances::free_balance(FERDIE),
		);
		assert_ok!(<Market as TaskOutcome<_>>::task_verified(1, Cid::of_raw_bytes(b"r"), &[BOB]));
		assert_eq!(task(1).credited.to_vec(), vec![BOB, EVE, FERDIE], "the committee first");
		assert_ok!(<Market as TaskOutcome<_>>::task_verified(0, Cid::of_raw_bytes(b"r"), &[BOB]));
		// Task 1: 3 WU at 30 = 90, margin 18 in three: 6 each. Task 0: 3 WU at 20 = 60, margin
		// 12 to Bob. Before the fix: Bob 18 + 12, Eve and Ferdie nothing.
		System::assert_has_event(
			Event::JobCompleted { job: 0, paid: 81 + 54, fee: 15, verifiers: 30, refund: 180 }
				.into(),
		);
		assert_eq!(Balances::free_balance(BOB), bob0 + 6 + 12);
		assert_eq!(Balances::free_balance(EVE), eve0 + 6);
		assert_eq!(Balances::free_balance(FERDIE), ferdie0 + 6);
	});
}

/// Finding 7: a result whose verification cannot end before the job's deadline is refused when
/// submitted, not lost unpaid after it.
#[test]
fn finding_7_a_result_too_late_to_verify_is_refused() {
	build_and_execute(|| {
		VerificationBlocks::set(10);
		let k = kernel(FWD, TRAIN);
		offer(CAROL, CPU, 1_000, 30);
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, inference(1, 1), 100, 50, 30));
		run_to_block(2);
		assert_ok!(Market::accept_task(signed(CAROL), 0));
		for b in (5..=17).step_by(4) {
			run_to_block(b);
			assert_ok!(Market::heartbeat(signed(CAROL), 0));
		}
		run_to_block(20); // 20 + 10 blocks of verification reach the deadline (30)
		assert_noop!(
			Market::submit_result(signed(CAROL), 0, cid(b"out")),
			Error::<Test>::TooLateToVerify
		);
		VerificationBlocks::set(9);
		assert_ok!(Market::submit_result(signed(CAROL), 0, cid(b"out")));
	});
}

/// Finding 10: a missed task whose job then failed was unloaded twice, so its offer's
/// `open_tasks` dropped by two and the offer could be withdrawn under another open task.
#[test]
fn finding_10_a_missed_task_whose_job_fails_is_unloaded_once() {
	build_and_execute(|| {
		let k = kernel(FWD, TRAIN);
		let o = offer(DAVE, CPU, 1_000, 20);
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, inference(1, 1), 100, 50, 100));
		assert_ok!(Market::post_job(signed(BOB), k, CPU, inference(1, 1), 100, 50, 100));
		run_to_block(2);
		assert_eq!(Offers::<Test>::get(o).unwrap().open_tasks, 2);
		assert_ok!(Market::accept_task(signed(DAVE), 1));
		run_to_block(5); // task 0 missed, no other candidate: job 0 fails
		System::assert_has_event(
			Event::JobFailed { job: 0, refund: 60, reason: FailReason::NoProvider }.into(),
		);
		// Before the fix: 0, and the withdrawal below went through.
		assert_eq!(Offers::<Test>::get(o).unwrap().open_tasks, 1);
		assert_noop!(Market::withdraw_offer(signed(DAVE), o), Error::<Test>::OfferBusy);
	});
}

/// Finding 14: a job the allocator split over more offers than `MaxTasksPerJob` left the queue
/// but stayed `Queued` (escrow held until its deadline, `try_state` broken). It now waits in the
/// queue and is placed once few enough offers can take it.
#[test]
fn finding_14_a_job_needing_more_tasks_than_allowed_stays_queued() {
	build_and_execute(|| {
		let k = kernel(FWD, TRAIN);
		// Five small offers (MaxTasksPerJob = 4): each takes 235 of the job's 1 000 samples
		// before its deadline, four take 940.
		for who in [CAROL, DAVE, EVE, 7, 8] {
			MockStake::set(who, 1_000);
			offer(who, CPU, 4, 10);
		}
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, inference(1, 1), 1_000, 50, 100));
		run_to_block(2);
		// Before the fix: the queue was empty here and `try_state` failed.
		assert_eq!(Queue::<Test>::get().to_vec(), vec![0]);
		assert_eq!(Jobs::<Test>::get(0).unwrap().status, JobStatus::Queued);
		Market::do_try_state().unwrap();
		// A large offer arrives: four tasks suffice.
		MockStake::set(9, 1_000);
		<Balances as polkadot_sdk::frame_support::traits::fungible::Mutate<_>>::set_balance(
			&9, INITIAL,
		);
		offer(9, CPU, 1_000, 40);
		run_to_block(3);
		let job = Jobs::<Test>::get(0).unwrap();
		assert_eq!(job.status, JobStatus::Running);
		assert_eq!(job.tasks.len(), 4);
	});
}

/// Finding 6: 1-planck jobs no offer could ever take used to fill the whole queue from one
/// account for days. A max price below the class's floor is refused, and one buyer holds at most
/// `MaxQueuedPerBuyer` (3 here) of the queue's `MaxQueued` (4) places.
#[test]
fn finding_6_one_buyer_cannot_squat_the_queue() {
	build_and_execute(|| {
		let k = kernel(FWD, TRAIN);
		// GPU's floor is 10 per WU.
		assert_noop!(
			Market::post_job(signed(BOB), k, GPU, inference(1, 1), 100, 9, 900),
			Error::<Test>::PriceBelowFloor
		);
		for _ in 0..3 {
			assert_ok!(Market::post_job(signed(BOB), k, GPU, inference(1, 1), 100, 10, 900));
		}
		// Before the fix: Bob's fourth job took the last place.
		assert_noop!(
			Market::post_job(signed(BOB), k, GPU, inference(1, 1), 100, 10, 900),
			Error::<Test>::QueueFull
		);
		assert_ok!(Market::post_job(signed(ALICE), k, GPU, inference(1, 1), 100, 50, 900));
		assert_eq!(QueuedBy::<Test>::get(BOB), 3);
		// A job leaving the queue (cancelled here, allocated likewise) gives its buyer a place.
		assert_ok!(Market::cancel_job(signed(BOB), 0));
		assert_eq!(QueuedBy::<Test>::get(BOB), 2);
		offer(CAROL, GPU, 1_000, 10);
		run_to_block(3); // two allocations per block
		assert_eq!(QueuedBy::<Test>::get(BOB), 0, "allocated");
		assert_eq!(QueuedBy::<Test>::get(ALICE), 0);
	});
}

/// Finding 6 (b): demand counted every queued job, so jobs no offer would take at their price
/// (the largest jobs allowed, at the floor price) drove the index to its ceiling within blocks,
/// for a `FollowIndex` offer to collect from buyers whose max price allowed it. A job is now
/// demand only once an offer could take it at its price and size.
#[test]
fn finding_6_jobs_no_offer_would_take_do_not_pump_the_index() {
	build_and_execute(|| {
		let k = kernel(FWD, TRAIN);
		offer(CAROL, CPU, 1_000, 30);
		// 10^6 WU each (the most a job may be) at the floor price, far below Carol's 30.
		for _ in 0..3 {
			assert_ok!(Market::post_job(signed(BOB), k, CPU, inference(1, 1), 100_000_000, 1, 900));
		}
		run_to_block(30);
		assert_eq!(Queue::<Test>::get().len(), 3, "never allocated");
		assert_eq!(Stats::<Test>::get(CPU).demand, 0);
		// Before the fix: demand 3×10^6 WU against 60 WU of supply, the index at 1,000.
		assert_eq!(PriceIndex::<Test>::get(CPU), 1, "the floor: nothing anyone would sell");
		// A job Carol takes at her price is demand, while it runs.
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, inference(1, 1), 100, 30, 900));
		run_to_block(32); // two allocation attempts per block: all four jobs tried
		assert_eq!(Jobs::<Test>::get(3).unwrap().status, JobStatus::Running);
		assert_eq!(task(0).provider, CAROL);
		assert!(Jobs::<Test>::get(3).unwrap().in_demand);
		assert_eq!(Stats::<Test>::get(CPU).demand, 1_000_000_000_000);
		assert_ok!(Market::accept_task(signed(CAROL), 0));
		assert_ok!(Market::submit_result(signed(CAROL), 0, cid(b"r")));
		assert_ok!(<Market as TaskOutcome<_>>::task_verified(0, Cid::of_raw_bytes(b"r"), &[EVE]));
		assert_eq!(Stats::<Test>::get(CPU).demand, 0, "gone with the job");
	});
}

/// Finding 6 (c): an offer's declared capacity counted in full as supply, so one offer of
/// `u64::MAX` milli-WU/s at a price no job pays (never a candidate, never slashed) sank its
/// class's index to the floor. Supply now counts only what the provider's active stake covers
/// as collateral over the supply horizon, at the offer's price or the base price if higher.
#[test]
fn finding_6_a_phantom_capacity_counts_only_as_far_as_its_stake() {
	build_and_execute(|| {
		let k = kernel(FWD, TRAIN);
		MockStake::set(CAROL, 1_000_000);
		offer(CAROL, CPU, 1_000, 10); // 1 WU/s at the base price, backed in full
		assert_eq!(Stats::<Test>::get(CPU).capacity, 1_000);
		// 120 WU that wait (a group of two, one offer): target 10 × 120 / 60 = 20.
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, training(1, 2), 4_000, 1_000, 100));
		// Eve: each milli-WU/s at 10^6 per WU over 60 s keeps 10^6 × 0.06 × 200 % = 120,000
		// bonded; her stake of 1,000 backs none of her capacity.
		assert_ok!(Market::publish_offer(
			signed(EVE),
			CPU,
			u64::MAX,
			PriceSpec::Fixed(1_000_000),
			1,
			1
		));
		assert_eq!(Offers::<Test>::get(1).unwrap().supply, 0);
		assert_eq!(Stats::<Test>::get(CPU).capacity, 1_000);
		run_to_block(30);
		// Before the fix: supply 1.8 × 10^16 milli-WU/s, the index at the floor, 1.
		assert_eq!(PriceIndex::<Test>::get(CPU), 20);
		// Following the index (valued at the base price, 10): 1,000 × 10^5 / (200 × 10 × 60).
		assert_ok!(Market::publish_offer(
			signed(DAVE),
			CPU,
			u64::MAX,
			PriceSpec::FollowIndex,
			1,
			1
		));
		assert_eq!(Offers::<Test>::get(2).unwrap().supply, 833);
		assert_eq!(Stats::<Test>::get(CPU).capacity, 1_833);
		// More stake counts once the offer is updated or resumed.
		MockStake::set(DAVE, 2_000);
		assert_ok!(Market::set_offer_status(signed(DAVE), 2, OfferStatus::Paused));
		assert_eq!(Stats::<Test>::get(CPU).capacity, 1_000);
		assert_ok!(Market::set_offer_status(signed(DAVE), 2, OfferStatus::Active));
		assert_eq!(Stats::<Test>::get(CPU).capacity, 1_000 + 1_666);
	});
}

/// Finding 8: an offer published with stake that was then unbonded kept its class slot (and
/// counted as supply) for good. Anyone can now withdraw an idle offer whose provider's stake is
/// gone.
#[test]
fn finding_8_offers_of_gone_stake_can_be_pruned_by_anyone() {
	build_and_execute(|| {
		// MaxOffersPerClass = 8: eight squatters publish, then unbond.
		for s in 20..28 {
			MockStake::set(s, 1_000_000);
			offer(s, CPU, 1_000, 30);
			MockStake::set(s, 0);
		}
		assert_noop!(
			Market::publish_offer(signed(CAROL), CPU, 1_000, PriceSpec::Fixed(30), 1, 1_000),
			Error::<Test>::TooManyOffers
		);
		assert_eq!(Stats::<Test>::get(CPU).capacity, 8_000);
		let squatted = ProviderOffers::<Test>::get(20, CPU).unwrap();
		// Before the fix there was no such call.
		assert_ok!(Market::prune_offer(signed(FERDIE), squatted));
		System::assert_last_event(Event::OfferWithdrawn { offer: squatted }.into());
		assert_eq!(Stats::<Test>::get(CPU).capacity, 7_000);
		assert_ok!(Market::publish_offer(
			signed(CAROL),
			CPU,
			1_000,
			PriceSpec::Fixed(30),
			1,
			1_000
		));
		let carols = ProviderOffers::<Test>::get(CAROL, CPU).unwrap();
		assert_noop!(Market::prune_offer(signed(FERDIE), carols), Error::<Test>::StillStaked);
		assert_noop!(Market::prune_offer(signed(FERDIE), 999), Error::<Test>::UnknownOffer);
	});
}

/// Finding 9 (in part): a provider could not decline a task it cannot do — accept and fail, or
/// take the missed-accept slash. It now declines without penalty and the task moves on.
#[test]
fn finding_9_an_assigned_task_can_be_declined_without_penalty() {
	build_and_execute(|| {
		let k = kernel(FWD, TRAIN);
		offer(DAVE, CPU, 1_000, 20);
		offer(CAROL, CPU, 1_000, 30);
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, inference(1, 1), 100, 50, 100));
		run_to_block(2);
		assert_eq!(task(0).provider, DAVE);
		assert_noop!(Market::decline_task(signed(CAROL), 0), Error::<Test>::NotAssigned);
		assert_ok!(Market::decline_task(signed(DAVE), 0));
		System::assert_has_event(Event::TaskDeclined { task: 0, provider: DAVE }.into());
		assert_eq!((task(0).provider, task(0).state), (CAROL, TaskState::Assigned));
		// Accepted work can no longer be declined.
		assert_ok!(Market::accept_task(signed(CAROL), 0));
		assert_noop!(Market::decline_task(signed(CAROL), 0), Error::<Test>::WrongTaskState);
		run_to_block(6); // past Dave's old accept deadline: nothing happens to him
		assert_eq!(MockStake::slashes(), vec![], "no penalty");
	});
}

/// Finding 9 (device): a kernel's device was never compared with the class, so a CUDA kernel
/// posted to the CPU class went to a provider that could only miss its deadline (slashed) or
/// heartbeat to the end. It is now refused; a CPU kernel still runs in any class.
#[test]
fn finding_9_a_cuda_kernel_is_refused_in_a_cpu_class() {
	build_and_execute(|| {
		let cuda = kernel_on(DeviceClass::Cuda, FWD, TRAIN);
		offer(DAVE, CPU, 1_000, 20);
		// Before the fix: accepted, queued and assigned to DAVE.
		assert_noop!(
			Market::post_job(signed(ALICE), cuda, CPU, inference(1, 1), 100, 50, 100),
			Error::<Test>::DeviceMismatch
		);
		assert_ok!(Market::post_job(signed(ALICE), cuda, GPU, inference(1, 1), 100, 500, 100));
		let cpu = kernel(FWD, TRAIN);
		assert_ok!(Market::post_job(signed(ALICE), cpu, GPU, inference(1, 1), 100, 500, 100));
		assert_ok!(Market::post_job(signed(ALICE), cpu, CPU, inference(1, 1), 100, 50, 100));
	});
}

/// Finding 9 (pay): a task's pay was its declared FLOPs at its price, rounded down, so a kernel
/// declaring 1 FLOP per sample had its work done for nothing: provider, verifiers and the
/// protocol got 0 and the buyer its whole budget back. A job is now paid in the whole WU its
/// budget escrowed, shared among its tasks by their work.
#[test]
fn finding_9_a_job_of_a_few_flops_pays_a_whole_wu() {
	build_and_execute(|| {
		let k = kernel(1, 1); // declared 1 FLOP per sample
		offer(CAROL, CPU, 1_000, 30);
		assert_ok!(Market::post_job(signed(ALICE), k, CPU, inference(1, 3), 3, 50, 100));
		run_to_block(2);
		accept_and_submit(0);
		assert_ok!(<Market as TaskOutcome<_>>::task_verified(
			0,
			Cid::of_raw_bytes(b"r"),
			&[EVE, BOB]
		));
		// 1 WU at 30: 27 to Carol, a 10 % fee of 3, the 20 % margin (6) to Eve and Bob; the
		// budget was 1 WU × 50 + 20 % = 60. Before the fix: paid 0, fee 0, verifiers 0, refund 60.
		System::assert_last_event(
			Event::JobCompleted { job: 0, paid: 27, fee: 3, verifiers: 6, refund: 24 }.into(),
		);
	});
}

/// A job of whole WU pays exactly its work, split over tasks by their work; the shares of a
/// job of part of a WU never add up to more than the whole WU its budget holds.
#[test]
fn billed_work_is_the_jobs_whole_wu_shared_by_work() {
	build_and_execute(|| {
		const WU: u128 = 1_000_000_000_000;
		assert_eq!(Market::billed_flops(3 * WU, 10 * WU), 3 * WU);
		assert_eq!(Market::billed_flops(1, 3), WU / 3);
		assert_eq!(Market::billed_flops(2, 3), 2 * WU / 3);
		assert!(Market::billed_flops(1, 3) + Market::billed_flops(2, 3) <= WU);
		assert_eq!(Market::billed_flops(WU + 1, 2 * WU + 1), (WU + 1) * 3 * WU / (2 * WU + 1));
		assert_eq!(Market::billed_flops(7, 0), 7);
		// Collateral follows the value: 200 % of a third of a WU at 30 (9, rounded down), and
		// of the whole WU.
		assert_eq!(Market::collateral_of(1, 3, 30, 200), Ok(18));
		assert_eq!(Market::collateral_of(3, 3, 30, 200), Ok(60));
	});
}

/// Finding 3 (b), the market's half: a training job's step count per epoch used to exist only
/// in the members' word. The marketplace now reads it from the job's settings when the job is
/// posted, refuses settings it cannot read (the members could not either) and hands the count to
/// verification with every task, which refuses epoch commitments of any other count.
#[test]
fn finding_3_a_training_jobs_step_count_comes_from_its_settings() {
	build_and_execute(|| {
		let k = kernel(FWD, TRAIN);
		offer(CAROL, CPU, 1_000, 30);
		offer(DAVE, CPU, 1_000, 20);
		let with = |hyper: &[u8]| JobKindInput::Training {
			dataset: cid(b"digits"),
			hyperparams: hyper.to_vec().try_into().unwrap(),
			epochs: 2,
			group_size: 2,
		};
		let post =
			|hyper: &[u8]| Market::post_job(signed(ALICE), k, CPU, with(hyper), 100, 50, 100);
		// Before the fix: all posted, and each member would have said its own step count.
		for bad in [
			&b"{\"innerSteps\":0}"[..],
			b"{\"innerSteps\":4097}",
			b"{\"inner_steps\":30}",
			b"{\"lr\":-1}",
			b"[30]",
			b"not json",
		] {
			assert_noop!(post(bad), Error::<Test>::InvalidHyperParams);
		}
		assert_ok!(post(b"{\"innerSteps\":30,\"lr\":0.01}"));
		assert_ok!(post(b""));
		let steps = |job: u64| match Jobs::<Test>::get(job).unwrap().kind {
			JobKind::Training { steps, .. } => steps,
			JobKind::Inference { .. } => unreachable!(),
		};
		assert_eq!((steps(0), steps(1)), (30, verity_primitives::training::DEFAULT_INNER_STEPS));
		run_to_block(2);
		let task = Jobs::<Test>::get(0).unwrap().tasks[0];
		let info = <Market as TaskOutcome<_>>::task(task).unwrap();
		assert_eq!((info.training, info.epochs, info.steps), (true, 2, 30));
	});
}

#[test]
fn the_buyer_registers_a_trained_model_as_the_kernels_next_version() {
	use pallet_aivm_registry::{AggregationRule, Lineage, TrainedFrom};
	build_and_execute(|| {
		// BOB owns the kernel (mock `kernel`) and buys its training.
		let k = kernel(FWD, TRAIN);
		offer(CAROL, CPU, 1_000, 30);
		offer(DAVE, CPU, 1_000, 20);
		assert_ok!(Market::post_job(signed(BOB), k, CPU, training(2, 2), 200, 50, 100));
		run_to_block(2);
		accept_and_submit(0);
		accept_and_submit(1);
		let checkpoint = Cid::of_raw_bytes(b"final");
		let base = pallet_aivm_registry::Kernels::<Test>::get(k).unwrap().spec;
		let register = |who: AccountId, archive: &[u8]| {
			pallet_aivm_registry::Pallet::<Test>::register_trained_kernel(
				signed(who),
				0,
				Cid::of_raw_bytes(archive).to_text().into_bytes().try_into().unwrap(),
				base.environment.clone(),
				base.inputs.clone(),
				base.outputs.clone(),
				base.inference_flops,
				base.train_flops,
				AggregationRule::ExactDigest,
			)
		};
		// Not before the job completed.
		assert_noop!(
			register(BOB, b"trained"),
			pallet_aivm_registry::Error::<Test>::UnknownTraining
		);
		assert_ok!(<Market as TaskOutcome<_>>::task_verified(0, checkpoint, &[]));
		assert_ok!(<Market as TaskOutcome<_>>::task_verified(1, checkpoint, &[]));
		assert_noop!(register(ALICE, b"trained"), pallet_aivm_registry::Error::<Test>::NotBuyer);
		assert_ok!(register(BOB, b"trained"));
		let version = TrainedModels::<Test>::get(0).unwrap().version.unwrap();
		assert_eq!(
			Lineage::<Test>::get(version),
			Some(TrainedFrom { job: 0, checkpoint, epochs: 2 })
		);
		let entry = pallet_aivm_registry::Kernels::<Test>::get(version).unwrap();
		assert_eq!(entry.spec.supersedes, Some(k));
		assert_noop!(
			register(BOB, b"trained again"),
			pallet_aivm_registry::Error::<Test>::AlreadyRegistered
		);
		pallet_aivm_registry::Pallet::<Test>::do_try_state().unwrap();
	});
}
