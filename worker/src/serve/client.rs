//! The buyer's side of paid inference: one payment channel's request log and vouchers, requests
//! sent over HTTP, every receipt checked against the channel's provider on chain, and kept.
//! `verity-worker buy` runs it; `tests/e2e/voucher.mjs`'s `ServingClient` is the same protocol
//! for polkadot.js users ([`super::protocol`] says what travels).
//!
//! A channel's requests are sequential (each voucher's nonce and requests root follow the one
//! before), so one [`Buyer`] sends one request at a time; concurrency is one channel per client.
//! The buyer's state moves on only when the server answers: a refusal (wrong nonce, underpaid,
//! busy) leaves it as it was, so the same request can be sent again. A receipt that does not
//! verify is an error, but the state still moves on — the server was paid for it, and the
//! buyer keeps the voucher and the bad receipt as evidence.

use super::protocol::{
	self, output_digest, request_hash, verify_receipt, InferResponse, JsonTensor,
};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::{
	client::legacy::{connect::HttpConnector, Client},
	rt::TokioExecutor,
};
use polkadot_sdk::{
	sp_core::{sr25519, H256},
	sp_runtime::MultiSignature,
};
use serde::{Deserialize, Serialize};
use std::{
	io::{BufRead, Write},
	path::Path,
};
use verity_primitives::{
	merkle::RequestLog,
	voucher::{signing_payload, Voucher},
};

/// Why a request got no verified answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
	/// The server refused it (nothing ran, nothing is owed): its status and machine-readable
	/// reason, as `protocol`'s module docs and the README list them.
	#[error("refused with {status} {reason}: {message}")]
	Refused {
		/// HTTP status.
		status: u16,
		/// Machine-readable reason (`underpaid`, `busy`, …).
		reason: String,
		/// The server's message.
		message: String,
		/// Seconds to wait before retrying (503 `busy`).
		retry_after: Option<u64>,
	},
	/// The server answered, but its answer does not prove itself: wrong request hash, output
	/// digest or signature. The request was paid for; [`Buyer::receipts`] keeps it.
	#[error("the answer to request {nonce} does not verify: {why}")]
	BadReceipt {
		/// The request's nonce.
		nonce: u64,
		/// What did not match.
		why: String,
	},
	/// The request did not reach the server, or its answer is not HTTP/JSON as expected.
	#[error("{0}")]
	Transport(String),
	/// The input or the state given is not usable (nothing was sent).
	#[error("{0}")]
	Invalid(String),
}

/// What a buyer keeps of each answered request: the voucher that paid for it and the provider's
/// signed receipt of what came back. With `feeSettlement.proveRequest` (the request's Merkle proof
/// against a redeemed root) it shows what was paid for and what was answered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
	/// The channel (`0x` hex).
	pub channel: H256,
	/// The request's position in the channel (its voucher's nonce).
	pub nonce: u64,
	/// The voucher's cumulative amount (decimal, smallest unit).
	pub cumulative: String,
	/// The request hash.
	pub request: H256,
	/// The kernel asked.
	pub kernel: H256,
	/// The output digest the provider signed.
	pub output_digest: H256,
	/// The provider's sr25519 signature of the receipt payload (`0x` hex).
	pub signature: String,
	/// Whether the signature and digest verified when the answer came.
	pub verified: bool,
	/// The SCALE-encoded voucher sent (`0x` hex).
	pub voucher: String,
	/// The buyer's signature of it (`0x` hex, SCALE `MultiSignature`).
	pub voucher_signature: String,
}

/// An answered request.
#[derive(Debug)]
pub struct Answer {
	/// The kernel's output.
	pub output: JsonTensor,
	/// The receipt kept for it.
	pub receipt: Receipt,
}

/// A buyer's channel to one provider's inference server.
pub struct Buyer {
	http: Client<HttpConnector, Full<Bytes>>,
	url: String,
	signer: subxt_signer::sr25519::Keypair,
	genesis: H256,
	provider: sr25519::Public,
	channel: H256,
	log: RequestLog,
	cumulative: u128,
	receipts: Vec<Receipt>,
}

impl Buyer {
	/// A client for `channel` (whose provider is `provider`, as the chain stores it) on the chain
	/// with genesis `genesis`, sending to the server at `url` (`http://host:port`). It starts
	/// where `receipts` (answers to earlier requests on the channel, in order) leave off.
	pub fn new(
		url: &str,
		signer: subxt_signer::sr25519::Keypair,
		genesis: H256,
		channel: H256,
		provider: [u8; 32],
		receipts: Vec<Receipt>,
	) -> Result<Self, ClientError> {
		let mut log = RequestLog::new();
		let mut cumulative = 0;
		for (i, r) in receipts.iter().enumerate() {
			if r.channel != channel || r.nonce != i as u64 + 1 {
				return Err(ClientError::Invalid(format!(
					"receipt {} is for channel {:?} nonce {}, not {channel:?} nonce {}",
					i + 1,
					r.channel,
					r.nonce,
					i + 1
				)));
			}
			log.push(&r.request);
			cumulative = r
				.cumulative
				.parse::<u128>()
				.map_err(|e| ClientError::Invalid(format!("receipt {}: cumulative: {e}", i + 1)))?;
		}
		Ok(Buyer {
			http: Client::builder(TokioExecutor::new()).build_http(),
			url: url.trim_end_matches('/').to_string(),
			signer,
			genesis,
			provider: sr25519::Public::from_raw(provider),
			channel,
			log,
			cumulative,
			receipts,
		})
	}

	/// Requests answered on the channel so far.
	pub fn answered(&self) -> u64 {
		self.log.count()
	}

	/// The cumulative amount of the latest voucher.
	pub fn cumulative(&self) -> u128 {
		self.cumulative
	}

	/// Every receipt kept, in nonce order.
	pub fn receipts(&self) -> &[Receipt] {
		&self.receipts
	}

	/// The server's `GET /v1/info`.
	pub async fn info(&self) -> Result<serde_json::Value, ClientError> {
		let req = hyper::Request::get(format!("{}/v1/info", self.url))
			.body(Full::new(Bytes::new()))
			.map_err(|e| ClientError::Invalid(e.to_string()))?;
		let (status, _, body) = self.send(req).await?;
		if status != 200 {
			return Err(ClientError::Transport(format!("GET /v1/info answered {status}")));
		}
		serde_json::from_slice(&body).map_err(|e| ClientError::Transport(e.to_string()))
	}

	/// Sends `input` (the kernel's input dtype, row-major) to `kernel`, paying `price_per_row`
	/// for each of its rows, and checks the answer's receipt.
	pub async fn infer(
		&mut self,
		kernel: H256,
		price_per_row: u128,
		input: &JsonTensor,
	) -> Result<Answer, ClientError> {
		let rows = *input
			.shape
			.first()
			.ok_or_else(|| ClientError::Invalid("the input has no dimensions".into()))?;
		let body = serde_json::to_vec(&serde_json::json!({ "input": input }))
			.map_err(|e| ClientError::Invalid(e.to_string()))?;
		let nonce = self.log.count() + 1;
		let request = request_hash(&self.channel, nonce, &kernel, &body);
		let cumulative = price_per_row
			.checked_mul(rows.into())
			.and_then(|p| p.checked_add(self.cumulative))
			.ok_or_else(|| ClientError::Invalid("the price overflows".into()))?;
		let mut log = self.log.clone();
		log.push(&request);
		let voucher =
			Voucher { channel: self.channel, cumulative, nonce, requests_root: log.root() };
		let signature = MultiSignature::Sr25519(sr25519::Signature::from_raw(
			self.signer.sign(&signing_payload(&self.genesis, &voucher)).0,
		));
		let mut req = hyper::Request::post(format!("{}/v1/kernels/{kernel:?}/infer", self.url))
			.header("content-type", "application/json");
		for (name, value) in protocol::voucher_headers(&voucher, &signature) {
			req = req.header(name, value);
		}
		let req = req
			.body(Full::new(Bytes::from(body)))
			.map_err(|e| ClientError::Invalid(e.to_string()))?;
		let (status, retry_after, bytes) = self.send(req).await?;
		if status != 200 {
			#[derive(Deserialize)]
			struct Refusal {
				error: String,
				#[serde(default)]
				message: String,
			}
			let r: Refusal = serde_json::from_slice(&bytes).map_err(|_| {
				ClientError::Transport(format!(
					"answered {status} without a reason: {}",
					String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
				))
			})?;
			return Err(ClientError::Refused {
				status,
				reason: r.error,
				message: r.message,
				retry_after,
			});
		}
		// Answered: the server holds this voucher now, so the channel's state moves on whatever
		// the receipt says.
		self.log = log;
		self.cumulative = cumulative;
		let response: Result<InferResponse, _> = serde_json::from_slice(&bytes);
		// What the buyer keeps either way: the voucher it paid with and what came back.
		let receipt = |output_digest: H256, provider_signature: String, verified: bool| Receipt {
			channel: self.channel,
			nonce,
			cumulative: cumulative.to_string(),
			request,
			kernel,
			output_digest,
			signature: provider_signature,
			verified,
			voucher: format!("0x{}", hex::encode(codec::Encode::encode(&voucher))),
			voucher_signature: format!("0x{}", hex::encode(codec::Encode::encode(&signature))),
		};
		let (receipt, output, problem) = match response {
			Ok(r) => {
				let problem = self.check(&r, &request, nonce).err();
				let digest = protocol::decode_h256(&r.output_digest).unwrap_or_default();
				(receipt(digest, r.signature.clone(), problem.is_none()), Some(r.output), problem)
			}
			Err(e) => (
				receipt(H256::zero(), String::new(), false),
				None,
				Some(format!("the answer is not a response: {e}")),
			),
		};
		self.receipts.push(receipt.clone());
		match (problem, output) {
			(None, Some(output)) => Ok(Answer { output, receipt }),
			(why, _) => Err(ClientError::BadReceipt {
				nonce,
				why: why.unwrap_or_else(|| "no output".into()),
			}),
		}
	}

	/// Whether `r` answers request `request` (number `nonce`) with an output whose digest the
	/// channel's provider signed.
	fn check(&self, r: &InferResponse, request: &H256, nonce: u64) -> Result<(), String> {
		if protocol::decode_h256(&r.request) != Some(*request) || r.nonce != nonce {
			return Err(format!(
				"it answers request {} (nonce {}), not {request:?}",
				r.request, r.nonce
			));
		}
		let dtype = r.output.dtype.ok_or("the output has no dtype")?;
		let bytes = protocol::le_bytes(dtype, &r.output.data)?;
		let digest = output_digest(dtype, &r.output.shape, &bytes);
		if protocol::decode_h256(&r.output_digest) != Some(digest) {
			return Err(format!("its output digests to {digest:?}, it claims {}", r.output_digest));
		}
		let signature = hex::decode(r.signature.trim_start_matches("0x"))
			.map_err(|e| format!("signature: {e}"))?;
		if !verify_receipt(&self.genesis, request, &digest, &signature, &self.provider.0) {
			return Err("the signature is not the channel's provider's".into());
		}
		Ok(())
	}

	async fn send(
		&self,
		req: hyper::Request<Full<Bytes>>,
	) -> Result<(u16, Option<u64>, Bytes), ClientError> {
		let res = self
			.http
			.request(req)
			.await
			.map_err(|e| ClientError::Transport(format!("{}: {e:?}", self.url)))?;
		let status = res.status().as_u16();
		let retry_after = res
			.headers()
			.get("retry-after")
			.and_then(|v| v.to_str().ok())
			.and_then(|v| v.parse().ok());
		let body = res
			.into_body()
			.collect()
			.await
			.map_err(|e| ClientError::Transport(e.to_string()))?
			.to_bytes();
		Ok((status, retry_after, body))
	}
}

/// Reads a receipts file (JSON lines; absent: none).
pub fn read_receipts(path: &Path) -> Result<Vec<Receipt>, ClientError> {
	let file = match std::fs::File::open(path) {
		Ok(f) => f,
		Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
		Err(e) => return Err(ClientError::Invalid(format!("{}: {e}", path.display()))),
	};
	std::io::BufReader::new(file)
		.lines()
		.enumerate()
		.map(|(i, line)| {
			let line =
				line.map_err(|e| ClientError::Invalid(format!("{}: {e}", path.display())))?;
			serde_json::from_str(&line).map_err(|e| {
				ClientError::Invalid(format!("{} line {}: {e}", path.display(), i + 1))
			})
		})
		.collect()
}

/// Appends `receipts` to a receipts file, synced before it returns.
pub fn append_receipts(path: &Path, receipts: &[Receipt]) -> Result<(), ClientError> {
	let io = |e: std::io::Error| ClientError::Invalid(format!("{}: {e}", path.display()));
	let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(io)?;
	let mut text = String::new();
	for r in receipts {
		text.push_str(&serde_json::to_string(r).map_err(|e| ClientError::Invalid(e.to_string()))?);
		text.push('\n');
	}
	file.write_all(text.as_bytes()).map_err(io)?;
	file.sync_data().map_err(io)
}

/// A tensor of `rows` rows of `row` values each from `data` (row-major `f32`), starting at row
/// `at` and wrapping around: the inputs `buy infer` and `buy load` send.
pub fn rows_of(data: &[f32], width: usize, rows: usize, at: usize) -> JsonTensor {
	let total = data.len() / width.max(1);
	let mut values = Vec::with_capacity(rows * width);
	for r in 0..rows {
		let start = ((at + r) % total.max(1)) * width;
		values.extend(
			data[start..start + width]
				.iter()
				.map(|x| serde_json::Number::from_f64(f64::from(*x)).unwrap_or(0.into())),
		);
	}
	JsonTensor { dtype: None, shape: vec![rows as u64, width as u64], data: values }
}
