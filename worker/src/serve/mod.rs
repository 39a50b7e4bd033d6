//! Paid online inference (`verity-worker provide --serve ADDR --serve-kernel ID`): an HTTP server
//! on the daemon's runtime that answers requests to registered kernels, each paid by the buyer's
//! voucher on a payment channel of `pallet-fee-settlement`.
//!
//! For every request, before anything runs: the input is checked against the kernel record's
//! tensor schema, and the voucher against the channel as of the last finalized block
//! ([`book::check`]: the channel is ours and open, the nonce is the next one, the root covers
//! the served requests and this one, the amount pays the price and stays within the deposit, the
//! buyer signed it for this chain). Then the request joins its kernel's batch ([`batch`]), the
//! voucher is synced to the [`journal`], and the response goes out with the provider's receipt
//! signature ([`protocol`]). The server redeems the latest vouchers in one `redeem_batch` every
//! `redeem_every` finalized blocks, at once when a buyer asks to close, and at start for what
//! the journal holds ([`chain`]).
//!
//! The price of a request is its rows times the kernel's declared inference FLOPs per sample at
//! the provider's offer price per WU in its class ([`chain::price_per_row`]): serving is priced
//! from the same on-chain offer as batch jobs, so a buyer can compute it from chain state.
//!
//! Requests on one channel are answered one at a time (each voucher extends the last); a buyer
//! sends concurrent requests on concurrent channels.

pub mod batch;
pub mod book;
pub mod chain;
pub mod client;
pub mod completions;
pub mod journal;
pub mod protocol;

use crate::{
	chain::{self as node, Submitter},
	error::{invalid, Result},
	infer::dtype_of,
	kernel::{Manifest, Model},
	metrics::Metrics,
	p2p::Net,
	provider::compute::fetch_blob,
	store::ContentStore,
};
use axum::{
	body::Bytes,
	extract::{DefaultBodyLimit, Path, Request, State},
	http::{header, HeaderMap, HeaderValue, StatusCode},
	middleware::{self, Next},
	response::{IntoResponse, Response},
	routing::{get, post},
	Json, Router,
};
use batch::{BatchConfig, Batcher};
use book::{Channels, Entry, Refusal, Served};
use futures::StreamExt as _;
use polkadot_sdk::{
	sp_core::H256,
	sp_runtime::{AccountId32, MultiSignature},
};
use protocol::{InferRequest, JsonTensor};
use serde::Serialize;
use std::{collections::HashMap, net::SocketAddr, path::PathBuf, sync::Arc};
use tch::{Device, Tensor};
use tokio::sync::{Mutex, RwLock};
use verity_primitives::{
	kernel::{DType, KernelSpec},
	voucher::Voucher,
};

/// How the server runs.
#[derive(Clone, Debug)]
pub struct ServeConfig {
	/// The node's WebSocket address.
	pub url: String,
	/// Where the HTTP server listens.
	pub listen: SocketAddr,
	/// The registered kernels served, by id.
	pub kernels: Vec<H256>,
	/// Served kernels that are also served as text (`/v1/completions`), with the characters
	/// their token ids stand for (a manifest's `vocab`, which the chain's record does not hold).
	pub vocabs: HashMap<H256, String>,
	/// The provider's resource class (its offer there prices requests).
	pub class: u8,
	/// Batching.
	pub batch: BatchConfig,
	/// The largest request body accepted, bytes.
	pub max_body: usize,
	/// Finalized blocks between scheduled redeems.
	pub redeem_every: u64,
	/// Where the journal lives.
	pub data: PathBuf,
	/// The device kernels run on.
	pub device: Device,
}

/// A kernel being served.
struct ServedKernel {
	record: KernelSpec,
	name: String,
	batcher: Batcher,
	/// The tokenizer when the kernel is served as text.
	text: Option<completions::TextKernel>,
}

/// What the handlers and the chain follower share.
pub struct Shared {
	cfg: ServeConfig,
	me: AccountId32,
	signer: subxt_signer::sr25519::Keypair,
	submitter: Arc<Submitter>,
	genesis: H256,
	client: RwLock<Option<node::Client>>,
	channels: Mutex<Channels>,
	/// One lock per channel: its requests are answered one at a time.
	locks: std::sync::Mutex<HashMap<H256, Arc<Mutex<()>>>>,
	kernels: HashMap<H256, ServedKernel>,
	price_per_wu: RwLock<Option<u128>>,
	journal: journal::Journal,
	metrics: Metrics,
}

impl Shared {
	async fn set_chain(&self, id: H256, view: Option<book::OnChain>) {
		let mut channels = self.channels.lock().await;
		let e =
			channels.entry(id).or_insert_with(|| Entry { chain: None, served: Served::default() });
		e.chain = view;
	}

	/// This provider's account as raw bytes.
	fn me_raw(&self) -> [u8; 32] {
		self.me.clone().into()
	}

	fn lock_of(&self, id: H256) -> Arc<Mutex<()>> {
		let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
		locks.entry(id).or_default().clone()
	}
}

/// Starts serving: loads the kernels (records from the chain, archives from the store or the
/// endpoint directory's peers), replays the journal, binds `cfg.listen`, and follows the chain.
/// Returns the bound address.
pub async fn start(
	cfg: ServeConfig,
	signer: subxt_signer::sr25519::Keypair,
	submitter: Arc<Submitter>,
	store: ContentStore,
	net: Net,
	metrics: Metrics,
) -> Result<SocketAddr> {
	let c = node::connect(&cfg.url).await?;
	let at = c.client.at_current_block().await.map_err(node::subxt_err)?;
	let genesis = H256(c.client.genesis_hash().0);
	let peers = chain::peers(&at).await?;
	let mut kernels = HashMap::new();
	if let Some(id) = cfg.vocabs.keys().find(|id| !cfg.kernels.contains(id)) {
		return Err(invalid!("kernel {id:?} has a vocabulary but is not served"));
	}
	for id in &cfg.kernels {
		let record = chain::kernel_record(&at, *id).await?;
		let archive = fetch_blob(&net, &store, &record.archive, &peers).await?;
		let mut manifest = Manifest::from_record(record.clone()).map_err(|e| invalid!("{e}"))?;
		manifest.vocab = cfg.vocabs.get(id).cloned();
		let text = completions::TextKernel::of(&manifest)
			.map_err(|e| invalid!("kernel {id:?} cannot be served as text: {e}"))?;
		let name = manifest.name.clone();
		let device = cfg.device;
		let model =
			tokio::task::spawn_blocking(move || Model::load(manifest, &archive, device)).await??;
		let batcher = Batcher::start(&name, model, cfg.batch)?;
		tracing::info!(kernel = ?id, %name, text = text.is_some(), "serving kernel");
		kernels.insert(*id, ServedKernel { record, name, batcher, text });
	}
	let (journal, served) = journal::Journal::open(&cfg.data.join("serving.jsonl"))?;
	let channels: Channels =
		served.into_iter().map(|(id, served)| (id, Entry { chain: None, served })).collect();
	let me = AccountId32::new(submitter.account().0);
	let per_wu = chain::price_per_wu(&at, submitter.account(), cfg.class).await?;
	let listener = tokio::net::TcpListener::bind(cfg.listen).await?;
	let bound = listener.local_addr()?;
	let max_body = cfg.max_body;
	let shared = Arc::new(Shared {
		cfg,
		me,
		signer,
		submitter,
		genesis,
		client: RwLock::new(Some(c.client.clone())),
		channels: Mutex::new(channels),
		locks: Default::default(),
		kernels,
		price_per_wu: RwLock::new(per_wu),
		journal,
		metrics,
	});
	tokio::spawn(shared.clone().follow());
	let app = Router::new()
		.route("/v1/info", get(info))
		.route("/v1/kernels/{kernel}/infer", post(infer))
		.route("/v1/completions", post(completions::complete))
		.route("/v1/models", get(completions::models))
		.layer(DefaultBodyLimit::max(max_body))
		.layer(middleware::from_fn_with_state(shared.clone(), refuse_oversize))
		.with_state(shared);
	tokio::spawn(async move {
		if let Err(e) = axum::serve(listener, app).await {
			tracing::error!(error = %e, "the inference server stopped");
		}
	});
	Ok(bound)
}

/// The most of an oversize body [`refuse_oversize`] reads (and drops) before it answers.
const DRAIN_MAX: u64 = 16 * 1024 * 1024;
/// The longest [`refuse_oversize`] reads an oversize body for.
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(5);

/// Refuses a request whose declared body is above `max_body` before any handler runs, once it
/// has read what the client sends (up to [`DRAIN_MAX`] bytes and [`DRAIN_TIME`]) and dropped
/// it. A server that answers and closes with the body unread resets the connection, and a client
/// still sending then gets "connection reset" rather than the 413 (nginx's lingering close is
/// for the same reason). A body above `DRAIN_MAX` is answered at once.
async fn refuse_oversize(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
	let declared = req
		.headers()
		.get(header::CONTENT_LENGTH)
		.and_then(|v| v.to_str().ok())
		.and_then(|v| v.parse::<u64>().ok());
	let max = u64::try_from(s.cfg.max_body).unwrap_or(u64::MAX);
	let Some(declared) = declared.filter(|n| *n > max) else { return next.run(req).await };
	let openai = req.uri().path() == "/v1/completions";
	if declared <= DRAIN_MAX {
		let mut body = req.into_body().into_data_stream();
		let drain = async { while let Some(Ok(_)) = body.next().await {} };
		let _ = tokio::time::timeout(DRAIN_TIME, drain).await;
	}
	ApiError { openai, ..too_large(&s) }.into_response()
}

/// The refusal of a body above `max_body`.
fn too_large(s: &Shared) -> ApiError {
	ApiError::new(
		413,
		"body_too_large",
		format!("the request body is above {} bytes", s.cfg.max_body),
	)
}

/// An error answer: status, a machine-readable reason, a message, and what the client needs to
/// retry right (the next nonce, the amount that pays).
#[derive(Debug)]
struct ApiError {
	status: StatusCode,
	reason: &'static str,
	message: String,
	expected_nonce: Option<u64>,
	needed: Option<u128>,
	retry_after: Option<u32>,
	/// Shaped as OpenAI's API shapes errors (`/v1/completions`).
	openai: bool,
}

impl ApiError {
	fn new(status: u16, reason: &'static str, message: impl Into<String>) -> Self {
		ApiError {
			status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
			reason,
			message: message.into(),
			expected_nonce: None,
			needed: None,
			retry_after: None,
			openai: false,
		}
	}

	/// The OpenAI-style error type of the status.
	fn openai_type(&self) -> &'static str {
		match self.status.as_u16() {
			400 | 413 => "invalid_request_error",
			401 => "authentication_error",
			402 => "payment_required",
			403 => "permission_error",
			404 => "not_found_error",
			409 => "conflict_error",
			503 => "overloaded_error",
			_ => "api_error",
		}
	}
}

impl From<Refusal> for ApiError {
	fn from(r: Refusal) -> Self {
		let mut e = ApiError::new(r.status(), r.reason(), r.to_string());
		match r {
			Refusal::Replayed { expected, .. } | Refusal::NonceGap { expected, .. } => {
				e.expected_nonce = Some(expected)
			}
			Refusal::Underpaid { needed, .. } => e.needed = Some(needed),
			_ => {}
		}
		e
	}
}

impl IntoResponse for ApiError {
	fn into_response(self) -> Response {
		#[derive(Serialize)]
		struct Body<'a> {
			error: &'a str,
			message: &'a str,
			#[serde(skip_serializing_if = "Option::is_none")]
			expected_nonce: Option<u64>,
			#[serde(skip_serializing_if = "Option::is_none")]
			needed: Option<String>,
		}
		let body = Body {
			error: self.reason,
			message: &self.message,
			expected_nonce: self.expected_nonce,
			needed: self.needed.map(|n| n.to_string()),
		};
		let mut res = match self.openai {
			// `{"error": {"message", "type", "code", "param"}}`, with the retry hints beside.
			true => {
				let mut e = serde_json::to_value(&body).unwrap_or_default();
				e["code"] = e["error"].take();
				e["type"] = self.openai_type().into();
				e["param"] = serde_json::Value::Null;
				(self.status, Json(serde_json::json!({ "error": e }))).into_response()
			}
			false => (self.status, Json(body)).into_response(),
		};
		if let Some(s) = self.retry_after {
			res.headers_mut().insert("retry-after", HeaderValue::from(s));
		}
		// Clients that retry on their own (OpenAI's retry 409 and 5xx): only a full queue is
		// worth retrying; a refused voucher is refused again.
		let retry = if self.status == StatusCode::SERVICE_UNAVAILABLE { "true" } else { "false" };
		res.headers_mut().insert("x-should-retry", HeaderValue::from_static(retry));
		res
	}
}

#[derive(Serialize)]
struct KernelInfo {
	id: String,
	name: String,
	input: verity_primitives::kernel::TensorSpec,
	output: verity_primitives::kernel::TensorSpec,
	inference_flops: u64,
	/// Decimal, smallest unit; `null` while the provider has no offer.
	price_per_row: Option<String>,
	/// Served as text at `/v1/completions` too (a completion costs `max_tokens` rows).
	completions: bool,
}

async fn info(State(s): State<Arc<Shared>>) -> Json<serde_json::Value> {
	let per_wu = *s.price_per_wu.read().await;
	let kernels: Vec<KernelInfo> = s
		.kernels
		.iter()
		.map(|(id, k)| KernelInfo {
			id: format!("{id:?}"),
			name: k.name.clone(),
			input: k.record.inputs[0].clone(),
			output: k.record.outputs[0].clone(),
			inference_flops: k.record.inference_flops,
			price_per_row: per_wu
				.map(|p| chain::price_per_row(k.record.inference_flops, p).to_string()),
			completions: k.text.is_some(),
		})
		.collect();
	Json(serde_json::json!({
		"provider": node::AccountId::from(<[u8; 32]>::from(s.me.clone())).to_string(),
		"genesis": format!("{:?}", s.genesis),
		"class": s.cfg.class,
		"price_per_wu": per_wu.map(|p| p.to_string()),
		"kernels": kernels,
	}))
}

/// Parses the request's input against the kernel's input spec into a tensor.
fn input_tensor(record: &KernelSpec, t: &JsonTensor, max_rows: usize) -> Result<Tensor, ApiError> {
	let spec = &record.inputs[0];
	let bad = |m: String| ApiError::new(400, "malformed_tensor", m);
	if t.dtype.is_some_and(|d| d != spec.dtype) {
		return Err(bad(format!("the kernel takes {:?} input", spec.dtype)));
	}
	if !spec.accepts(spec.dtype, &t.shape) {
		return Err(bad(format!(
			"input shape {:?} does not fit the kernel's {:?} (0 = any size)",
			t.shape,
			spec.shape.as_slice()
		)));
	}
	let rows = t.shape.first().copied().unwrap_or(0);
	if rows == 0 {
		return Err(bad("the input has no rows".into()));
	}
	if rows > max_rows as u64 {
		return Err(ApiError::new(
			413,
			"too_many_rows",
			format!("at most {max_rows} rows per request"),
		));
	}
	let numel = t.shape.iter().try_fold(1u64, |a, d| a.checked_mul(*d));
	if numel != Some(t.data.len() as u64) {
		return Err(bad(format!(
			"shape {:?} needs {numel:?} values, the data has {}",
			t.shape,
			t.data.len()
		)));
	}
	let dims: Vec<i64> = t.shape.iter().map(|d| *d as i64).collect();
	let tensor = match spec.dtype {
		DType::F32 => {
			let v: Option<Vec<f32>> = t
				.data
				.iter()
				.map(|n| n.as_f64().map(|x| x as f32).filter(|x| x.is_finite()))
				.collect();
			Tensor::from_slice(&v.ok_or_else(|| bad("f32 input must be finite numbers".into()))?)
		}
		DType::I64 => {
			let v: Option<Vec<i64>> = t.data.iter().map(|n| n.as_i64()).collect();
			Tensor::from_slice(&v.ok_or_else(|| bad("i64 input must be integers".into()))?)
		}
		other => return Err(bad(format!("this server does not take {other:?} input"))),
	};
	Ok(tensor.reshape(dims.as_slice()))
}

/// The output as JSON values and as the little-endian bytes its digest covers.
/// An output as a response carries it and as its digest reads it: dtype, shape, the values in
/// JSON, the bytes.
type OutputParts = (DType, Vec<u64>, serde_json::Value, Vec<u8>);

fn output_parts(out: &Tensor) -> Result<OutputParts, ApiError> {
	let internal = |m: String| ApiError::new(500, "kernel_failed", m);
	let shape: Vec<u64> = out.size().iter().map(|d| *d as u64).collect();
	let flat = out.contiguous().view([-1]);
	match dtype_of(out.kind()) {
		Some(DType::F32) => {
			let v = Vec::<f32>::try_from(&flat).map_err(|e| internal(e.to_string()))?;
			let bytes = v.iter().flat_map(|x| x.to_le_bytes()).collect();
			Ok((DType::F32, shape, serde_json::json!(v), bytes))
		}
		Some(DType::I64) => {
			let v = Vec::<i64>::try_from(&flat).map_err(|e| internal(e.to_string()))?;
			let bytes = v.iter().flat_map(|x| x.to_le_bytes()).collect();
			Ok((DType::I64, shape, serde_json::json!(v), bytes))
		}
		_ => Err(internal(format!(
			"the kernel's output is {:?}; the server returns f32 or i64",
			out.kind()
		))),
	}
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
	h.get(name)
		.map(|v| v.to_str().map_err(|_| Refusal::MalformedVoucher(format!("{name} header")).into()))
		.transpose()
}

async fn infer(
	State(s): State<Arc<Shared>>,
	Path(kernel): Path<String>,
	headers: HeaderMap,
	body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
	let outcome = answer(&s, &kernel, &headers, body).await;
	respond(&s, outcome, false)
}

/// Counts `outcome` in the metrics by its reason and answers it (errors OpenAI-shaped when
/// `openai`).
fn respond(s: &Shared, outcome: Result<Response, ApiError>, openai: bool) -> Response {
	let label = match &outcome {
		Ok(_) => "served",
		Err(e) => e.reason,
	};
	s.metrics.serve_requests.with_label_values(&[label]).inc();
	match outcome {
		Ok(r) => r,
		Err(e) => ApiError { openai, ..e }.into_response(),
	}
}

async fn answer(
	s: &Arc<Shared>,
	kernel: &str,
	headers: &HeaderMap,
	body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
	let body = body_bytes(s, body)?;
	let (id, k) = served_kernel(s, kernel)?;
	let req: InferRequest = serde_json::from_slice(&body).map_err(|e| {
		ApiError::new(
			400,
			"malformed_request",
			format!("the body is not an inference request: {e}"),
		)
	})?;
	let input = input_tensor(&k.record, &req.input, s.cfg.batch.max_rows)?;
	let rows = req.input.shape[0];
	let ticket = Ticket::check(s, id, k, headers, &body, rows).await?;
	let (answered, ()) = paid(s, ticket, move |_| async move {
		let pending = k.batcher.submit(input).map_err(|_| busy())?;
		let out = pending
			.await
			.map_err(|_| ApiError::new(500, "kernel_failed", "the kernel's thread stopped"))?
			.map_err(|e| ApiError::new(500, "kernel_failed", e.to_string()))?;
		Ok((out, ()))
	})
	.await?;
	let response = protocol::InferResponse {
		output: JsonTensor {
			dtype: Some(answered.dtype),
			shape: answered.shape,
			data: serde_json::from_value(answered.data)
				.map_err(|e| ApiError::new(500, "kernel_failed", e.to_string()))?,
		},
		request: format!("{:?}", answered.receipt.request),
		output_digest: format!("{:?}", answered.receipt.output_digest),
		nonce: answered.receipt.nonce,
		cumulative: answered.receipt.cumulative,
		provider: answered.receipt.provider,
		signature: answered.receipt.signature,
	};
	Ok(Json(response).into_response())
}

/// The request body, or why there is none.
fn body_bytes(
	s: &Shared,
	body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Bytes, ApiError> {
	body.map_err(|e| match e.status() {
		StatusCode::PAYLOAD_TOO_LARGE => too_large(s),
		status => ApiError::new(status.as_u16(), "bad_body", e.body_text()),
	})
}

/// The served kernel `kernel` (`0x` hex id) names.
fn served_kernel<'a>(s: &'a Shared, kernel: &str) -> Result<(H256, &'a ServedKernel), ApiError> {
	let id: H256 = protocol::decode_hex(kernel).map_err(|_| {
		ApiError::new(404, "unknown_kernel", format!("{kernel} is not a kernel id"))
	})?;
	let k = s.kernels.get(&id).ok_or_else(|| {
		ApiError::new(404, "unknown_kernel", format!("kernel {id:?} is not served here"))
	})?;
	Ok((id, k))
}

/// The kernel's queue is full.
fn busy() -> ApiError {
	let mut e = ApiError::new(503, "busy", "the kernel's queue is full; retry shortly");
	e.retry_after = Some(1);
	e
}

/// The provider's receipt of an answered request, as responses carry it.
#[derive(Clone, Debug, Serialize)]
struct ReceiptJson {
	/// The request hash.
	#[serde(serialize_with = "hex_h256")]
	request: H256,
	/// The output digest.
	#[serde(serialize_with = "hex_h256")]
	output_digest: H256,
	/// The voucher's nonce.
	nonce: u64,
	/// The voucher's cumulative amount (decimal).
	cumulative: String,
	/// The provider (SS58).
	provider: String,
	/// The provider's signature of the receipt payload (`0x` hex).
	signature: String,
}

fn hex_h256<S: serde::Serializer>(h: &H256, s: S) -> std::result::Result<S::Ok, S::Error> {
	s.serialize_str(&format!("{h:?}"))
}

/// A paid request's output and receipt.
struct Answered {
	dtype: DType,
	shape: Vec<u64>,
	data: serde_json::Value,
	receipt: ReceiptJson,
}

/// For a request whose voucher was checked (`ticket`, [`Ticket::check`]): runs `run` (given the
/// request hash; it returns the output tensor and what else its caller needs), signs the receipt
/// of its output and journals the voucher, in that order: nothing runs unpaid, and what is
/// answered is always redeemable.
async fn paid<F, Fut, T>(s: &Arc<Shared>, ticket: Ticket, run: F) -> Result<(Answered, T), ApiError>
where
	F: FnOnce(H256) -> Fut,
	Fut: std::future::Future<Output = Result<(Tensor, T), ApiError>>,
{
	let (out, extra) = run(ticket.request).await?;
	let parts = output_parts(&out)?;
	drop(out);
	Ok((ticket.settle(s, parts).await?, extra))
}

/// A request whose voucher pays for it: it holds its channel's turn (the next request on the
/// channel waits) until it is settled or dropped. Dropped before [`Ticket::journal`], the voucher
/// is forgotten and the buyer's next request pays with the same nonce.
struct Ticket {
	/// Its hash.
	request: H256,
	voucher: Voucher<u128>,
	signature: MultiSignature,
	channel: H256,
	entry: Entry,
	journaled: bool,
	_turn: tokio::sync::OwnedMutexGuard<()>,
}

impl Ticket {
	/// Checks the voucher in `headers` pays for `rows` rows of kernel `id` with `body`, against
	/// the channel as the chain and this server's journal have it.
	async fn check(
		s: &Arc<Shared>,
		id: H256,
		k: &ServedKernel,
		headers: &HeaderMap,
		body: &[u8],
		rows: u64,
	) -> Result<Ticket, ApiError> {
		let (Some(vh), Some(sh)) = (
			header(headers, protocol::VOUCHER_HEADER)?,
			header(headers, protocol::SIGNATURE_HEADER)?,
		) else {
			return Err(Refusal::NoVoucher.into());
		};
		let voucher: Voucher<u128> = protocol::decode_hex(vh)
			.map_err(|e| Refusal::MalformedVoucher(format!("voucher: {e}")))?;
		let signature: MultiSignature = protocol::decode_hex(sh)
			.map_err(|e| Refusal::MalformedVoucher(format!("signature: {e}")))?;
		let per_wu = s.price_per_wu.read().await.ok_or_else(|| {
			ApiError::new(
				503,
				"no_offer",
				"this provider has no offer on chain to price requests by",
			)
		})?;
		let price =
			chain::price_per_row(k.record.inference_flops, per_wu).saturating_mul(rows.into());
		let channel = voucher.channel;
		let known = s.channels.lock().await.get(&channel).is_some_and(|e| e.chain.is_some());
		if !known {
			// Not seen yet (opened in a block the follower has not reached): read it now. A
			// channel that is not on chain is refused here, before it gets a lock or an entry,
			// so made-up channel ids cost the server nothing it keeps.
			let client = s.client.read().await.clone();
			let client = client
				.ok_or_else(|| ApiError::new(503, "node_unavailable", "not connected to a node"))?;
			let at = client
				.at_current_block()
				.await
				.map_err(|e| ApiError::new(503, "node_unavailable", e.to_string()))?;
			let view = chain::channel(&at, channel)
				.await
				.map_err(|e| ApiError::new(503, "node_unavailable", e.to_string()))?;
			match view {
				Some(v) => s.set_chain(channel, Some(v)).await,
				None => return Err(Refusal::UnknownChannel(channel).into()),
			}
		}
		let turn = s.lock_of(channel).lock_owned().await;
		// Read again under the channel's lock: the request before this one may have moved it on.
		let entry = s.channels.lock().await.get(&channel).cloned();
		let entry = entry.unwrap_or(Entry { chain: None, served: Served::default() });
		let request = protocol::request_hash(&channel, voucher.nonce, &id, body);
		book::check(&s.me, &s.genesis, &entry, &voucher, &signature, &request, price)?;
		Ok(Ticket { request, voucher, signature, channel, entry, journaled: false, _turn: turn })
	}

	/// Journals the voucher (synced to disk) and counts the request as answered on its channel:
	/// from here on, whatever is sent for it is redeemable. Once only.
	async fn journal(&mut self, s: &Shared) -> Result<(), ApiError> {
		if self.journaled {
			return Ok(());
		}
		s.journal
			.append(&self.request, &self.voucher, &self.signature)
			.await
			.map_err(|e| ApiError::new(500, "journal_failed", e.to_string()))?;
		let mut channels = s.channels.lock().await;
		let e = channels.entry(self.channel).or_insert_with(|| self.entry.clone());
		e.served.log.push(&self.request);
		e.served.latest = Some((self.voucher.clone(), self.signature.clone()));
		self.journaled = true;
		Ok(())
	}

	/// Signs the receipt of the output (its [`output_parts`]) and journals the voucher (if not
	/// yet), in that order.
	async fn settle(mut self, s: &Shared, out: OutputParts) -> Result<Answered, ApiError> {
		let (dtype, shape, data, bytes) = out;
		let digest = protocol::output_digest(dtype, &shape, &bytes);
		let signed = s.signer.sign(&protocol::receipt_payload(&s.genesis, &self.request, &digest));
		// Kept before it is answered: what was answered is always redeemable.
		self.journal(s).await?;
		let receipt = ReceiptJson {
			request: self.request,
			output_digest: digest,
			nonce: self.voucher.nonce,
			cumulative: self.voucher.cumulative.to_string(),
			provider: node::AccountId::from(<[u8; 32]>::from(s.me.clone())).to_string(),
			signature: format!("0x{}", hex::encode(signed.0)),
		};
		Ok(Answered { dtype, shape, data, receipt })
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn a_row_costs_its_flops_at_the_offer_price_rounded_up() {
		// The digits kernel: 18,944 FLOPs a sample at 0.012 VER per WU (10^12 FLOPs).
		assert_eq!(chain::price_per_row(18_944, 12_000_000_000), 228);
		assert_eq!(chain::price_per_row(1, 1), 1);
		assert_eq!(chain::price_per_row(0, 1_000), 1);
	}

	#[test]
	fn inputs_that_do_not_fit_the_schema_are_refused() {
		let record: KernelSpec = serde_json::from_value(serde_json::json!({
			"archive": "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
			"environment": { "libtorch": "2.11.0", "device": "cpu", "dtype": "f32",
				"deterministic_algorithms": true, "tf32_disabled": true, "seed": 7 },
			"inputs": [{"dtype": "f32", "shape": [0, 2]}],
			"outputs": [{"dtype": "f32", "shape": [0, 3]}],
			"inference_flops": 10, "train_flops": 30,
			"rule": { "kind": "quantised_digest", "decimals": 3 },
			"supersedes": null
		}))
		.unwrap();
		let t = |shape: Vec<u64>, data: serde_json::Value| JsonTensor {
			dtype: None,
			shape,
			data: serde_json::from_value(data).unwrap(),
		};
		assert!(input_tensor(&record, &t(vec![1, 2], serde_json::json!([1.0, 2.0])), 8).is_ok());
		for (tensor, reason) in [
			(t(vec![1, 3], serde_json::json!([1, 2, 3])), "malformed_tensor"),
			(t(vec![1, 2], serde_json::json!([1])), "malformed_tensor"),
			(t(vec![0, 2], serde_json::json!([])), "malformed_tensor"),
			(t(vec![9, 2], serde_json::json!(vec![0; 18])), "too_many_rows"),
		] {
			assert_eq!(input_tensor(&record, &tensor, 8).err().unwrap().reason, reason);
		}
	}
}
