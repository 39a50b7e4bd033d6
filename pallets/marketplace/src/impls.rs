//! The logic behind the calls, the per-block hook and the [`TaskOutcome`] implementation. Calls
//! check every precondition before they write; the hook's steps (index, deadlines, allocation)
//! do all their fallible reads and slot searches before their writes, because hooks are not
//! transactional.

#![cfg_attr(
	not(test),
	deny(
		clippy::unwrap_used,
		clippy::expect_used,
		clippy::indexing_slicing,
		clippy::arithmetic_side_effects
	)
)]

use alloc::vec::Vec;
use codec::Encode;
use polkadot_sdk::{
	frame_support::{
		ensure,
		pallet_prelude::*,
		traits::{
			fungible::MutateHold,
			tokens::{Fortitude, Precision, Restriction},
			Randomness,
		},
		BoundedVec,
	},
	frame_system::pallet_prelude::BlockNumberFor,
	sp_core::H256,
	sp_runtime::{
		helpers_128bit::multiply_by_rational_with_rounding,
		traits::{Saturating, UniqueSaturatedInto, Zero},
		ArithmeticError, Perbill, Rounding,
	},
};
use verity_primitives::{
	cid::Cid,
	kernel::{work_units, DeviceClass, KernelId, KernelInspect, FLOPS_PER_WU},
	market::{JobId, TaskId, TaskInfo, TaskOutcome, TaskVerifier, TrainedModel, TrainingRecords},
	staking::{ProviderStake, SlashReason},
	training::Hyper,
};

use crate::{
	allocation::{self, Candidate},
	pallet::*,
	types::*,
	WeightInfo,
};

/// How many blocks after the wanted one a deadline may slide when blocks are full.
pub(crate) const DEADLINE_PROBE: u32 = 16;
/// FLOPs per second in one milli-WU per second.
const FLOPS_PER_MILLI_WU: u128 = FLOPS_PER_WU / 1_000;

fn to_u128<B: UniqueSaturatedInto<u128>>(b: B) -> u128 {
	b.unique_saturated_into()
}

impl<T: Config> Pallet<T> {
	fn bal(x: u128) -> Result<BalanceOf<T>, DispatchError> {
		BalanceOf::<T>::try_from(x).map_err(|_| ArithmeticError::Overflow.into())
	}

	/// `price × flops / 10^12`, rounded down: what `flops` of work costs at `price` per WU.
	pub fn cost_of(flops: u128, price: BalanceOf<T>) -> Result<BalanceOf<T>, DispatchError> {
		let cost =
			multiply_by_rational_with_rounding(to_u128(price), flops, FLOPS_PER_WU, Rounding::Down)
				.ok_or(ArithmeticError::Overflow)?;
		Self::bal(cost)
	}

	/// Adds each of `verifiers` not yet in `credited`, as many as fit.
	fn credit(
		credited: &mut BoundedVec<T::AccountId, T::MaxCommittee>,
		verifiers: &[T::AccountId],
	) {
		for v in verifiers {
			if !credited.contains(v) && credited.try_push(v.clone()).is_err() {
				break;
			}
		}
	}

	/// The FLOPs a task of `flops` is paid for, out of a job of `job_flops`. The buyer escrows
	/// the job's work in whole WU (`budget_for`), and it is paid in whole WU too, shared among
	/// its tasks by their work (rounded down, so the shares never exceed the whole): a job whose
	/// declared cost is a few FLOPs pays its provider one WU's price, not nothing (security
	/// review, finding 9). A job of whole WU pays exactly its work.
	pub fn billed_flops(flops: u128, job_flops: u128) -> u128 {
		Self::billed(flops, job_flops, Rounding::Down)
	}

	/// `flops × (job_flops in whole WU) / job_flops`, rounded as asked; never less than `flops`.
	fn billed(flops: u128, job_flops: u128, rounding: Rounding) -> u128 {
		if job_flops == 0 {
			return flops;
		}
		let whole = work_units(job_flops).saturating_mul(FLOPS_PER_WU);
		multiply_by_rational_with_rounding(flops, whole, job_flops, rounding)
			.unwrap_or(flops)
			.max(flops)
	}

	/// What a task of `flops` at `price` in a job of `job_flops` is worth: its billed work
	/// ([`Self::billed_flops`]) at its price.
	pub fn task_value(
		flops: u128,
		job_flops: u128,
		price: BalanceOf<T>,
	) -> Result<BalanceOf<T>, DispatchError> {
		Self::cost_of(Self::billed_flops(flops, job_flops), price)
	}

	/// The collateral a task of `flops` in a job of `job_flops` at `price` keeps bonded:
	/// `percent` % of its value ([`Self::task_value`]), rounded up.
	pub fn collateral_of(
		flops: u128,
		job_flops: u128,
		price: BalanceOf<T>,
		percent: u32,
	) -> Result<BalanceOf<T>, DispatchError> {
		let value = to_u128(Self::task_value(flops, job_flops, price)?);
		let collateral =
			multiply_by_rational_with_rounding(value, percent.into(), 100, Rounding::Up)
				.ok_or(ArithmeticError::Overflow)?;
		Self::bal(collateral)
	}

	/// `provider`'s active stake not yet kept as collateral for its open tasks.
	pub fn free_collateral(provider: &T::AccountId) -> BalanceOf<T> {
		T::Staking::active_stake(provider).saturating_sub(Collateral::<T>::get(provider))
	}

	/// How many samples of `per_sample` FLOPs at `price` `free` stake covers as collateral
	/// (`u64::MAX` when nothing is asked).
	fn samples_covered(
		free: BalanceOf<T>,
		per_sample: u128,
		price: BalanceOf<T>,
		percent: u32,
	) -> u64 {
		// collateral(s) = s × per_sample × price × percent / (100 × 10^12) ≤ free.
		let per =
			to_u128(price).checked_mul(per_sample).and_then(|x| x.checked_mul(percent.into()));
		match per {
			Some(0) => u64::MAX,
			Some(per) => multiply_by_rational_with_rounding(
				to_u128(free),
				100u128.saturating_mul(FLOPS_PER_WU),
				per,
				Rounding::Down,
			)
			.map_or(u64::MAX, |s| u64::try_from(s).unwrap_or(u64::MAX)),
			None => 0,
		}
	}

	/// Keeps `task`'s collateral out of its provider's free stake.
	fn lock_collateral(task: &TaskEntry<T>) {
		if !task.collateral.is_zero() {
			Collateral::<T>::mutate(&task.provider, |c| *c = c.saturating_add(task.collateral));
		}
	}

	/// Gives `task`'s collateral back to its provider's free stake (verified, moved or ended).
	fn release_collateral(task: &TaskEntry<T>) {
		if !task.collateral.is_zero() {
			Collateral::<T>::mutate_exists(&task.provider, |c| {
				let left = c.unwrap_or_default().saturating_sub(task.collateral);
				*c = (!left.is_zero()).then_some(left);
			});
		}
	}

	/// The escrow for a job of `flops` at `max_price`: its work in whole WU × max price, plus the
	/// verification margin.
	pub fn budget_for(flops: u128, max_price: BalanceOf<T>) -> Result<BalanceOf<T>, DispatchError> {
		let params = Params::<T>::get().ok_or(Error::<T>::NoParams)?;
		let base =
			to_u128(max_price).checked_mul(work_units(flops)).ok_or(ArithmeticError::Overflow)?;
		let total = base
			.checked_add(params.verification_margin.mul_ceil(base))
			.ok_or(ArithmeticError::Overflow)?;
		Self::bal(total)
	}

	/// `true` if windows are at least a block and the supply horizon is non-zero.
	pub fn params_are_valid(p: &ParamsOf<T>) -> bool {
		!p.accept_window.is_zero() && !p.heartbeat_interval.is_zero() && p.supply_horizon_secs > 0
	}

	fn params() -> Result<ParamsOf<T>, DispatchError> {
		Params::<T>::get().ok_or_else(|| Error::<T>::NoParams.into())
	}

	/// Seconds from `now` to `until` (zero if past).
	fn secs_between(now: BlockNumberFor<T>, until: BlockNumberFor<T>) -> u128 {
		let blocks: u128 = to_u128(until.saturating_sub(now));
		blocks.saturating_mul(u128::from(T::MillisecsPerBlock::get())) / 1_000
	}

	/// An offer's capacity in FLOPs per second.
	fn flops_per_sec(capacity: u64) -> u128 {
		u128::from(capacity).saturating_mul(FLOPS_PER_MILLI_WU)
	}

	/// The first block at or after `at` (within [`DEADLINE_PROBE`]) with room for `n` more
	/// deadlines.
	fn find_slot(at: BlockNumberFor<T>, n: u32) -> Result<BlockNumberFor<T>, DispatchError> {
		let mut block = at;
		for _ in 0..DEADLINE_PROBE {
			let used =
				u32::try_from(Deadlines::<T>::decode_len(block).unwrap_or(0)).unwrap_or(u32::MAX);
			if used.saturating_add(n) <= T::MaxDeadlinesPerBlock::get() {
				return Ok(block);
			}
			block = block.saturating_add(1u32.into());
		}
		Err(Error::<T>::DeadlinesFull.into())
	}

	/// Adds a deadline to a block [`find_slot`](Self::find_slot) said has room.
	fn push_deadline(block: BlockNumberFor<T>, entry: Deadline) {
		Deadlines::<T>::mutate(block, |list| {
			// Cannot fail: `find_slot` checked the room and nothing ran in between.
			let _ = list.try_push(entry);
		});
	}

	/// Takes `entry` out of `block`'s deadlines: an entry that is superseded (a task accepted,
	/// heartbeating or submitted; a job ended) leaves the index at once, so every task and job
	/// holds at most one entry and nobody fills blocks with dead ones.
	fn remove_deadline(block: BlockNumberFor<T>, entry: Deadline) {
		Deadlines::<T>::mutate_exists(block, |list| {
			if let Some(l) = list {
				l.retain(|e| *e != entry);
				if l.is_empty() {
					*list = None;
				}
			}
		});
	}

	fn check_class(class: &ResourceClass<BalanceOf<T>>) -> DispatchResult {
		ensure!(
			!class.name.is_empty()
				&& !class.base_price.is_zero()
				&& class.min_price <= class.base_price
				&& class.base_price <= class.max_price,
			Error::<T>::InvalidClass
		);
		Ok(())
	}

	/// Adds or replaces a class; a new class's index starts at its base price, a changed one's
	/// is clamped into the new bounds.
	pub fn do_set_class(id: ClassId, class: ResourceClass<BalanceOf<T>>) -> DispatchResult {
		Self::check_class(&class)?;
		let mut ids = ClassIds::<T>::get();
		if !ids.contains(&id) {
			ids.try_push(id).map_err(|_| Error::<T>::TooManyClasses)?;
			ClassIds::<T>::put(ids);
			PriceIndex::<T>::insert(id, class.base_price);
		} else {
			PriceIndex::<T>::mutate(id, |p| *p = (*p).clamp(class.min_price, class.max_price));
		}
		ResourceClasses::<T>::insert(id, class.clone());
		Self::deposit_event(Event::ResourceClassSet { class: id, definition: class });
		Ok(())
	}

	fn check_offer_terms(
		capacity: u64,
		price: &PriceSpec<BalanceOf<T>>,
		min_job: u64,
		max_job: u64,
	) -> DispatchResult {
		ensure!(capacity > 0 && max_job > 0 && min_job <= max_job, Error::<T>::InvalidOffer);
		if let PriceSpec::Fixed(p) = price {
			ensure!(!p.is_zero(), Error::<T>::ZeroPrice);
		}
		Ok(())
	}

	/// The part of `capacity` (milli-WU/s) of `who`'s offer at `price` in `class` counted as
	/// supply: no more than `who`'s active stake covers as collateral over the supply horizon,
	/// valued at the offer's price or the class's base price, whichever is higher (an offer
	/// following the index at its base). `c` milli-WU/s over `H` s at `p` per WU keep
	/// `c·H/1000 · p · percent/100` bonded, so `c ≤ stake · 10^5 / (percent · p · H)`.
	pub fn backed_capacity(
		who: &T::AccountId,
		def: Option<&ResourceClass<BalanceOf<T>>>,
		capacity: u64,
		price: &PriceSpec<BalanceOf<T>>,
	) -> u64 {
		let (Some(params), Some(def)) = (Params::<T>::get(), def) else {
			return capacity;
		};
		let price = match price {
			PriceSpec::Fixed(p) => (*p).max(def.base_price),
			PriceSpec::FollowIndex => def.base_price,
		};
		let per = to_u128(price)
			.saturating_mul(params.collateral_percent.into())
			.saturating_mul(params.supply_horizon_secs.into());
		if per == 0 {
			return capacity;
		}
		let stake = to_u128(T::Staking::active_stake(who));
		let covered = multiply_by_rational_with_rounding(stake, 100_000, per, Rounding::Down)
			.unwrap_or(u128::MAX);
		capacity.min(u64::try_from(covered).unwrap_or(u64::MAX))
	}

	/// Publishes an offer; returns its id.
	pub fn do_publish_offer(
		who: T::AccountId,
		class: ClassId,
		capacity: u64,
		price: PriceSpec<BalanceOf<T>>,
		min_job: u64,
		max_job: u64,
	) -> Result<OfferId, DispatchError> {
		T::Staking::ensure_provider(&who)?;
		// Read once: it is checked here and prices the offer's supply below.
		let def = ResourceClasses::<T>::get(class).ok_or(Error::<T>::UnknownClass)?;
		Self::check_offer_terms(capacity, &price, min_job, max_job)?;
		ensure!(!ProviderOffers::<T>::contains_key(&who, class), Error::<T>::OfferExists);
		let mut list = ClassOffers::<T>::get(class);
		let id = NextOffer::<T>::get();
		list.try_push(id).map_err(|_| Error::<T>::TooManyOffers)?;
		let next = id.checked_add(1).ok_or(ArithmeticError::Overflow)?;

		ClassOffers::<T>::insert(class, list);
		NextOffer::<T>::put(next);
		ProviderOffers::<T>::insert(&who, class, id);
		let supply = Self::backed_capacity(&who, Some(&def), capacity, &price);
		Stats::<T>::mutate(class, |s| s.capacity = s.capacity.saturating_add(supply.into()));
		Offers::<T>::insert(
			id,
			Offer {
				provider: who.clone(),
				class,
				capacity,
				price,
				min_job,
				max_job,
				status: OfferStatus::Active,
				load: 0,
				open_tasks: 0,
				supply,
			},
		);
		Self::deposit_event(Event::OfferPublished {
			offer: id,
			provider: who,
			class,
			capacity,
			price,
		});
		Ok(id)
	}

	fn own_offer(who: &T::AccountId, id: OfferId) -> Result<Offer<T>, DispatchError> {
		let offer = Offers::<T>::get(id).ok_or(Error::<T>::UnknownOffer)?;
		ensure!(&offer.provider == who, Error::<T>::NotProvider);
		Ok(offer)
	}

	/// Changes an offer's terms.
	pub fn do_update_offer(
		who: T::AccountId,
		id: OfferId,
		capacity: u64,
		price: PriceSpec<BalanceOf<T>>,
		min_job: u64,
		max_job: u64,
	) -> DispatchResult {
		let mut offer = Self::own_offer(&who, id)?;
		Self::check_offer_terms(capacity, &price, min_job, max_job)?;
		ensure!(offer.open_tasks == 0 || capacity >= offer.capacity, Error::<T>::OfferBusy);
		let def = ResourceClasses::<T>::get(offer.class);
		let supply = Self::backed_capacity(&who, def.as_ref(), capacity, &price);
		if offer.status == OfferStatus::Active {
			Stats::<T>::mutate(offer.class, |s| {
				s.capacity =
					s.capacity.saturating_sub(offer.supply.into()).saturating_add(supply.into())
			});
		}
		offer.supply = supply;
		offer.capacity = capacity;
		offer.price = price;
		offer.min_job = min_job;
		offer.max_job = max_job;
		Offers::<T>::insert(id, offer);
		Self::deposit_event(Event::OfferUpdated { offer: id, capacity, price });
		Ok(())
	}

	/// Pauses or resumes an offer.
	pub fn do_set_offer_status(
		who: T::AccountId,
		id: OfferId,
		status: OfferStatus,
	) -> DispatchResult {
		let mut offer = Self::own_offer(&who, id)?;
		ensure!(offer.status != status, Error::<T>::SameStatus);
		if status == OfferStatus::Active {
			// Resuming counts what the stake covers now.
			let def = ResourceClasses::<T>::get(offer.class);
			offer.supply = Self::backed_capacity(&who, def.as_ref(), offer.capacity, &offer.price);
		}
		let supply = u128::from(offer.supply);
		Stats::<T>::mutate(offer.class, |s| {
			s.capacity = match status {
				OfferStatus::Active => s.capacity.saturating_add(supply),
				OfferStatus::Paused => s.capacity.saturating_sub(supply),
			}
		});
		offer.status = status;
		Offers::<T>::insert(id, offer);
		Self::deposit_event(Event::OfferStatusChanged { offer: id, status });
		Ok(())
	}

	/// Withdraws an offer with no open task.
	pub fn do_withdraw_offer(who: T::AccountId, id: OfferId) -> DispatchResult {
		let offer = Self::own_offer(&who, id)?;
		Self::remove_offer(id, offer)
	}

	/// Withdraws offer `id` for its provider if that provider's stake is gone.
	pub fn do_prune_offer(id: OfferId) -> DispatchResult {
		let offer = Offers::<T>::get(id).ok_or(Error::<T>::UnknownOffer)?;
		ensure!(T::Staking::ensure_provider(&offer.provider).is_err(), Error::<T>::StillStaked);
		Self::remove_offer(id, offer)
	}

	fn remove_offer(id: OfferId, offer: Offer<T>) -> DispatchResult {
		let who = offer.provider.clone();
		ensure!(offer.open_tasks == 0, Error::<T>::OfferBusy);
		if offer.status == OfferStatus::Active {
			Stats::<T>::mutate(offer.class, |s| {
				s.capacity = s.capacity.saturating_sub(offer.supply.into())
			});
		}
		ClassOffers::<T>::mutate(offer.class, |list| list.retain(|o| *o != id));
		ProviderOffers::<T>::remove(&who, offer.class);
		Offers::<T>::remove(id);
		Self::deposit_event(Event::OfferWithdrawn { offer: id });
		Ok(())
	}

	/// Publishes or replaces `who`'s endpoint, holding the deposit the first time.
	pub fn do_set_endpoint(
		who: T::AccountId,
		peer: BoundedVec<u8, MaxPeerIdLen>,
		addrs: BoundedVec<BoundedVec<u8, MaxAddrLen>, MaxAddrs>,
	) -> DispatchResult {
		ensure!(
			!peer.is_empty() && !addrs.is_empty() && addrs.iter().all(|a| !a.is_empty()),
			Error::<T>::InvalidEndpoint
		);
		let deposit = match Endpoints::<T>::get(&who) {
			Some(old) => old.deposit,
			None => {
				let deposit = T::EndpointDeposit::get();
				T::Currency::hold(&HoldReason::Endpoint.into(), &who, deposit)
					.map_err(|_| Error::<T>::InsufficientBalance)?;
				deposit
			}
		};
		Endpoints::<T>::insert(&who, Endpoint { peer: peer.clone(), addrs, deposit });
		Self::deposit_event(Event::EndpointSet { who, peer });
		Ok(())
	}

	/// Removes `who`'s endpoint and releases its deposit.
	pub fn do_clear_endpoint(who: T::AccountId) -> DispatchResult {
		let old = Endpoints::<T>::take(&who).ok_or(Error::<T>::NoEndpoint)?;
		T::Currency::release(
			&HoldReason::Endpoint.into(),
			&who,
			old.deposit,
			Precision::BestEffort,
		)?;
		Self::deposit_event(Event::EndpointCleared { who });
		Ok(())
	}

	fn parse_kind(
		kind: JobKindInputOf<T>,
	) -> Result<JobKind<T::MaxInputs, T::MaxHyperParams>, DispatchError> {
		let parse = |c: &CidInput| Cid::parse(c).map_err(|_| Error::<T>::InvalidCid);
		Ok(match kind {
			JobKindInput::Training { dataset, hyperparams, epochs, group_size } => {
				let steps = Hyper::parse(&hyperparams)
					.map_err(|_| Error::<T>::InvalidHyperParams)?
					.inner_steps;
				JobKind::Training {
					dataset: parse(&dataset)?,
					hyperparams,
					epochs,
					group_size,
					steps,
				}
			}
			JobKindInput::Inference { inputs, committee } => {
				let parsed = inputs.iter().map(parse).collect::<Result<Vec<_>, _>>()?;
				JobKind::Inference {
					inputs: BoundedVec::try_from(parsed).map_err(|_| Error::<T>::JobTooLarge)?,
					committee,
				}
			}
		})
	}

	/// Posts a job; returns its id.
	pub fn do_post_job(
		buyer: T::AccountId,
		kernel_id: KernelId,
		class: ClassId,
		kind: JobKindInputOf<T>,
		samples: u64,
		max_price: BalanceOf<T>,
		deadline: BlockNumberFor<T>,
	) -> Result<JobId, DispatchError> {
		let params = Self::params()?;
		let class_def = ResourceClasses::<T>::get(class).ok_or(Error::<T>::UnknownClass)?;
		let kernel = T::Kernels::kernel(&kernel_id).ok_or(Error::<T>::UnknownKernel)?;
		ensure!(kernel.usable, Error::<T>::KernelDeprecated);
		// A CPU kernel runs anywhere; a CUDA kernel only where the providers have GPUs.
		ensure!(
			kernel.device == DeviceClass::Cpu || class_def.device == DeviceClass::Cuda,
			Error::<T>::DeviceMismatch
		);
		let kind = Self::parse_kind(kind)?;
		ensure!(samples > 0, Error::<T>::ZeroJob);
		let per_sample: u128 = match &kind {
			JobKind::Training { epochs, group_size, .. } => {
				ensure!(kernel.train_flops > 0, Error::<T>::NotTrainable);
				ensure!(*epochs > 0 && *group_size > 0, Error::<T>::ZeroJob);
				ensure!(u64::from(*group_size) <= samples, Error::<T>::ZeroJob);
				ensure!(*group_size <= T::MaxTasksPerJob::get(), Error::<T>::JobTooLarge);
				u128::from(kernel.train_flops).saturating_mul((*epochs).into())
			}
			JobKind::Inference { inputs, committee } => {
				ensure!(!inputs.is_empty() && *committee > 0, Error::<T>::ZeroJob);
				ensure!(*committee <= T::MaxCommittee::get(), Error::<T>::JobTooLarge);
				u128::from(kernel.inference_flops)
			}
		};
		let flops = per_sample.checked_mul(samples.into()).ok_or(Error::<T>::JobTooLarge)?;
		ensure!(work_units(flops) <= u128::from(T::MaxJobWork::get()), Error::<T>::JobTooLarge);
		ensure!(!max_price.is_zero(), Error::<T>::ZeroMaxPrice);
		ensure!(max_price >= class_def.min_price, Error::<T>::PriceBelowFloor);
		let queued_by = QueuedBy::<T>::get(&buyer);
		ensure!(queued_by < T::MaxQueuedPerBuyer::get(), Error::<T>::QueueFull);
		let now = polkadot_sdk::frame_system::Pallet::<T>::block_number();
		ensure!(
			deadline > now.saturating_add(params.accept_window)
				&& deadline <= now.saturating_add(T::MaxJobDuration::get()),
			Error::<T>::InvalidDeadline
		);
		let budget = Self::budget_for(flops, max_price)?;
		let mut queue = Queue::<T>::get();
		let id = NextJob::<T>::get();
		queue.try_push(id).map_err(|_| Error::<T>::QueueFull)?;
		let next = id.checked_add(1).ok_or(ArithmeticError::Overflow)?;
		let slot = Self::find_slot(deadline, 1)?;
		T::Kernels::acquire(&kernel_id)?;
		T::Currency::hold(&HoldReason::JobEscrow.into(), &buyer, budget)
			.map_err(|_| Error::<T>::InsufficientBalance)?;

		Queue::<T>::put(queue);
		QueuedBy::<T>::insert(&buyer, queued_by.saturating_add(1));
		NextJob::<T>::put(next);
		Self::push_deadline(slot, Deadline::Job(id));
		Jobs::<T>::insert(
			id,
			Job {
				buyer: buyer.clone(),
				kernel: kernel_id,
				class,
				kind,
				samples,
				flops,
				max_price,
				deadline: slot,
				budget,
				status: JobStatus::Queued,
				tasks: BoundedVec::new(),
				excluded: BoundedVec::new(),
				in_demand: false,
			},
		);
		Self::deposit_event(Event::JobPosted {
			job: id,
			buyer,
			kernel: kernel_id,
			class,
			work: u64::try_from(work_units(flops)).unwrap_or(u64::MAX),
			budget,
			deadline: slot,
		});
		Ok(id)
	}

	/// Cancels a queued job.
	pub fn do_cancel_job(who: T::AccountId, id: JobId) -> DispatchResult {
		let job = Jobs::<T>::get(id).ok_or(Error::<T>::UnknownJob)?;
		ensure!(job.buyer == who, Error::<T>::NotBuyer);
		ensure!(job.status == JobStatus::Queued, Error::<T>::JobRunning);
		let refund = Self::end_job(id, &job);
		Self::deposit_event(Event::JobCancelled { job: id, refund });
		Ok(())
	}

	/// Removes a job and its tasks, releases offers' load, the kernel and the whole escrow
	/// still held; returns what was released.
	fn end_job(id: JobId, job: &Job<T>) -> BalanceOf<T> {
		for task_id in &job.tasks {
			if let Some(task) = Tasks::<T>::take(task_id) {
				if matches!(task.state, TaskState::Assigned | TaskState::Accepted) {
					Self::unload(task.offer, task.flops);
					Self::remove_deadline(task.due, Deadline::Task(*task_id));
				}
				if task.state != TaskState::Verified {
					Self::release_collateral(&task);
				}
			}
		}
		Self::remove_deadline(job.deadline, Deadline::Job(id));
		Queue::<T>::mutate(|q| q.retain(|j| *j != id));
		if job.status == JobStatus::Queued {
			Self::unqueue(&job.buyer);
		}
		if job.in_demand {
			Stats::<T>::mutate(job.class, |s| s.demand = s.demand.saturating_sub(job.flops));
		}
		T::Kernels::release(&job.kernel);
		Jobs::<T>::remove(id);
		T::Currency::release(
			&HoldReason::JobEscrow.into(),
			&job.buyer,
			job.budget,
			Precision::BestEffort,
		)
		.unwrap_or_default()
	}

	/// One job of `buyer`'s left the queue.
	fn unqueue(buyer: &T::AccountId) {
		QueuedBy::<T>::mutate_exists(buyer, |n| {
			*n = n.and_then(|n| n.checked_sub(1)).filter(|n| *n > 0);
		});
	}

	/// Takes a submitted, missed or abandoned task's work off its offer.
	fn unload(offer_id: OfferId, flops: u128) {
		Offers::<T>::mutate(offer_id, |offer| {
			if let Some(offer) = offer {
				offer.load = offer.load.saturating_sub(flops);
				offer.open_tasks = offer.open_tasks.saturating_sub(1);
				Stats::<T>::mutate(offer.class, |s| s.load = s.load.saturating_sub(flops));
			}
		});
	}

	fn own_task(who: &T::AccountId, id: TaskId) -> Result<TaskEntry<T>, DispatchError> {
		let task = Tasks::<T>::get(id).ok_or(Error::<T>::UnknownTask)?;
		ensure!(&task.provider == who, Error::<T>::NotAssigned);
		Ok(task)
	}

	/// The next due block from `now`, never after the job's deadline.
	fn next_due(
		job: JobId,
		now: BlockNumberFor<T>,
		interval: BlockNumberFor<T>,
	) -> BlockNumberFor<T> {
		let due = now.saturating_add(interval);
		Jobs::<T>::get(job).map_or(due, |j| due.min(j.deadline))
	}

	/// Accepts an assigned task.
	pub fn do_accept(who: T::AccountId, id: TaskId) -> DispatchResult {
		let mut task = Self::own_task(&who, id)?;
		ensure!(task.state == TaskState::Assigned, Error::<T>::WrongTaskState);
		let params = Self::params()?;
		let now = polkadot_sdk::frame_system::Pallet::<T>::block_number();
		let due = Self::find_slot(Self::next_due(task.job, now, params.heartbeat_interval), 1)?;
		Self::remove_deadline(task.due, Deadline::Task(id));
		task.state = TaskState::Accepted;
		task.due = due;
		Tasks::<T>::insert(id, task);
		Self::push_deadline(due, Deadline::Task(id));
		Self::deposit_event(Event::TaskAccepted { task: id, due });
		Ok(())
	}

	/// Declines an assigned task: excluded from its job, the task moves on (see `reassign`).
	pub fn do_decline(who: T::AccountId, id: TaskId) -> DispatchResult {
		let task = Self::own_task(&who, id)?;
		ensure!(task.state == TaskState::Assigned, Error::<T>::WrongTaskState);
		Self::remove_deadline(task.due, Deadline::Task(id));
		Self::deposit_event(Event::TaskDeclined { task: id, provider: who });
		let now = polkadot_sdk::frame_system::Pallet::<T>::block_number();
		Self::reassign(id, task, now);
		Ok(())
	}

	/// Moves an accepted task's next deadline.
	pub fn do_heartbeat(who: T::AccountId, id: TaskId) -> DispatchResult {
		let mut task = Self::own_task(&who, id)?;
		ensure!(task.state == TaskState::Accepted, Error::<T>::WrongTaskState);
		let params = Self::params()?;
		let now = polkadot_sdk::frame_system::Pallet::<T>::block_number();
		let due = Self::find_slot(Self::next_due(task.job, now, params.heartbeat_interval), 1)?;
		Self::remove_deadline(task.due, Deadline::Task(id));
		task.due = due;
		Tasks::<T>::insert(id, task);
		Self::push_deadline(due, Deadline::Task(id));
		Self::deposit_event(Event::Heartbeat { task: id, due });
		Ok(())
	}

	/// Submits an accepted task's result and hands it to verification.
	pub fn do_submit(who: T::AccountId, id: TaskId, result: Cid) -> DispatchResult {
		let mut task = Self::own_task(&who, id)?;
		ensure!(task.state == TaskState::Accepted, Error::<T>::WrongTaskState);
		let job = Jobs::<T>::get(task.job).ok_or(Error::<T>::UnknownJob)?;
		// Verification that cannot end before the job's deadline would leave the work unpaid
		// and the job refunded: refused, so the provider knows now, not after the deadline.
		let now = polkadot_sdk::frame_system::Pallet::<T>::block_number();
		ensure!(
			now.saturating_add(T::Verifier::verification_blocks().into()) < job.deadline,
			Error::<T>::TooLateToVerify
		);
		T::Verifier::verify(id, &Self::task_info(&task, &job), &result)?;
		Self::remove_deadline(task.due, Deadline::Task(id));
		Self::unload(task.offer, task.flops);
		task.state = TaskState::Submitted;
		task.result = Some(result);
		Tasks::<T>::insert(id, task);
		Self::deposit_event(Event::ResultSubmitted { task: id, provider: who, result });
		Ok(())
	}

	fn task_info(task: &TaskEntry<T>, job: &Job<T>) -> TaskInfo<T::AccountId> {
		let (committee, training, epochs, steps) = match job.kind {
			JobKind::Training { epochs, steps, .. } => (0, true, epochs, steps),
			JobKind::Inference { committee, .. } => (committee, false, 0, 0),
		};
		TaskInfo {
			job: task.job,
			kernel: job.kernel,
			provider: task.provider.clone(),
			buyer: job.buyer.clone(),
			work: work_units(task.flops),
			committee,
			training,
			epochs,
			steps,
			collateral: to_u128(task.collateral),
		}
	}

	/// The per-block hook: price indices, deadlines, then allocation.
	pub fn do_on_initialize(now: BlockNumberFor<T>) -> Weight {
		let classes = ClassIds::<T>::get();
		for class in &classes {
			Self::update_index(*class);
		}
		let mut weight =
			T::WeightInfo::on_initialize_index(u32::try_from(classes.len()).unwrap_or(u32::MAX));

		// Deadlines, within the per-block budget (at least one, so the hook always progresses);
		// the rest move to the next block with room and are handled there.
		let due = Deadlines::<T>::take(now);
		let per_entry = Self::reassign_weight()
			.max(T::WeightInfo::on_initialize_job_failed(T::MaxTasksPerJob::get()));
		let budget = weight.saturating_add(T::MaxDeadlineWeight::get());
		weight = weight.saturating_add(T::DbWeight::get().reads_writes(1, 1));
		let mut handled = 0u32;
		for entry in due {
			// An entry with nothing to do costs the one read that tells so.
			weight = weight.saturating_add(T::DbWeight::get().reads(1));
			if !Self::deadline_acts(entry, now) {
				continue;
			}
			if handled > 0 && weight.saturating_add(per_entry).any_gt(budget) {
				weight = weight.saturating_add(
					T::DbWeight::get().reads_writes(u64::from(DEADLINE_PROBE).saturating_add(1), 2),
				);
				match Self::find_slot(now.saturating_add(1u32.into()), 1) {
					Ok(later) => Self::postpone(entry, later),
					// Sixteen full blocks ahead: handle it now (and count it) rather than lose it.
					Err(_) => {
						weight = weight.saturating_add(per_entry);
						Self::handle_deadline(entry, now);
					}
				}
				continue;
			}
			handled = handled.saturating_add(1);
			weight = weight.saturating_add(per_entry);
			Self::handle_deadline(entry, now);
		}

		let mut queue = Queue::<T>::get();
		let attempts =
			T::MaxAllocationsPerBlock::get().min(u32::try_from(queue.len()).unwrap_or(0));
		let mut retry = Vec::new();
		for _ in 0..attempts {
			if queue.is_empty() {
				break;
			}
			let job = queue.remove(0);
			weight = weight.saturating_add(T::WeightInfo::on_initialize_allocate(
				T::MaxOffersPerClass::get(),
				T::MaxTasksPerJob::get(),
			));
			match Self::allocate(job, now) {
				Ok(true) => {}
				Ok(false) => retry.push(job),
				// A job still queued stays in the queue (a full deadline window passes); only
				// one that vanished or runs leaves it.
				Err(_) => {
					if Jobs::<T>::get(job).is_some_and(|j| j.status == JobStatus::Queued) {
						retry.push(job);
					}
				}
			}
		}
		for job in retry {
			// Cannot overflow: these were just removed from the same queue.
			let _ = queue.try_push(job);
		}
		Queue::<T>::put(queue);
		weight
	}

	/// Whether handling `entry` at `now` does anything (one read): its task is still open and
	/// due, or its job still exists.
	fn deadline_acts(entry: Deadline, now: BlockNumberFor<T>) -> bool {
		match entry {
			Deadline::Task(id) => Tasks::<T>::get(id).is_some_and(|t| {
				t.due <= now && matches!(t.state, TaskState::Assigned | TaskState::Accepted)
			}),
			Deadline::Job(id) => Jobs::<T>::contains_key(id),
		}
	}

	/// Moves an entry the hook has no room for to `later`, and the task's due or the job's
	/// deadline with it (so it stays the one entry, where removal looks for it).
	fn postpone(entry: Deadline, later: BlockNumberFor<T>) {
		match entry {
			Deadline::Task(id) => Tasks::<T>::mutate(id, |t| {
				if let Some(t) = t {
					t.due = later;
				}
			}),
			Deadline::Job(id) => Jobs::<T>::mutate(id, |j| {
				if let Some(j) = j {
					j.deadline = later;
				}
			}),
		}
		Self::push_deadline(later, entry);
	}

	/// A task whose next step is overdue misses it; a job past its deadline fails, paying what
	/// was verified. (A provider that accepted and heartbeated to the deadline is not slashed:
	/// the buyer may have kept it from delivering, e.g. with inputs nobody serves, and
	/// `decline_task` is only open before accepting.) Entries left behind by a task that moved on
	/// are ignored.
	fn handle_deadline(entry: Deadline, now: BlockNumberFor<T>) {
		match entry {
			Deadline::Task(id) => {
				if let Some(task) = Tasks::<T>::get(id) {
					if task.due <= now
						&& matches!(task.state, TaskState::Assigned | TaskState::Accepted)
					{
						Self::missed(id, task, now);
					}
				}
			}
			Deadline::Job(id) => {
				if let Some(job) = Jobs::<T>::get(id) {
					Self::fail(id, &job, FailReason::DeadlinePassed);
				}
			}
		}
	}

	/// Moves a class's price index one smoothing step towards `P_base × demand / supply`,
	/// clamped to the class's bounds.
	pub fn update_index(class_id: ClassId) {
		let (Some(class), Some(params)) = (ResourceClasses::<T>::get(class_id), Params::<T>::get())
		else {
			return;
		};
		let stats = Stats::<T>::get(class_id);
		let target = Self::index_target(&class, &stats, params.supply_horizon_secs);
		let old = to_u128(PriceIndex::<T>::get(class_id));
		let new = if target >= old {
			old.saturating_add(params.index_smoothing.mul_ceil(target.saturating_sub(old)))
		} else {
			old.saturating_sub(params.index_smoothing.mul_ceil(old.saturating_sub(target)))
		};
		let new = new.clamp(to_u128(class.min_price), to_u128(class.max_price));
		if let Ok(new) = Self::bal(new) {
			PriceIndex::<T>::insert(class_id, new);
		}
	}

	/// `P_base × demand / supply` clamped to `[min_price, max_price]`; supply is the work active
	/// offers can do over the horizon minus what they carry.
	pub fn index_target(
		class: &ResourceClass<BalanceOf<T>>,
		stats: &ClassStats,
		horizon_secs: u64,
	) -> u128 {
		let (min, max) = (to_u128(class.min_price), to_u128(class.max_price));
		let supply = Self::flops_per_sec(u64::try_from(stats.capacity).unwrap_or(u64::MAX))
			.saturating_mul(horizon_secs.into())
			.saturating_sub(stats.load);
		let target = if stats.demand == 0 {
			min
		} else if supply == 0 {
			max
		} else {
			multiply_by_rational_with_rounding(
				to_u128(class.base_price),
				stats.demand,
				supply,
				Rounding::Down,
			)
			.unwrap_or(max)
		};
		target.clamp(min, max)
	}

	/// The price an offer charges now.
	fn offer_price(offer: &Offer<T>) -> BalanceOf<T> {
		match offer.price {
			PriceSpec::Fixed(p) => p,
			PriceSpec::FollowIndex => PriceIndex::<T>::get(offer.class),
		}
	}

	/// Candidate offers for `job` from `now`: `(candidate, offer id, offer, price)`. Excluded:
	/// paused offers, prices above the job's max, size limits that do not admit the job,
	/// providers without provider stake, providers in `skip`, the job's buyer (finding 26), and
	/// offers whose queued work is more than τ seconds above the class average.
	fn candidates(
		job_id: JobId,
		job: &Job<T>,
		skip: &[T::AccountId],
		now: BlockNumberFor<T>,
		tolerance_secs: u64,
		seed: &H256,
	) -> Vec<(Candidate, OfferId, Offer<T>, BalanceOf<T>)> {
		let per_sample = job.flops.checked_div(job.samples.into()).unwrap_or(0).max(1);
		// What a sample is paid for (and so what its collateral covers), rounded up so the
		// coverage check never admits a task whose collateral exceeds the free stake.
		let billed_per_sample = Self::billed(per_sample, job.flops, Rounding::Up);
		let work = u64::try_from(work_units(job.flops)).unwrap_or(u64::MAX);
		let secs = Self::secs_between(now, job.deadline);
		let offers: Vec<(OfferId, Offer<T>)> = ClassOffers::<T>::get(job.class)
			.into_iter()
			.filter_map(|id| Offers::<T>::get(id).map(|o| (id, o)))
			.filter(|(_, o)| o.status == OfferStatus::Active)
			.collect();
		// Queued seconds per offer, in milliseconds for precision.
		let queued = |o: &Offer<T>| {
			o.load
				.saturating_mul(1_000)
				.checked_div(Self::flops_per_sec(o.capacity))
				.unwrap_or(u128::MAX)
		};
		let count = offers.len().max(1) as u128;
		let average = offers
			.iter()
			.map(|(_, o)| queued(o))
			.fold(0u128, u128::saturating_add)
			.checked_div(count)
			.unwrap_or(0);
		let limit = average.saturating_add(u128::from(tolerance_secs).saturating_mul(1_000));
		let percent = Params::<T>::get().map_or(0, |p| p.collateral_percent);
		let mut out = Vec::new();
		for (id, offer) in offers {
			let price = Self::offer_price(&offer);
			if price > job.max_price
				|| work < offer.min_job
				|| work > offer.max_job
				|| skip.contains(&offer.provider)
				|| offer.provider == job.buyer
				|| queued(&offer) > limit
				|| T::Staking::ensure_provider(&offer.provider).is_err()
			{
				continue;
			}
			let free =
				Self::flops_per_sec(offer.capacity).saturating_mul(secs).saturating_sub(offer.load);
			let max = u64::try_from(free.checked_div(per_sample).unwrap_or(0)).unwrap_or(u64::MAX);
			// No more work than the provider's free stake covers as collateral (finding 15).
			let covered = Self::samples_covered(
				Self::free_collateral(&offer.provider),
				billed_per_sample,
				price,
				percent,
			);
			let max = max.min(covered);
			let key = H256(polkadot_sdk::sp_io::hashing::blake2_256(&(seed, job_id, id).encode()));
			// `index` is the position in the returned list.
			let candidate = Candidate {
				index: u32::try_from(out.len()).unwrap_or(u32::MAX),
				price: to_u128(price),
				max,
				key,
			};
			out.push((candidate, id, offer, price));
		}
		out
	}

	fn seed() -> H256 {
		let (random, _) = T::Randomness::random(&b"verity/market/allocation"[..]);
		H256(polkadot_sdk::sp_io::hashing::blake2_256(random.as_ref()))
	}

	/// Tries to allocate a queued job; `Ok(false)` if it does not fit yet.
	pub fn allocate(id: JobId, now: BlockNumberFor<T>) -> Result<bool, DispatchError> {
		let mut job = Jobs::<T>::get(id).ok_or(Error::<T>::UnknownJob)?;
		ensure!(job.status == JobStatus::Queued, Error::<T>::JobRunning);
		let params = Self::params()?;
		let found = Self::candidates(
			id,
			&job,
			&job.excluded,
			now,
			params.load_tolerance_secs,
			&Self::seed(),
		);
		// The job is demand once an offer could take it at its price and size, room or not
		// (finding 6: jobs priced below every offer no longer pump the index).
		let counted = !job.in_demand && !found.is_empty();
		if counted {
			job.in_demand = true;
			Stats::<T>::mutate(job.class, |s| s.demand = s.demand.saturating_add(job.flops));
		}
		let plain: Vec<Candidate> = found.iter().map(|(c, ..)| *c).collect();
		let allocation = match &job.kind {
			JobKind::Inference { .. } => {
				allocation::cheapest_first(job.samples, plain, T::MaxTasksPerJob::get() as usize)
			}
			JobKind::Training { group_size, .. } => {
				allocation::cheapest_group(&allocation::shards(job.samples, *group_size), plain)
			}
		};
		// Everything that can fail, before anything is written.
		let plan = allocation
			.map(|allocation| -> Result<_, DispatchError> {
				let n = u32::try_from(allocation.len()).map_err(|_| ArithmeticError::Overflow)?;
				ensure!(n <= T::MaxTasksPerJob::get(), Error::<T>::JobTooLarge);
				let due = Self::find_slot(now.saturating_add(params.accept_window), n)?;
				let first_task = NextTask::<T>::get();
				let next = first_task.checked_add(n.into()).ok_or(ArithmeticError::Overflow)?;
				let per_sample = job
					.flops
					.checked_div(job.samples.into())
					.ok_or(ArithmeticError::DivisionByZero)?;
				Ok((allocation, due, first_task, next, per_sample))
			})
			.transpose();
		let (allocation, due, first_task, next, per_sample) = match plan {
			Ok(Some(plan)) => plan,
			// The job waits, or cannot be placed: it keeps its count (the hook has no
			// transaction to undo it). A placed job is written once, below.
			waits_or_failed => {
				if counted {
					Jobs::<T>::insert(id, &job);
				}
				return waits_or_failed.map(|_| false);
			}
		};

		NextTask::<T>::put(next);
		let mut task_id = first_task;
		let mut first_sample = 0u64;
		for (index, samples) in allocation {
			let Some((_, offer_id, offer, price)) = found.get(index as usize) else { continue };
			let task = TaskEntry {
				job: id,
				provider: offer.provider.clone(),
				offer: *offer_id,
				first_sample,
				samples,
				flops: per_sample.saturating_mul(samples.into()),
				price: *price,
				state: TaskState::Assigned,
				assigned_at: now,
				due,
				reassignments: 0,
				result: None,
				credited: BoundedVec::new(),
				collateral: Zero::zero(),
			};
			Self::place(task_id, task, job.flops);
			Self::push_deadline(due, Deadline::Task(task_id));
			// Cannot overflow: `n ≤ MaxTasksPerJob` was checked.
			let _ = job.tasks.try_push(task_id);
			task_id = task_id.saturating_add(1);
			first_sample = first_sample.saturating_add(samples);
		}
		job.status = JobStatus::Running;
		Self::unqueue(&job.buyer);
		Jobs::<T>::insert(id, job);
		Ok(true)
	}

	/// Stores an assigned task of a job of `job_flops`, loads its offer and keeps its
	/// collateral bonded.
	fn place(id: TaskId, mut task: TaskEntry<T>, job_flops: u128) {
		let percent = Params::<T>::get().map_or(0, |p| p.collateral_percent);
		task.collateral =
			Self::collateral_of(task.flops, job_flops, task.price, percent).unwrap_or_default();
		Self::lock_collateral(&task);
		Offers::<T>::mutate(task.offer, |offer| {
			if let Some(offer) = offer {
				offer.load = offer.load.saturating_add(task.flops);
				offer.open_tasks = offer.open_tasks.saturating_add(1);
				Stats::<T>::mutate(offer.class, |s| s.load = s.load.saturating_add(task.flops));
			}
		});
		Self::deposit_event(Event::TaskAssigned {
			task: id,
			job: task.job,
			provider: task.provider.clone(),
			offer: task.offer,
			first_sample: task.first_sample,
			samples: task.samples,
			price: task.price,
			accept_by: task.due,
		});
		Tasks::<T>::insert(id, task);
	}

	/// A provider missed its task's deadline: penalise, exclude, reassign.
	fn missed(id: TaskId, task: TaskEntry<T>, now: BlockNumberFor<T>) {
		let penalty = Params::<T>::get().map(|p| p.missed_deadline_penalty).unwrap_or_default();
		let slashed = T::Staking::slash(&task.provider, penalty, SlashReason::MissedDeadline);
		// Its offer is unloaded by `reassign` (moved) or `end_job` (failed): once, either way.
		Self::deposit_event(Event::DeadlineMissed {
			task: id,
			provider: task.provider.clone(),
			penalty: slashed,
		});
		Self::reassign(id, task, now);
	}

	/// Gives a task to the cheapest other candidate, or fails its job. `task` is as stored: an
	/// open one (missed) still loads its offer until it moves; a submitted one (rejected) no
	/// longer does.
	fn reassign(id: TaskId, mut task: TaskEntry<T>, now: BlockNumberFor<T>) {
		let Some(mut job) = Jobs::<T>::get(task.job) else { return };
		let fail = |job: &Job<T>| Self::fail(task.job, job, FailReason::NoProvider);
		let Ok(params) = Self::params() else { return fail(&job) };
		if job.excluded.try_push(task.provider.clone()).is_err()
			|| task.reassignments >= params.max_reassignments
		{
			return fail(&job);
		}
		// Skip the excluded and everyone already working on the job.
		let mut skip: Vec<T::AccountId> = job.excluded.to_vec();
		skip.extend(job.tasks.iter().filter_map(Tasks::<T>::get).map(|t| t.provider));
		let found =
			Self::candidates(task.job, &job, &skip, now, params.load_tolerance_secs, &Self::seed());
		let plain: Vec<Candidate> = found.iter().map(|(c, ..)| *c).collect();
		let choice = allocation::cheapest_group(&[task.samples], plain)
			.and_then(|a| a.first().copied())
			.and_then(|(index, _)| found.get(index as usize));
		let (Some((_, offer_id, offer, price)), Ok(due)) =
			(choice, Self::find_slot(now.saturating_add(params.accept_window), 1))
		else {
			return fail(&job);
		};
		if matches!(task.state, TaskState::Assigned | TaskState::Accepted) {
			Self::unload(task.offer, task.flops);
		}
		Self::release_collateral(&task);
		task.provider = offer.provider.clone();
		task.offer = *offer_id;
		task.price = *price;
		task.state = TaskState::Assigned;
		task.assigned_at = now;
		task.due = due;
		task.result = None;
		task.reassignments = task.reassignments.saturating_add(1);
		let (info, group, job_flops) = (Self::task_info(&task, &job), job.tasks.clone(), job.flops);
		Jobs::<T>::insert(task.job, job);
		Self::place(id, task, job_flops);
		Self::push_deadline(due, Deadline::Task(id));
		if info.training {
			T::Verifier::task_reassigned(id, &info, &group);
		}
	}

	/// The most a reassignment weighs (over every offer of a class), the verifier's part
	/// included.
	pub fn reassign_weight() -> Weight {
		Self::reassign_weight_over(T::MaxOffersPerClass::get())
	}

	fn reassign_weight_over(offers: u32) -> Weight {
		T::WeightInfo::on_initialize_task_missed(offers)
			.saturating_add(T::Verifier::reassigned_weight())
	}

	/// Pays a job whose tasks are all verified and ends it.
	fn complete(id: JobId, job: &Job<T>) {
		let model = Self::trained_model(job);
		let (paid, fees, verifiers, rest) = Self::pay_verified(job);
		let refund = Self::end_job(id, &rest);
		Self::deposit_event(Event::JobCompleted { job: id, paid, fee: fees, verifiers, refund });
		if let Some(model) = model {
			Self::deposit_event(Event::ModelTrained {
				job: id,
				kernel: model.kernel,
				checkpoint: model.checkpoint,
			});
			TrainedModels::<T>::insert(id, model);
		}
	}

	/// A verified training job's model: the checkpoint most of its tasks were verified with
	/// (the first in task order on a tie); `None` for inference.
	fn trained_model(job: &Job<T>) -> Option<TrainedModel<T::AccountId>> {
		let JobKind::Training { epochs, .. } = job.kind else { return None };
		let results: Vec<Cid> =
			job.tasks.iter().filter_map(Tasks::<T>::get).filter_map(|t| t.result).collect();
		let count = |c: &Cid| results.iter().filter(|r| *r == c).count();
		let mut best: Option<(Cid, usize)> = None;
		for c in &results {
			let n = count(c);
			if best.is_none_or(|(_, most)| n > most) {
				best = Some((*c, n));
			}
		}
		best.map(|(checkpoint, _)| TrainedModel {
			kernel: job.kernel,
			buyer: job.buyer.clone(),
			checkpoint,
			epochs,
			version: None,
		})
	}

	/// Ends a job that cannot complete: its verified tasks are paid as if it had (verified work
	/// is never given away), the rest of the escrow goes back to the buyer.
	fn fail(id: JobId, job: &Job<T>, reason: FailReason) {
		let (paid, fee, verifiers, rest) = Self::pay_verified(job);
		if !(paid.is_zero() && fee.is_zero() && verifiers.is_zero()) {
			Self::deposit_event(Event::VerifiedTasksPaid { job: id, paid, fee, verifiers });
		}
		let refund = Self::end_job(id, &rest);
		Self::deposit_event(Event::JobFailed { job: id, refund, reason });
	}

	/// Pays every verified task of `job` from its escrow: the provider its cost less the
	/// protocol fee, the fee, the verifiers that agreed the margin. Returns what went to each and
	/// the job with the budget left.
	fn pay_verified(job: &Job<T>) -> (BalanceOf<T>, BalanceOf<T>, BalanceOf<T>, Job<T>) {
		let params = Params::<T>::get();
		let fee_rate = params.map_or(Perbill::zero(), |p| p.protocol_fee);
		let margin_rate = params.map_or(Perbill::zero(), |p| p.verification_margin);
		let reason = HoldReason::JobEscrow.into();
		let pay = |to: &T::AccountId, amount: BalanceOf<T>| -> BalanceOf<T> {
			if amount.is_zero() {
				return amount;
			}
			// A payment that cannot be made (e.g. below the existential deposit of a new
			// account) stays with the buyer.
			T::Currency::transfer_on_hold(
				&reason,
				&job.buyer,
				to,
				amount,
				Precision::Exact,
				Restriction::Free,
				Fortitude::Polite,
			)
			.unwrap_or_default()
		};
		let (mut paid, mut fees, mut verifiers) =
			(BalanceOf::<T>::zero(), BalanceOf::<T>::zero(), BalanceOf::<T>::zero());
		for task in job.tasks.iter().filter_map(Tasks::<T>::get) {
			if task.state != TaskState::Verified {
				continue;
			}
			let cost = Self::task_value(task.flops, job.flops, task.price).unwrap_or_default();
			let fee = fee_rate.mul_floor(cost);
			paid = paid.saturating_add(pay(&task.provider, cost.saturating_sub(fee)));
			fees = fees.saturating_add(pay(&T::FeeDestination::get(), fee));
			let margin = margin_rate.mul_floor(cost);
			let count = u32::try_from(task.credited.len()).unwrap_or(1).max(1);
			let share = margin.checked_div(&count.into()).unwrap_or_default();
			for verifier in &task.credited {
				verifiers = verifiers.saturating_add(pay(verifier, share));
			}
		}
		let spent = paid.saturating_add(fees).saturating_add(verifiers);
		let mut rest = job.clone();
		rest.budget = job.budget.saturating_sub(spent);
		(paid, fees, verifiers, rest)
	}

	/// Storage invariants: each buyer's escrow hold equals the budgets of its open jobs; each
	/// offer's load and open-task count equal those of its assigned or accepted tasks, and the
	/// load fits its capacity between the earliest assignment and the latest deadline; every
	/// task belongs to a live job that lists it, every open task to a live offer of its provider;
	/// queued jobs are queued and task-less; class totals equal the sums they summarise.
	#[cfg(any(feature = "try-runtime", feature = "std", test))]
	pub fn do_try_state() -> Result<(), polkadot_sdk::sp_runtime::TryRuntimeError> {
		use alloc::collections::btree_map::BTreeMap;
		use polkadot_sdk::frame_support::traits::fungible::InspectHold;

		let mut escrow: BTreeMap<T::AccountId, u128> = BTreeMap::new();
		let mut demand: BTreeMap<ClassId, u128> = BTreeMap::new();
		let queue = Queue::<T>::get();
		let mut queued_by: BTreeMap<T::AccountId, u32> = BTreeMap::new();
		for (id, job) in Jobs::<T>::iter() {
			if job.status == JobStatus::Queued {
				let n = queued_by.entry(job.buyer.clone()).or_default();
				*n = n.saturating_add(1);
			}
			let e = escrow.entry(job.buyer.clone()).or_default();
			*e = e.saturating_add(to_u128(job.budget));
			if job.in_demand {
				let d = demand.entry(job.class).or_default();
				*d = d.saturating_add(job.flops);
			}
			match job.status {
				JobStatus::Running => ensure!(job.in_demand, "running job not counted as demand"),
				JobStatus::Queued => {}
			}
			match job.status {
				JobStatus::Queued => ensure!(
					queue.contains(&id) && job.tasks.is_empty(),
					"queued job not in the queue or with tasks"
				),
				JobStatus::Running => ensure!(!job.tasks.is_empty(), "running job without tasks"),
			}
			for t in &job.tasks {
				ensure!(Tasks::<T>::get(t).map(|t| t.job) == Some(id), "job lists a foreign task");
			}
		}
		ensure!(
			QueuedBy::<T>::iter().collect::<BTreeMap<_, _>>() == queued_by,
			"queued jobs per buyer out of sync"
		);
		for (who, sum) in escrow {
			ensure!(
				to_u128(T::Currency::balance_on_hold(&HoldReason::JobEscrow.into(), &who)) == sum,
				"escrow held differs from open budgets"
			);
		}
		// Every job and every task awaiting its provider holds exactly one deadline entry, where
		// its `deadline`/`due` says; nothing else does (security review, finding 27).
		let key = |d: &Deadline| match d {
			Deadline::Task(id) => (false, *id),
			Deadline::Job(id) => (true, *id),
		};
		let mut entries: BTreeMap<(bool, u64), (u32, BlockNumberFor<T>)> = BTreeMap::new();
		for (at, list) in Deadlines::<T>::iter() {
			for entry in list {
				let e = entries.entry(key(&entry)).or_insert((0, at));
				e.0 = e.0.saturating_add(1);
			}
		}
		for (id, job) in Jobs::<T>::iter() {
			ensure!(
				entries.remove(&key(&Deadline::Job(id))) == Some((1, job.deadline)),
				"a job without its one deadline entry"
			);
		}
		for (id, task) in Tasks::<T>::iter() {
			if matches!(task.state, TaskState::Assigned | TaskState::Accepted) {
				ensure!(
					entries.remove(&key(&Deadline::Task(id))) == Some((1, task.due)),
					"an open task without its one deadline entry"
				);
			}
		}
		ensure!(entries.is_empty(), "deadline entries of nothing open");
		let mut loads: BTreeMap<OfferId, (u128, u32, BlockNumberFor<T>, BlockNumberFor<T>)> =
			BTreeMap::new();
		// Each provider's collateral is that of its tasks not yet verified (finding 15).
		let mut collateral: BTreeMap<T::AccountId, u128> = BTreeMap::new();
		for (id, task) in Tasks::<T>::iter() {
			if task.state != TaskState::Verified && !task.collateral.is_zero() {
				let c = collateral.entry(task.provider.clone()).or_default();
				*c = c.saturating_add(to_u128(task.collateral));
			}
			let job = Jobs::<T>::get(task.job).ok_or("task of a missing job")?;
			ensure!(job.tasks.contains(&id), "job does not list its task");
			if matches!(task.state, TaskState::Assigned | TaskState::Accepted) {
				let offer = Offers::<T>::get(task.offer).ok_or("open task on a missing offer")?;
				ensure!(offer.provider == task.provider, "task and offer providers differ");
				let entry =
					loads.entry(task.offer).or_insert((0, 0, task.assigned_at, job.deadline));
				entry.0 = entry.0.saturating_add(task.flops);
				entry.1 = entry.1.saturating_add(1);
				entry.2 = entry.2.min(task.assigned_at);
				entry.3 = entry.3.max(job.deadline);
			}
		}
		for (who, locked) in Collateral::<T>::iter() {
			ensure!(
				collateral.remove(&who) == Some(to_u128(locked)),
				"collateral out of sync with open tasks"
			);
		}
		ensure!(collateral.is_empty(), "open tasks' collateral not kept");
		let mut class_load: BTreeMap<ClassId, u128> = BTreeMap::new();
		let mut class_capacity: BTreeMap<ClassId, u128> = BTreeMap::new();
		for (id, offer) in Offers::<T>::iter() {
			let (load, open, from, until) = loads.get(&id).copied().unwrap_or_default();
			ensure!(offer.load == load && offer.open_tasks == open, "offer load out of sync");
			ensure!(
				load <= Self::flops_per_sec(offer.capacity)
					.saturating_mul(Self::secs_between(from, until)),
				"offer over capacity"
			);
			ensure!(ClassOffers::<T>::get(offer.class).contains(&id), "offer not in its class");
			ensure!(offer.supply <= offer.capacity, "offer's supply above its capacity");
			let l = class_load.entry(offer.class).or_default();
			*l = l.saturating_add(load);
			if offer.status == OfferStatus::Active {
				let c = class_capacity.entry(offer.class).or_default();
				*c = c.saturating_add(u128::from(offer.supply));
			}
		}
		for class in ClassIds::<T>::get() {
			let stats = Stats::<T>::get(class);
			ensure!(
				stats.demand == demand.get(&class).copied().unwrap_or_default()
					&& stats.load == class_load.get(&class).copied().unwrap_or_default()
					&& stats.capacity == class_capacity.get(&class).copied().unwrap_or_default(),
				"class totals out of sync"
			);
		}
		for id in queue {
			ensure!(
				Jobs::<T>::get(id).map(|j| j.status) == Some(JobStatus::Queued),
				"queue holds a job that is not queued"
			);
		}
		Ok(())
	}
}

impl<T: Config> TaskOutcome<T::AccountId> for Pallet<T> {
	fn task(id: TaskId) -> Option<TaskInfo<T::AccountId>> {
		let task = Tasks::<T>::get(id)?;
		Jobs::<T>::get(task.job).map(|job| Self::task_info(&task, &job))
	}

	fn task_verified(id: TaskId, result: Cid, credited: &[T::AccountId]) -> DispatchResult {
		let mut task = Tasks::<T>::get(id).ok_or(Error::<T>::UnknownTask)?;
		ensure!(task.state == TaskState::Submitted, Error::<T>::WrongTaskState);
		let job_id = task.job;
		let job = Jobs::<T>::get(job_id).ok_or(Error::<T>::UnknownJob)?;
		// The final committee first (its places are certain), then the auditors credited before
		// (finding 15), each once, as many as fit.
		let mut all: BoundedVec<T::AccountId, T::MaxCommittee> =
			BoundedVec::try_from(credited.to_vec()).map_err(|_| Error::<T>::JobTooLarge)?;
		Self::credit(&mut all, &task.credited);
		task.credited = all;
		Self::release_collateral(&task);
		task.state = TaskState::Verified;
		task.result = Some(result);
		Tasks::<T>::insert(id, task);
		Self::deposit_event(Event::TaskVerified { task: id, result });
		let done = job
			.tasks
			.iter()
			.all(|t| Tasks::<T>::get(t).is_some_and(|t| t.state == TaskState::Verified));
		if done {
			Self::complete(job_id, &job);
		}
		Ok(())
	}

	fn task_audited(id: TaskId, auditors: &[T::AccountId]) {
		Tasks::<T>::mutate(id, |task| {
			if let Some(task) = task {
				Self::credit(&mut task.credited, auditors);
			}
		});
	}

	fn task_failed(id: TaskId) -> DispatchResult {
		let task = Tasks::<T>::get(id).ok_or(Error::<T>::UnknownTask)?;
		ensure!(task.state == TaskState::Submitted, Error::<T>::WrongTaskState);
		let job = Jobs::<T>::get(task.job).ok_or(Error::<T>::UnknownJob)?;
		Self::fail(task.job, &job, FailReason::NotVerified);
		Ok(())
	}

	/// The worst of completing a job of `MaxTasksPerJob` tasks (paying each and its committee,
	/// keeping a trained model), reassigning a task over `MaxOffersPerClass` offers, and failing
	/// a job (security review, finding 12: this was charged nowhere).
	fn outcome_weight() -> Weight {
		let (tasks, offers) = (T::MaxTasksPerJob::get(), T::MaxOffersPerClass::get());
		T::WeightInfo::complete_job(tasks)
			.max(Self::reassign_weight_over(offers))
			.max(T::WeightInfo::on_initialize_job_failed(tasks))
	}

	fn task_rejected(id: TaskId) -> DispatchResult {
		let task = Tasks::<T>::get(id).ok_or(Error::<T>::UnknownTask)?;
		ensure!(task.state == TaskState::Submitted, Error::<T>::WrongTaskState);
		Self::deposit_event(Event::TaskRejected { task: id, provider: task.provider.clone() });
		let now = polkadot_sdk::frame_system::Pallet::<T>::block_number();
		Self::reassign(id, task, now);
		Ok(())
	}
}

impl<T: Config> TrainingRecords<T::AccountId> for Pallet<T> {
	fn trained(job: JobId) -> Option<TrainedModel<T::AccountId>> {
		TrainedModels::<T>::get(job)
	}

	fn set_version(job: JobId, version: Option<KernelId>) {
		TrainedModels::<T>::mutate(job, |m| {
			if let Some(m) = m {
				m.version = version;
			}
		});
	}
}
