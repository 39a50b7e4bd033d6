//! Ring AllReduce over real libp2p sockets (TCP + Noise + yamux on loopback), in-process peers:
//! correctness and bit-identical results, and a peer that sends bad chunks.

use std::time::Duration;
use tokio::sync::mpsc;
use verity_worker::{
	collective::{AllReduceError, Collective, CollectiveConfig, Group, Wire},
	p2p::{
		allreduce::{Chunk, ChunkAnswer},
		mesh, mesh_with, AllReduceEvent, Net,
	},
};

/// Nodes named `names`, connected to each other (the shared helper the benchmarks use too).
async fn nodes(names: &[&str]) -> Vec<(Net, mpsc::Receiver<AllReduceEvent>)> {
	let seeds: Vec<String> = names.iter().map(|n| n.to_string()).collect();
	let mesh = mesh(&seeds, Duration::from_secs(30)).await.unwrap();
	mesh.into_iter().map(|(net, inbound)| (net, inbound.allreduce)).collect()
}

fn small_chunks() -> CollectiveConfig {
	// 64-byte chunks: many chunks per segment, so the pipelining and the chunk bookkeeping are used.
	CollectiveConfig { chunk_bytes: 64, window: 4, stall_timeout: Duration::from_secs(5) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_sum_exactly_and_identically() {
	let mut nets = Vec::new();
	let mut collectives = Vec::new();
	for (net, events) in nodes(&["ar-0", "ar-1", "ar-2"]).await {
		collectives.push(Collective::start(net.clone(), events, small_chunks()));
		nets.push(net);
	}
	let group = Group::new(0, nets.iter().map(|n| n.peer_id).collect());
	for (round, len) in [(1u64, 1001usize), (2, 2), (3, 0), (4, 4096)] {
		let mut tasks = Vec::new();
		for (i, c) in collectives.iter().enumerate() {
			let data: Vec<f32> = (0..len).map(|k| (k * (i + 1)) as f32 + 0.25 * i as f32).collect();
			let (c, g) = (c.clone(), group.clone());
			tasks.push(tokio::spawn(async move { c.all_reduce(&g, round, data).await }));
		}
		let mut results = Vec::new();
		for t in tasks {
			results.push(t.await.unwrap().unwrap());
		}
		let expected: Vec<f32> = (0..len).map(|k| (6 * k) as f32 + 0.75).collect();
		assert_eq!(results[0], expected, "round {round}");
		for r in &results {
			let bits: Vec<u32> = r.iter().map(|x| x.to_bits()).collect();
			let first: Vec<u32> = results[0].iter().map(|x| x.to_bits()).collect();
			assert_eq!(bits, first, "bit-identical on every member");
		}
	}
	// Non-integer values: still bit-identical across members (fixed ring order).
	let mut tasks = Vec::new();
	for (i, c) in collectives.iter().enumerate() {
		let data: Vec<f32> = (0..777).map(|k| ((k as f32) * 0.1 + i as f32).sin() * 1e-3).collect();
		let (c, g) = (c.clone(), group.clone());
		tasks.push(tokio::spawn(async move { c.all_reduce(&g, 5, data).await }));
	}
	let mut bits = Vec::new();
	for t in tasks {
		bits.push(t.await.unwrap().unwrap().iter().map(|x| x.to_bits()).collect::<Vec<_>>());
	}
	assert!(bits.iter().all(|b| *b == bits[0]));
	// The chunks went on the bulk lane: each member's to its ring successor.
	for (i, net) in nets.iter().enumerate() {
		let successor = group.members[(group.rank(&net.peer_id).unwrap() + 1) % 3];
		assert_eq!(net.bulk_peers().await, vec![successor], "member {i}");
	}
}

/// A member without a bulk lane (an older worker) refuses the offer: its predecessor sends it
/// chunks over `/verity/allreduce/1`, the others use the bulk lane, and the sums are the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_without_a_bulk_lane_gets_its_chunks_over_libp2p_and_the_sum_is_the_same() {
	let seeds = [("mixed-0", true), ("mixed-1", false), ("mixed-2", true)]
		.map(|(s, bulk)| (s.to_string(), bulk));
	let mut nets = Vec::new();
	let mut collectives = Vec::new();
	for (net, inbound) in mesh_with(&seeds, Duration::from_secs(30)).await.unwrap() {
		collectives.push(Collective::start(net.clone(), inbound.allreduce, small_chunks()));
		nets.push(net);
	}
	let group = Group::new(0, nets.iter().map(|n| n.peer_id).collect());
	for round in 1..=3u64 {
		let mut tasks = Vec::new();
		for (i, c) in collectives.iter().enumerate() {
			let data: Vec<f32> = (0..999).map(|k| ((k * 7 + i) as f32 * 0.37).cos()).collect();
			let (c, g) = (c.clone(), group.clone());
			tasks.push(tokio::spawn(async move { c.all_reduce(&g, round, data).await }));
		}
		let mut bits = Vec::new();
		for t in tasks {
			bits.push(t.await.unwrap().unwrap().iter().map(|x| x.to_bits()).collect::<Vec<_>>());
		}
		assert!(bits.iter().all(|b| *b == bits[0]), "round {round}: bit-identical");
		let expected: Vec<u32> = {
			// The ring's order of additions, done here: segment j's sum starts at member j+1.
			let data: Vec<Vec<f32>> = (0..3)
				.map(|i| (0..999).map(|k| ((k * 7 + i) as f32 * 0.37).cos()).collect())
				.collect();
			let rank = |p: &libp2p::PeerId| group.rank(p).unwrap();
			let by_rank: Vec<&Vec<f32>> = {
				let mut v: Vec<(usize, &Vec<f32>)> =
					nets.iter().enumerate().map(|(i, n)| (rank(&n.peer_id), &data[i])).collect();
				v.sort_by_key(|(r, _)| *r);
				v.into_iter().map(|(_, d)| d).collect()
			};
			(0..999)
				.map(|k| {
					let seg = (0..3).find(|&j| segment_of(999, 3, j).contains(&k)).unwrap();
					let mut sum = by_rank[seg][k];
					sum += by_rank[(seg + 1) % 3][k];
					sum += by_rank[(seg + 2) % 3][k];
					sum.to_bits()
				})
				.collect()
		};
		assert_eq!(bits[0], expected, "round {round}: the ring's sum");
	}
	// The member without a lane has none; its predecessor sends to it over libp2p; the third
	// member sends on the bulk lane to its successor.
	let no_lane = nets[1].peer_id;
	assert!(nets[1].bulk_peers().await.is_empty());
	let rank = group.rank(&no_lane).unwrap();
	let predecessor = group.members[(rank + 2) % 3];
	let third = group.members[(rank + 1) % 3];
	for net in &nets {
		let lanes = net.bulk_peers().await;
		if net.peer_id == predecessor {
			assert!(lanes.is_empty(), "the predecessor sends to {no_lane} over libp2p: {lanes:?}");
		} else if net.peer_id == third {
			assert_eq!(lanes, vec![predecessor], "the third member's lane to its successor");
		}
	}
}

/// Segment `j` of `n` over `len` values, as the ring cuts them.
fn segment_of(len: usize, n: usize, j: usize) -> std::ops::Range<usize> {
	let (base, extra) = (len / n, len % n);
	let start = j * base + j.min(extra);
	start..start + base + usize::from(j < extra)
}

/// A rogue peer (its own libp2p node speaking the protocol) sends bad chunks to an honest member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_chunks_abort_the_round_with_a_clear_error_and_the_worker_goes_on() {
	let mut mesh = nodes(&["honest", "rogue", "friend"]).await.into_iter();
	let (honest, events) = mesh.next().unwrap();
	let collective = Collective::start(honest.clone(), events, small_chunks());
	let (rogue, _rogue_events) = mesh.next().unwrap();
	let (friend, friend_events) = mesh.next().unwrap();
	let friend_collective = Collective::start(friend.clone(), friend_events, small_chunks());

	let group = Group::new(0, vec![honest.peer_id, rogue.peer_id]);
	let send = |chunk: Chunk| {
		let rogue = rogue.clone();
		let to = honest.peer_id;
		async move {
			// Give the honest member's round time to begin.
			tokio::time::sleep(Duration::from_millis(200)).await;
			rogue.send_chunk(to, chunk).await.await.unwrap().unwrap()
		}
	};
	// Starts the honest member's round `round`.
	let start = |round: u64| {
		let (c, g) = (collective.clone(), group.clone());
		tokio::spawn(async move { c.all_reduce(&g, round, vec![1.0; 32]).await })
	};

	// 1. Wrong size: 8 values in a round whose segment chunks hold 16 values.
	let round = start(1);
	let answer =
		send(Chunk { generation: 0, round: 1, step: 0, chunk: 0, payload: vec![0; 32] }).await;
	let ChunkAnswer::Refused(text) = answer else {
		panic!("a wrong-size chunk was accepted: {answer:?}")
	};
	assert!(text.contains("has 32 bytes, expected 64"), "{text}");
	let err = round.await.unwrap().unwrap_err();
	assert!(matches!(err, AllReduceError::BadChunk { .. }), "{err}");
	assert!(err.to_string().contains("expected 64"), "{err}");

	// 2. Wrong round number.
	let round = start(2);
	let answer =
		send(Chunk { generation: 0, round: 9, step: 0, chunk: 0, payload: vec![0; 64] }).await;
	assert!(matches!(answer, ChunkAnswer::Refused(ref t) if t.contains("round 9")), "{answer:?}");
	let err = round.await.unwrap().unwrap_err();
	assert!(err.to_string().contains("round 9"), "{err}");

	// 3. A step outside the ring.
	let round = start(3);
	let answer =
		send(Chunk { generation: 0, round: 3, step: 5, chunk: 0, payload: vec![0; 64] }).await;
	assert!(
		matches!(answer, ChunkAnswer::Refused(ref t) if t.contains("step 5 out of range")),
		"{answer:?}"
	);
	assert!(round.await.unwrap().is_err());

	// 4. A peer that says nothing: the round stalls and fails after the timeout, no hang.
	let started = std::time::Instant::now();
	let err = collective.all_reduce(&group, 4, vec![1.0; 32]).await.unwrap_err();
	assert!(matches!(err, AllReduceError::Stalled(..)), "{err}");
	assert!(started.elapsed() < Duration::from_secs(30));

	// The worker still runs: an honest round with another peer succeeds.
	let good = Group::new(1, vec![honest.peer_id, friend.peer_id]);
	let (c, g) = (friend_collective.clone(), good.clone());
	let other = tokio::spawn(async move { c.all_reduce(&g, 1, vec![2.0; 32]).await });
	let mine = collective.all_reduce(&good, 1, vec![1.0; 32]).await.unwrap();
	assert_eq!(mine, vec![3.0; 32]);
	assert_eq!(other.await.unwrap().unwrap(), mine);
}

/// Members that re-formed a different number of times meet at the newest generation: the one
/// ahead keeps its round, the ones behind fail with the generation to re-form at, and the round at
/// that generation completes with the exact sum.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_a_generation_behind_learn_the_newer_one_and_the_round_completes() {
	let mut nets = Vec::new();
	let mut collectives = Vec::new();
	for (net, events) in nodes(&["gen-0", "gen-1", "gen-2"]).await {
		collectives.push(Collective::start(net.clone(), events, small_chunks()));
		nets.push(net);
	}
	let peers: Vec<_> = nets.iter().map(|n| n.peer_id).collect();
	let reduce = |i: usize, generation: u64| {
		let (c, g) = (collectives[i].clone(), Group::new(generation, peers.clone()));
		tokio::spawn(async move { c.all_reduce(&g, 1, vec![(i + 1) as f32; 100]).await })
	};
	// Member 0 re-formed once more than the others.
	let ahead = reduce(0, 8);
	let behind = [reduce(1, 7), reduce(2, 7)];
	let mut retries = Vec::new();
	for (i, t) in behind.into_iter().enumerate() {
		let err = t.await.unwrap().unwrap_err();
		assert!(matches!(err, AllReduceError::Behind { generation: 8, .. }), "{err}");
		assert_eq!(err.ahead(), Some(8));
		retries.push(reduce(i + 1, err.ahead().unwrap()));
	}
	assert_eq!(ahead.await.unwrap().unwrap(), vec![6.0; 100], "the member ahead kept its round");
	for t in retries {
		assert_eq!(t.await.unwrap().unwrap(), vec![6.0; 100]);
	}
}

/// bfloat16 on the wire: the sums are the ring's f32 sums of bfloat16-rounded partial sums,
/// rounded once more by the member that completes each segment, the same bits everywhere; a
/// member that sends f32 into a bfloat16 round is refused by the size of its chunks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_bf16_on_the_wire_every_member_gets_the_same_rounded_ring_sum() {
	use verity_primitives::training::{from_bf16, to_bf16};
	let mut nets = Vec::new();
	let mut collectives = Vec::new();
	for (net, events) in nodes(&["bf-0", "bf-1", "bf-2"]).await {
		collectives.push(Collective::start(net.clone(), events, small_chunks()));
		nets.push(net);
	}
	let group = Group::new(0, nets.iter().map(|n| n.peer_id).collect());
	let input = |i: usize| -> Vec<f32> {
		(0..500).map(|k| ((k * 13 + i) as f32 * 0.173).sin() * 3.1).collect()
	};
	let mut tasks = Vec::new();
	for (i, c) in collectives.iter().enumerate() {
		let (c, g) = (c.clone(), group.clone());
		tasks.push(tokio::spawn(async move { c.all_reduce_on(&g, 1, input(i), Wire::Bf16).await }));
	}
	let mut results = Vec::new();
	for t in tasks {
		results.push(t.await.unwrap().unwrap());
	}
	let bf = |x: f32| from_bf16(to_bf16(x));
	let by_rank: Vec<Vec<f32>> = group
		.members
		.iter()
		.map(|p| input(nets.iter().position(|n| n.peer_id == *p).unwrap()))
		.collect();
	let expected: Vec<u32> = (0..500)
		.map(|k| {
			let seg = (0..3).find(|&j| segment_of(500, 3, j).contains(&k)).unwrap();
			let (a, b, c) = (by_rank[seg][k], by_rank[(seg + 1) % 3][k], by_rank[(seg + 2) % 3][k]);
			bf(c + bf(b + bf(a))).to_bits()
		})
		.collect();
	for r in &results {
		assert_eq!(r.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), expected);
	}
	let exact: Vec<f32> = (0..500).map(|k| by_rank.iter().map(|v| v[k]).sum()).collect();
	assert!(results[0].iter().zip(&exact).all(|(a, b)| (a - b).abs() <= 0.02 * (1.0 + b.abs())));

	// One member on f32 in a bfloat16 round: its chunks are twice the size, refused.
	let mut tasks = Vec::new();
	for (i, c) in collectives.iter().enumerate() {
		let (c, g) = (c.clone(), group.clone());
		let wire = if i == 0 { Wire::F32 } else { Wire::Bf16 };
		tasks.push(tokio::spawn(async move { c.all_reduce_on(&g, 2, input(i), wire).await }));
	}
	let mut refused = 0;
	for t in tasks {
		if let Err(e) = t.await.unwrap() {
			refused += usize::from(e.to_string().contains("expected"));
		}
	}
	assert!(refused >= 1, "a wrong-size chunk was refused");
}
