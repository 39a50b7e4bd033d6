//! OpenAI-style text completions (`POST /v1/completions`, `GET /v1/models`) for character-level
//! next-token kernels, so clients written for that API work against a provider unchanged but for
//! the payment: the voucher headers of [`super::protocol`], which a client adds in its `fetch`
//! (`tests/e2e/voucher.mjs`'s `ServingClient.fetch`).
//!
//! A kernel is served as text when the server is given the characters its token ids stand for (a
//! manifest's `vocab`: the chain's record does not hold it), checked against the record: one per
//! output logit. `model` is the kernel id.
//!
//! Generation is one forward pass of one context window per token, through the kernel's batcher
//! (so concurrent completions batch with each other and with plain requests): the window is the
//! last `context` tokens of the prompt and what was generated, left-padded with the space
//! character; the next token is drawn from the logits at its last position. A request is priced as
//! `max_tokens` rows, paid up front: a completion that ends early at a `stop` string costs the
//! same. Sampling is reproducible: `temperature` 0 is greedy, and otherwise the draw is seeded by
//! the request hash (and `seed`, when given), so the receipt's output can be replayed by anyone
//! holding the kernel. The receipt signs the generated token ids (`i64`, shape `[1, n]`), which
//! the response carries beside the text in `verity`.
//!
//! With `stream: true` the answer is server-sent events as OpenAI streams them: the text as it is
//! generated (text a `stop` string could still cut is held back until it cannot), then a last
//! chunk with the finish reason, the usage and the same `verity` receipt, then `data: [DONE]`. The
//! voucher is journaled before the stream starts: a `200` stream is a paid request.

use super::{busy, paid, served_kernel, ApiError, ReceiptJson, ServedKernel, Shared, Ticket};
use crate::kernel::Manifest;
use axum::{
	body::Bytes,
	extract::State,
	http::HeaderMap,
	response::{IntoResponse, Response},
	Json,
};
use polkadot_sdk::{sp_core::H256, sp_crypto_hashing::blake2_256};
use serde::{Deserialize, Serialize};
use std::{collections::HashMap, sync::Arc};
use tch::Tensor;

/// The most tokens one completion may ask for.
pub const MAX_TOKENS: u64 = 1024;
/// The most `stop` strings, as OpenAI's API allows.
const MAX_STOPS: usize = 4;

/// A character-level kernel's tokenizer and window.
#[derive(Clone, Debug)]
pub struct TextKernel {
	vocab: Vec<char>,
	ids: HashMap<char, i64>,
	context: usize,
	pad: i64,
}

impl TextKernel {
	/// The tokenizer of a manifest with a vocabulary (`None` without one), checked against the
	/// kernel: next-token, one id per character, as many ids as the output's last dimension.
	pub fn of(manifest: &Manifest) -> Result<Option<TextKernel>, String> {
		let Some(vocab) = manifest.vocab.as_deref() else { return Ok(None) };
		let vocab: Vec<char> = vocab.chars().collect();
		let context = manifest
			.context
			.and_then(|c| usize::try_from(c).ok())
			.filter(|c| *c > 0)
			.ok_or("a text kernel takes token windows of a fixed context (i64 [0, context])")?;
		let ids: HashMap<char, i64> =
			vocab.iter().enumerate().map(|(i, c)| (*c, i as i64)).collect();
		if ids.len() != vocab.len() {
			return Err("the vocabulary repeats a character".into());
		}
		let width = manifest.record.outputs[0].shape.last().copied().unwrap_or(0);
		if vocab.len() as u64 != u64::from(width) {
			return Err(format!(
				"the vocabulary has {} characters, the kernel's output {width} logits",
				vocab.len()
			));
		}
		let pad = ids.get(&' ').copied().unwrap_or(0);
		Ok(Some(TextKernel { vocab, ids, context, pad }))
	}

	/// Token ids of `text`, or the characters the vocabulary lacks.
	pub fn encode(&self, text: &str) -> Result<Vec<i64>, String> {
		let mut missing: Vec<char> = text.chars().filter(|c| !self.ids.contains_key(c)).collect();
		if !missing.is_empty() {
			missing.sort_unstable();
			missing.dedup();
			return Err(missing.into_iter().collect());
		}
		Ok(text.chars().map(|c| self.ids[&c]).collect())
	}

	/// The text of token ids (all from [`TextKernel::encode`] or the kernel's outputs).
	pub fn decode(&self, ids: &[i64]) -> String {
		ids.iter()
			.filter_map(|i| usize::try_from(*i).ok().and_then(|i| self.vocab.get(i)))
			.collect()
	}

	/// The window the next token is predicted from: the last `context` tokens, left-padded.
	fn window(&self, tokens: &[i64]) -> Vec<i64> {
		let tail = &tokens[tokens.len().saturating_sub(self.context)..];
		let mut w = vec![self.pad; self.context - tail.len()];
		w.extend_from_slice(tail);
		w
	}
}

/// A prompt: a string, or a list of exactly one (what OpenAI clients may send).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Prompt {
	One(String),
	Many(Vec<String>),
}

/// Stop sequences: one string or a list.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Stop {
	One(String),
	Many(Vec<String>),
}

/// The body of `POST /v1/completions`. Fields of OpenAI's API that change what is generated and
/// that this server does not implement are refused when set to anything but their no-op value;
/// the rest (`user`, …) are ignored.
#[derive(Debug, Deserialize)]
pub struct CompletionRequest {
	model: String,
	#[serde(default)]
	prompt: Option<Prompt>,
	#[serde(default)]
	max_tokens: Option<u64>,
	#[serde(default)]
	temperature: Option<f64>,
	#[serde(default)]
	top_p: Option<f64>,
	#[serde(default)]
	n: Option<u64>,
	#[serde(default)]
	stream: Option<bool>,
	#[serde(default)]
	stop: Option<Stop>,
	#[serde(default)]
	seed: Option<u64>,
	#[serde(default)]
	echo: Option<bool>,
	#[serde(default)]
	logprobs: Option<serde_json::Value>,
	#[serde(default)]
	best_of: Option<u64>,
	#[serde(default)]
	suffix: Option<String>,
	#[serde(default)]
	presence_penalty: Option<f64>,
	#[serde(default)]
	frequency_penalty: Option<f64>,
	#[serde(default)]
	logit_bias: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A completion request checked: what generation needs.
#[derive(Debug, PartialEq)]
struct Plan {
	prompt: String,
	max_tokens: u64,
	temperature: f64,
	top_p: f64,
	stops: Vec<String>,
	seed: Option<u64>,
	stream: bool,
}

fn unsupported(field: &str, what: &str) -> ApiError {
	ApiError::new(400, "unsupported_parameter", format!("`{field}`: {what}"))
}

impl CompletionRequest {
	fn plan(self) -> Result<Plan, ApiError> {
		let prompt = match self.prompt {
			None => String::new(),
			Some(Prompt::One(p)) => p,
			Some(Prompt::Many(mut v)) if v.len() == 1 => v.remove(0),
			Some(Prompt::Many(v)) => {
				return Err(unsupported(
					"prompt",
					&format!("one prompt per request, not {}", v.len()),
				))
			}
		};
		let max_tokens = self.max_tokens.unwrap_or(16);
		if !(1..=MAX_TOKENS).contains(&max_tokens) {
			return Err(ApiError::new(
				400,
				"invalid_max_tokens",
				format!("`max_tokens` must be 1 to {MAX_TOKENS}, not {max_tokens}"),
			));
		}
		let temperature = self.temperature.unwrap_or(1.0);
		if !(0.0..=2.0).contains(&temperature) {
			return Err(ApiError::new(
				400,
				"invalid_temperature",
				format!("`temperature` must be 0 to 2, not {temperature}"),
			));
		}
		let top_p = self.top_p.unwrap_or(1.0);
		if !(top_p > 0.0 && top_p <= 1.0) {
			return Err(ApiError::new(
				400,
				"invalid_top_p",
				format!("`top_p` must be above 0 and at most 1, not {top_p}"),
			));
		}
		if self.n.is_some_and(|n| n != 1) || self.best_of.is_some_and(|n| n != 1) {
			return Err(unsupported(
				"n",
				"one completion per request (each is paid by its voucher)",
			));
		}
		if self.echo == Some(true) {
			return Err(unsupported("echo", "the prompt is not echoed"));
		}
		if self.logprobs.as_ref().is_some_and(|v| !v.is_null()) {
			return Err(unsupported("logprobs", "not returned"));
		}
		if self.suffix.as_deref().is_some_and(|s| !s.is_empty()) {
			return Err(unsupported("suffix", "insertion is not supported"));
		}
		if self.presence_penalty.is_some_and(|p| p != 0.0)
			|| self.frequency_penalty.is_some_and(|p| p != 0.0)
		{
			return Err(unsupported("presence_penalty/frequency_penalty", "only 0"));
		}
		if self.logit_bias.as_ref().is_some_and(|b| !b.is_empty()) {
			return Err(unsupported("logit_bias", "not supported"));
		}
		let stops = match self.stop {
			None => Vec::new(),
			Some(Stop::One(s)) => vec![s],
			Some(Stop::Many(v)) => v,
		};
		if stops.len() > MAX_STOPS || stops.iter().any(String::is_empty) {
			return Err(unsupported("stop", &format!("at most {MAX_STOPS} non-empty strings")));
		}
		Ok(Plan {
			prompt,
			max_tokens,
			temperature,
			top_p,
			stops,
			seed: self.seed,
			stream: self.stream == Some(true),
		})
	}
}

/// The answer, as OpenAI's API shapes it, with the receipt beside.
#[derive(Serialize)]
struct CompletionResponse {
	id: String,
	object: &'static str,
	created: u64,
	model: String,
	choices: [Choice; 1],
	usage: Usage,
	verity: Verity,
}

#[derive(Serialize)]
struct Choice {
	text: String,
	index: u32,
	logprobs: Option<()>,
	finish_reason: &'static str,
}

#[derive(Serialize)]
struct Usage {
	prompt_tokens: u64,
	completion_tokens: u64,
	total_tokens: u64,
}

/// What a buyer checks: the generated token ids the receipt's output digest covers, and the
/// receipt.
#[derive(Serialize)]
struct Verity {
	tokens: Vec<i64>,
	#[serde(flatten)]
	receipt: ReceiptJson,
}

/// A deterministic generator (SplitMix64) for sampling, seeded from the request.
struct SplitMix(u64);

impl SplitMix {
	fn next_f64(&mut self) -> f64 {
		self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
		let mut z = self.0;
		z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
		z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
		z ^= z >> 31;
		// 53 random bits in [0, 1).
		(z >> 11) as f64 / (1u64 << 53) as f64
	}
}

/// The next token from `logits`: the first largest at temperature 0, else a draw from the
/// softmax at `temperature` restricted to the smallest most-likely set of mass `top_p`.
fn pick(logits: &[f32], temperature: f64, top_p: f64, rng: &mut SplitMix) -> i64 {
	let argmax = logits
		.iter()
		.enumerate()
		.fold((0, f32::NEG_INFINITY), |best, (i, l)| if *l > best.1 { (i, *l) } else { best })
		.0;
	if temperature == 0.0 {
		return argmax as i64;
	}
	let top = f64::from(logits[argmax]);
	let mut p: Vec<(usize, f64)> = logits
		.iter()
		.enumerate()
		.map(|(i, l)| (i, ((f64::from(*l) - top) / temperature).exp()))
		.collect();
	let total: f64 = p.iter().map(|(_, w)| w).sum();
	// Most likely first; ties by id, so the order is the same everywhere.
	p.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
	let mut kept = 0.0;
	let mut n = 0;
	for (_, w) in &p {
		kept += w / total;
		n += 1;
		if kept >= top_p {
			break;
		}
	}
	let p = &p[..n];
	let mass: f64 = p.iter().map(|(_, w)| w).sum();
	let mut u = rng.next_f64() * mass;
	for (i, w) in p {
		if u < *w {
			return *i as i64;
		}
		u -= w;
	}
	p[n - 1].0 as i64
}

/// The sampling seed of a request: its hash, and the client's `seed` when given.
fn seed_of(request: &[u8; 32], seed: Option<u64>) -> u64 {
	let mut pre = b"verity/sample/v1".to_vec();
	pre.extend_from_slice(request);
	pre.extend_from_slice(&seed.unwrap_or(0).to_le_bytes());
	pre.push(seed.is_some() as u8);
	let h = blake2_256(&pre);
	u64::from_le_bytes(h[..8].try_into().expect("8 bytes"))
}

/// `POST /v1/completions`.
pub async fn complete(
	State(s): State<Arc<Shared>>,
	headers: HeaderMap,
	body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
	let outcome = answer(&s, &headers, body).await;
	super::respond(&s, outcome, true)
}

async fn answer(
	s: &Arc<Shared>,
	headers: &HeaderMap,
	body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
	let body = super::body_bytes(s, body)?;
	let req: CompletionRequest = serde_json::from_slice(&body).map_err(|e| {
		ApiError::new(
			400,
			"malformed_request",
			format!("the body is not a completion request: {e}"),
		)
	})?;
	let (id, k) = served_kernel(s, &req.model)?;
	let model = req.model.clone();
	let text =
		k.text.as_ref().ok_or_else(|| {
			ApiError::new(
			400,
			"not_a_text_kernel",
			format!("kernel {id:?} is not served as text (no vocabulary); use /v1/kernels/{id:?}/infer"),
		)
		})?;
	let plan = req.plan()?;
	let prompt = text.encode(&plan.prompt).map_err(|missing| {
		ApiError::new(
			400,
			"unknown_characters",
			format!("the kernel's vocabulary lacks {missing:?}"),
		)
	})?;
	if plan.stream {
		return stream(s, id, model, plan, prompt, headers, &body).await;
	}
	let prompt_tokens = prompt.len() as u64;
	let ticket = Ticket::check(s, id, k, headers, &body, plan.max_tokens).await?;
	let (answered, (text_out, finish)) = paid(s, ticket, |request| async move {
		let mut g = Generator::new(text.clone(), plan, prompt, &request);
		while g.step(k).await?.is_some() {}
		let (out, finish) = g.done();
		let n = out.len() as i64;
		Ok((Tensor::from_slice(&out).reshape([1, n]), (text.decode(&out), finish)))
	})
	.await?;
	let tokens: Vec<i64> = answered
		.data
		.as_array()
		.map(|v| v.iter().filter_map(serde_json::Value::as_i64).collect())
		.unwrap_or_default();
	let completion_tokens = tokens.len() as u64;
	let response = CompletionResponse {
		id: format!("cmpl-{:?}", answered.receipt.request),
		object: "text_completion",
		created: now(),
		model,
		choices: [Choice { text: text_out, index: 0, logprobs: None, finish_reason: finish }],
		usage: Usage {
			prompt_tokens,
			completion_tokens,
			total_tokens: prompt_tokens + completion_tokens,
		},
		verity: Verity { tokens, receipt: answered.receipt },
	};
	Ok(Json(response).into_response())
}

fn now() -> u64 {
	std::time::SystemTime::now()
		.duration_since(std::time::UNIX_EPOCH)
		.map(|d| d.as_secs())
		.unwrap_or(0)
}

/// Generation, one token per step (see the module's documentation), with the text that becomes
/// final at each step: text that a stop string could still cut is held back until it cannot.
struct Generator {
	text: TextKernel,
	plan: Plan,
	/// The prompt and what was generated.
	tokens: Vec<i64>,
	/// What was generated.
	out: Vec<i64>,
	rng: SplitMix,
	/// Characters of `out` already given out.
	sent: usize,
	finish: Option<&'static str>,
	/// The step that gave the last text was taken.
	ended: bool,
}

impl Generator {
	fn new(text: TextKernel, plan: Plan, prompt: Vec<i64>, request: &H256) -> Self {
		let rng = SplitMix(seed_of(&request.0, plan.seed));
		Generator {
			text,
			plan,
			tokens: prompt,
			out: Vec::new(),
			rng,
			sent: 0,
			finish: None,
			ended: false,
		}
	}

	/// Generates one more token; returns the text that became final (maybe empty), or `None`
	/// once the completion has ended (after the step that gave the last text).
	async fn step(&mut self, k: &ServedKernel) -> Result<Option<String>, ApiError> {
		if self.ended {
			return Ok(None);
		}
		if self.out.len() as u64 >= self.plan.max_tokens {
			self.finish = Some("length");
			self.ended = true;
			return Ok(Some(self.rest()));
		}
		let window = Tensor::from_slice(&self.text.window(&self.tokens)).reshape([1, -1]);
		let logits = k
			.batcher
			.submit(window)
			.map_err(|_| busy())?
			.await
			.map_err(|_| ApiError::new(500, "kernel_failed", "the kernel's thread stopped"))?
			.map_err(|e| ApiError::new(500, "kernel_failed", e.to_string()))?;
		let last = logits
			.f_select(1, -1)
			.and_then(|t| t.f_reshape([-1]))
			.and_then(|t| Vec::<f32>::try_from(&t))
			.map_err(|e| ApiError::new(500, "kernel_failed", e.to_string()))?;
		let next = pick(&last, self.plan.temperature, self.plan.top_p, &mut self.rng);
		self.tokens.push(next);
		self.out.push(next);
		// A stop string ends the text before it (OpenAI's rule).
		let so_far = self.text.decode(&self.out);
		if let Some(cut) = self.plan.stops.iter().filter_map(|st| so_far.find(st.as_str())).min() {
			// One token per character: the ids before the cut.
			self.out.truncate(so_far[..cut].chars().count());
			self.finish = Some("stop");
			self.ended = true;
			return Ok(Some(self.rest()));
		}
		let chars: Vec<char> = so_far.chars().collect();
		let ready = chars.len() - held_back(&chars, &self.plan.stops);
		let piece: String = chars[self.sent.min(ready)..ready].iter().collect();
		self.sent = self.sent.max(ready);
		Ok(Some(piece))
	}

	/// The generated text not given out yet.
	fn rest(&mut self) -> String {
		let chars: Vec<char> = self.text.decode(&self.out).chars().collect();
		let rest = chars[self.sent.min(chars.len())..].iter().collect();
		self.sent = chars.len();
		rest
	}

	/// The generated token ids and why generation ended.
	fn done(self) -> (Vec<i64>, &'static str) {
		(self.out, self.finish.unwrap_or("length"))
	}
}

/// How many of the last characters of `text` a stop string begins with (the longest such tail
/// shorter than the stop string): text a later token could still turn into a stop.
fn held_back(text: &[char], stops: &[String]) -> usize {
	stops
		.iter()
		.map(|st| {
			let st: Vec<char> = st.chars().collect();
			(1..st.len())
				.rev()
				.find(|h| *h <= text.len() && text[text.len() - h..] == st[..*h])
				.unwrap_or(0)
		})
		.max()
		.unwrap_or(0)
}

/// A failure after a stream started, as the chunk OpenAI's API ends a stream with.
fn error_chunk(e: &ApiError) -> serde_json::Value {
	serde_json::json!({"error": {
		"message": e.message, "type": "api_error", "code": e.reason, "param": null,
	}})
}

/// One streamed chunk as OpenAI's API shapes it (`data: {…}` of a server-sent event).
fn event(value: &serde_json::Value) -> Bytes {
	Bytes::from(format!("data: {value}\n\n"))
}

/// A completion with `stream: true`, as server-sent events the way OpenAI's API streams them:
/// one chunk per piece of text, then a last chunk with the finish reason, the usage and the
/// receipt (`verity`, as in a whole answer), then `data: [DONE]`. The voucher is checked and the
/// first token generated before the answer starts; the voucher is journaled before the first
/// byte of the answer leaves, so a `200` stream is a paid request whatever happens after. A
/// failure later ends the stream with an error chunk and no receipt; a client that goes away
/// stops the generation, and the request stays paid.
async fn stream(
	s: &Arc<Shared>,
	id: H256,
	model: String,
	plan: Plan,
	prompt: Vec<i64>,
	headers: &HeaderMap,
	body: &[u8],
) -> Result<Response, ApiError> {
	let k = &s.kernels[&id];
	let text = k.text.as_ref().expect("checked by the caller");
	let mut ticket = Ticket::check(s, id, k, headers, body, plan.max_tokens).await?;
	let request = ticket.request;
	let prompt_tokens = prompt.len() as u64;
	let chunk = move |model: &str, piece: &str, finish: Option<&str>| {
		serde_json::json!({
			"id": format!("cmpl-{request:?}"), "object": "text_completion", "created": now(),
			"model": model,
			"choices": [{"text": piece, "index": 0, "logprobs": null, "finish_reason": finish}],
		})
	};
	// The first step runs before the answer starts: a kernel that cannot run is an error
	// answer, and the voucher is forgotten.
	let mut g = Generator::new(text.clone(), plan, prompt, &request);
	let first = g.step(k).await?;
	ticket.journal(s).await?;
	let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
	if let Some(first) = first.filter(|f| !f.is_empty()) {
		let _ = tx.send(event(&chunk(&model, &first, None)));
	}
	let s = s.clone();
	tokio::spawn(async move {
		let k = &s.kernels[&id];
		loop {
			match g.step(k).await {
				Ok(Some(piece)) if piece.is_empty() => {}
				Ok(Some(piece)) => {
					if tx.send(event(&chunk(&model, &piece, None))).is_err() {
						// The client went away: nothing more to generate for.
						return;
					}
				}
				Ok(None) => break,
				Err(e) => {
					let _ = tx.send(event(&error_chunk(&e)));
					return;
				}
			}
		}
		let (tokens, finish) = g.done();
		let n = tokens.len() as i64;
		let parts = super::output_parts(&Tensor::from_slice(&tokens).reshape([1, n]));
		let settled = match parts {
			Ok(parts) => ticket.settle(&s, parts).await,
			Err(e) => Err(e),
		};
		let last = match settled {
			Ok(answered) => {
				let completion_tokens = tokens.len() as u64;
				let mut last = chunk(&model, "", Some(finish));
				last["usage"] = serde_json::json!({
					"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
					"total_tokens": prompt_tokens + completion_tokens,
				});
				last["verity"] = serde_json::to_value(Verity { tokens, receipt: answered.receipt })
					.unwrap_or_default();
				last
			}
			Err(e) => error_chunk(&e),
		};
		let _ = tx.send(event(&last));
		let _ = tx.send(Bytes::from_static(b"data: [DONE]\n\n"));
	});
	let body = futures::stream::unfold(rx, |mut rx| async move {
		rx.recv().await.map(|b| (Ok::<_, std::convert::Infallible>(b), rx))
	});
	Ok((
		[
			(axum::http::header::CONTENT_TYPE, "text/event-stream"),
			(axum::http::header::CACHE_CONTROL, "no-cache"),
		],
		axum::body::Body::from_stream(body),
	)
		.into_response())
}

/// `GET /v1/models`: the kernels served as text, as OpenAI's model list.
pub async fn models(State(s): State<Arc<Shared>>) -> Json<serde_json::Value> {
	let owner = super::node::AccountId::from(<[u8; 32]>::from(s.me.clone())).to_string();
	let mut data: Vec<serde_json::Value> = s
		.kernels
		.iter()
		.filter(|(_, k)| k.text.is_some())
		.map(|(id, k)| {
			serde_json::json!({
				"id": format!("{id:?}"), "object": "model", "created": 0, "owned_by": owner,
				"name": k.name,
			})
		})
		.collect();
	data.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
	Json(serde_json::json!({ "object": "list", "data": data }))
}

#[cfg(test)]
mod tests {
	use super::*;

	fn text() -> TextKernel {
		TextKernel {
			vocab: vec![' ', '.', 'a', 'b'],
			ids: [(' ', 0), ('.', 1), ('a', 2), ('b', 3)].into_iter().collect(),
			context: 4,
			pad: 0,
		}
	}

	#[test]
	fn text_round_trips_and_unknown_characters_are_named() {
		let t = text();
		assert_eq!(t.encode("ab."), Ok(vec![2, 3, 1]));
		assert_eq!(t.decode(&[2, 3, 1]), "ab.");
		assert_eq!(t.encode("abzcz"), Err("cz".to_string()));
		assert_eq!(t.window(&[2]), vec![0, 0, 0, 2]);
		assert_eq!(t.window(&[1, 2, 3, 1, 2]), vec![2, 3, 1, 2]);
	}

	#[test]
	fn greedy_takes_the_first_largest_and_sampling_follows_the_seed() {
		let mut rng = SplitMix(1);
		assert_eq!(pick(&[0.0, 3.0, 3.0, -1.0], 0.0, 1.0, &mut rng), 1);
		// top_p small keeps only the most likely token.
		assert_eq!(pick(&[0.0, 3.0, 1.0], 1.0, 0.01, &mut rng), 1);
		let draw = |seed| {
			let mut rng = SplitMix(seed);
			(0..64).map(|_| pick(&[0.0, 0.1, 0.2, 0.3], 1.0, 1.0, &mut rng)).collect::<Vec<_>>()
		};
		assert_eq!(draw(5), draw(5));
		assert_ne!(draw(5), draw(6));
		// Every token of a flat distribution is drawn.
		let d = draw(9);
		assert!((0..4).all(|i| d.contains(&i)), "{d:?}");
		assert_ne!(seed_of(&[1; 32], None), seed_of(&[1; 32], Some(0)));
		assert_ne!(seed_of(&[1; 32], None), seed_of(&[2; 32], None));
	}

	#[test]
	fn streamed_text_holds_back_what_a_stop_string_could_still_cut() {
		let chars = |t: &str| t.chars().collect::<Vec<_>>();
		let stops = vec!["ab.".to_string(), "b b".to_string()];
		assert_eq!(held_back(&chars("xa"), &stops), 1, "`a` may begin `ab.`");
		assert_eq!(held_back(&chars("xab"), &stops), 2, "`ab` may begin `ab.`");
		assert_eq!(held_back(&chars("x b"), &stops), 1, "`b` may begin `b b`");
		assert_eq!(held_back(&chars("xb "), &stops), 2, "`b ` may begin `b b`");
		assert_eq!(held_back(&chars("x a"), &["b b".to_string()]), 0);
		assert_eq!(held_back(&chars("abc"), &stops), 0);
		assert_eq!(held_back(&chars("a"), &[]), 0);
	}

	#[test]
	fn openai_requests_are_checked_field_by_field() {
		let plan =
			|v: serde_json::Value| serde_json::from_value::<CompletionRequest>(v).unwrap().plan();
		let p = plan(serde_json::json!({"model": "0x00", "prompt": ["ab"], "max_tokens": 5,
			"temperature": 0, "stop": "."}))
		.unwrap();
		assert_eq!(
			p,
			Plan {
				prompt: "ab".into(),
				max_tokens: 5,
				temperature: 0.0,
				top_p: 1.0,
				stops: vec![".".into()],
				seed: None,
				stream: false,
			}
		);
		assert!(plan(serde_json::json!({"model": "m", "stream": true})).unwrap().stream);
		assert_eq!(plan(serde_json::json!({"model": "m"})).unwrap().max_tokens, 16);
		for (body, reason) in [
			(serde_json::json!({"model": "m", "max_tokens": 0}), "invalid_max_tokens"),
			(serde_json::json!({"model": "m", "max_tokens": MAX_TOKENS + 1}), "invalid_max_tokens"),
			(serde_json::json!({"model": "m", "temperature": 2.5}), "invalid_temperature"),
			(serde_json::json!({"model": "m", "top_p": 0}), "invalid_top_p"),
			(serde_json::json!({"model": "m", "n": 2}), "unsupported_parameter"),
			(serde_json::json!({"model": "m", "prompt": ["a", "b"]}), "unsupported_parameter"),
			(
				serde_json::json!({"model": "m", "stop": ["a", "b", "c", "d", "e"]}),
				"unsupported_parameter",
			),
			(serde_json::json!({"model": "m", "logprobs": 3}), "unsupported_parameter"),
		] {
			assert_eq!(plan(body.clone()).unwrap_err().reason, reason, "{body}");
		}
	}
}
