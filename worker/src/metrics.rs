//! Prometheus metrics and their HTTP endpoint (`GET /metrics`, text format).

use crate::error::Result;
use prometheus::{
	Encoder, Gauge, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};
use std::net::SocketAddr;
use tokio::{
	io::{AsyncReadExt, AsyncWriteExt},
	net::TcpListener,
};

/// The worker's metrics.
#[derive(Clone)]
pub struct Metrics {
	/// Registry served at `/metrics`.
	pub registry: Registry,
	/// Training steps done.
	pub train_steps: IntCounter,
	/// AllReduce rounds completed.
	pub allreduce_rounds: IntCounter,
	/// Times the training group re-formed.
	pub reforms: IntCounter,
	/// Mean training loss of the last epoch.
	pub train_loss: Gauge,
	/// The provider's tasks on chain, by state.
	pub provider_tasks: IntGaugeVec,
	/// Committee rounds the provider sits in.
	pub provider_rounds: IntGauge,
	/// Penalties and missed-deadline slashes of the provider's account.
	pub provider_slashes: IntCounter,
	/// Free balance of the provider's account, VER (earnings show here).
	pub provider_free_balance: Gauge,
	/// The best block the provider last handled.
	pub provider_block: IntGauge,
	/// Blocks between the node's best and the block the provider handled last.
	pub provider_blocks_behind: IntGauge,
	/// Inference requests the server handled, by outcome (`served` or a refusal's reason).
	pub serve_requests: IntCounterVec,
}

impl Metrics {
	/// Creates and registers the metrics.
	pub fn new() -> Self {
		let registry =
			Registry::new_custom(Some("verity_worker".into()), None).expect("static prefix");
		let counter = |name: &str, help: &str| {
			let c = IntCounter::new(name, help).expect("valid metric");
			registry.register(Box::new(c.clone())).expect("registered once");
			c
		};
		let train_steps = counter("train_steps_total", "Training steps done");
		let allreduce_rounds = counter("allreduce_rounds_total", "AllReduce rounds completed");
		let reforms = counter("group_reforms_total", "Times the training group re-formed");
		let train_loss =
			Gauge::new("train_loss", "Mean training loss of the last epoch").expect("valid metric");
		registry.register(Box::new(train_loss.clone())).expect("registered once");
		let provider_tasks = IntGaugeVec::new(
			Opts::new("provider_tasks", "Tasks of this provider by state"),
			&["state"],
		)
		.expect("valid metric");
		registry.register(Box::new(provider_tasks.clone())).expect("registered once");
		let int_gauge = |name: &str, help: &str| {
			let g = IntGauge::new(name, help).expect("valid metric");
			registry.register(Box::new(g.clone())).expect("registered once");
			g
		};
		let provider_rounds =
			int_gauge("provider_rounds", "Committee rounds this provider sits in");
		let provider_block =
			int_gauge("provider_best_block", "Best block this provider handled last");
		let provider_blocks_behind = int_gauge(
			"provider_blocks_behind",
			"Blocks between the node's best and the last handled",
		);
		let provider_slashes = counter(
			"provider_slashes_total",
			"Penalties and missed-deadline slashes of this provider",
		);
		let provider_free_balance =
			Gauge::new("provider_free_balance_ver", "Free balance of the provider account, VER")
				.expect("valid metric");
		registry.register(Box::new(provider_free_balance.clone())).expect("registered once");
		let serve_requests = IntCounterVec::new(
			Opts::new("serve_requests_total", "Inference requests by outcome"),
			&["outcome"],
		)
		.expect("valid metric");
		registry.register(Box::new(serve_requests.clone())).expect("registered once");
		Metrics {
			serve_requests,
			registry,
			train_steps,
			allreduce_rounds,
			reforms,
			train_loss,
			provider_tasks,
			provider_rounds,
			provider_slashes,
			provider_free_balance,
			provider_block,
			provider_blocks_behind,
		}
	}

	/// The metrics in Prometheus text format.
	pub fn render(&self) -> String {
		let mut buf = Vec::new();
		let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
		String::from_utf8(buf).unwrap_or_default()
	}

	/// Serves `/metrics` on `addr` until the process ends. Any origin may read it
	/// (`Access-Control-Allow-Origin: *`), so the dashboard in a browser shows a worker's live
	/// figures; the figures are what the chain shows anyway, and nothing can be changed here.
	pub async fn serve(self, addr: SocketAddr) -> Result<SocketAddr> {
		let listener = TcpListener::bind(addr).await?;
		let local = listener.local_addr()?;
		tokio::spawn(async move {
			while let Ok((mut sock, _)) = listener.accept().await {
				let body = self.render();
				tokio::spawn(async move {
					let mut req = [0u8; 1024];
					let n = sock.read(&mut req).await.unwrap_or(0);
					let ok = req[..n].starts_with(b"GET /metrics");
					let (status, body) =
						if ok { ("200 OK", body) } else { ("404 Not Found", "not found\n".into()) };
					let head = format!(
						"HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nAccess-Control-Allow-Origin: *\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
						body.len()
					);
					let _ = sock.write_all(head.as_bytes()).await;
					let _ = sock.write_all(body.as_bytes()).await;
				});
			}
		});
		Ok(local)
	}
}

impl Default for Metrics {
	fn default() -> Self {
		Self::new()
	}
}
