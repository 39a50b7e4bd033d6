// Payment-channel vouchers for buyers using @polkadot/api: the exact bytes the fee-settlement
// pallet verifies (layout in primitives/src/voucher.rs; tests/vectors/vouchers.json proves the
// Rust and JS sides agree).
//
//   const channel = channelId(alice.publicKey, bob.publicKey, 0);          // or from ChannelOpened
//   const v = { channel, cumulative: 10n, nonce: 1, requestsRoot: merkleRoot(requestHashes) };
//   const signature = signVoucher(alice, api.genesisHash, v);              // { Sr25519: '0x…' }
//   await api.tx.feeSettlement.redeem(voucherArg(v), signature).signAndSend(bob);
import { stringToU8a, u8aConcat, u8aToHex, u8aToU8a, u8aWrapBytes } from '@polkadot/util';
import { blake2AsU8a, sr25519Verify } from '@polkadot/util-crypto';

export const VOUCHER_PREFIX = stringToU8a('verity/voucher/v1');
export const CHANNEL_PREFIX = stringToU8a('verity/channel/v1');

function uintLe(value, bytes) {
  const out = new Uint8Array(bytes);
  let v = BigInt(value);
  if (v < 0n || v >= 1n << BigInt(8 * bytes)) throw new RangeError(`${value} does not fit in ${bytes} bytes`);
  for (let i = 0; i < bytes; i++) { out[i] = Number(v & 0xffn); v >>= 8n; }
  return out;
}

function bytes32(value, what) {
  const u8a = u8aToU8a(value);
  if (u8a.length !== 32) throw new TypeError(`${what} must be 32 bytes, got ${u8a.length}`);
  return u8a;
}

/** Id of the `index`-th channel (0 for the first) `buyer` opens to `provider` (public keys). */
export function channelId(buyer, provider, index) {
  return blake2AsU8a(u8aConcat(CHANNEL_PREFIX, bytes32(buyer, 'buyer'), bytes32(provider, 'provider'), uintLe(index, 8)), 256);
}

/** The 137 bytes a buyer signs: prefix ‖ genesis ‖ channel ‖ cumulative u128 LE ‖ nonce u64 LE ‖ root. */
export function signingPayload(genesisHash, voucher) {
  return u8aConcat(
    VOUCHER_PREFIX,
    bytes32(genesisHash, 'genesis hash'),
    bytes32(voucher.channel, 'channel'),
    uintLe(voucher.cumulative, 16),
    uintLe(voucher.nonce, 8),
    bytes32(voucher.requestsRoot, 'requests root'),
  );
}

/**
 * Signs `voucher` with a keyring pair (sr25519 or ed25519) and returns the `MultiSignature`
 * argument for `feeSettlement.redeem`. `wrapped: true` signs `<Bytes>payload</Bytes>` as
 * `signRaw` and browser wallets do; the pallet accepts both.
 */
export function signVoucher(pair, genesisHash, voucher, { wrapped = false } = {}) {
  const payload = signingPayload(genesisHash, voucher);
  const signature = pair.sign(wrapped ? u8aWrapBytes(payload) : payload);
  const scheme = { sr25519: 'Sr25519', ed25519: 'Ed25519', ecdsa: 'Ecdsa' }[pair.type];
  if (!scheme) throw new TypeError(`unsupported key type ${pair.type}`);
  return { [scheme]: u8aToHex(signature) };
}

/** The voucher as the `redeem` call's argument. */
export function voucherArg(voucher) {
  return {
    channel: u8aToHex(bytes32(voucher.channel, 'channel')),
    cumulative: BigInt(voucher.cumulative).toString(),
    nonce: BigInt(voucher.nonce).toString(),
    requestsRoot: u8aToHex(bytes32(voucher.requestsRoot, 'requests root')),
  };
}

export const leafHash = (request) => blake2AsU8a(u8aConcat(new Uint8Array([0]), bytes32(request, 'request')), 256);
export const nodeHash = (left, right) => blake2AsU8a(u8aConcat(new Uint8Array([1]), left, right), 256);

function nextLevel(level) {
  const out = [];
  for (let i = 0; i < level.length; i += 2) out.push(i + 1 < level.length ? nodeHash(level[i], level[i + 1]) : level[i]);
  return out;
}

/** Merkle root over request hashes in order (odd nodes carried up); 32 zero bytes for none. */
export function merkleRoot(requests) {
  let level = requests.map(leafHash);
  if (level.length === 0) return new Uint8Array(32);
  while (level.length > 1) level = nextLevel(level);
  return level[0];
}

/** Sibling hashes from `requests[index]`'s leaf to the root, for `feeSettlement.proveRequest`. */
export function merkleProof(requests, index) {
  if (index < 0 || index >= requests.length) throw new RangeError(`no request ${index}`);
  let level = requests.map(leafHash);
  const proof = [];
  let idx = index;
  while (level.length > 1) {
    const sibling = idx ^ 1;
    if (sibling < level.length) proof.push(level[sibling]);
    level = nextLevel(level);
    idx >>= 1;
  }
  return proof;
}

/**
 * Keeps the hashes of the requests served so far and makes the voucher for the next one, the way a
 * buyer's client does: `next(requestHash, price)` returns the voucher covering every request so far.
 * The root is kept incrementally (O(log n) per request): the tree's root is the right fold
 * nodeHash(p0, nodeHash(p1, … pk)) of its perfect subtrees ("peaks"), largest first.
 */
export class VoucherLog {
  constructor(channel, { cumulative = 0n } = {}) {
    this.channel = u8aToU8a(channel);
    this.cumulative = BigInt(cumulative);
    this.requests = [];
    this.peaks = []; // [{ hash, height }], heights strictly decreasing
  }

  /** Records one more request hash and returns the voucher covering all of them. */
  next(requestHash, price) {
    this.append(requestHash);
    this.cumulative += BigInt(price);
    return { channel: this.channel, cumulative: this.cumulative, nonce: this.requests.length, requestsRoot: this.root() };
  }

  append(requestHash) {
    this.requests.push(bytes32(requestHash, 'request hash'));
    this.peaks.push({ hash: leafHash(requestHash), height: 0 });
    while (this.peaks.length > 1 && this.peaks.at(-1).height === this.peaks.at(-2).height) {
      const right = this.peaks.pop();
      const left = this.peaks.pop();
      this.peaks.push({ hash: nodeHash(left.hash, right.hash), height: left.height + 1 });
    }
  }

  root() {
    if (this.peaks.length === 0) return new Uint8Array(32);
    return this.peaks.slice(0, -1).reduceRight((acc, peak) => nodeHash(peak.hash, acc), this.peaks.at(-1).hash);
  }
}

// ---------------------------------------------------------------------------------------------
// Paying a provider's inference server (`verity-worker provide --serve`) request by request.
// The wire format is worker/src/serve/protocol.rs's, byte for byte:
//
//   const client = new ServingClient({ url: 'http://127.0.0.1:8080', pair: alice, genesisHash,
//                                      channel, kernel, pricePerRow, provider: bob.publicKey });
//   const { output, receipt } = await client.infer([1, 64], rowOf64Floats);
//   // receipt: { request, outputDigest, signature, nonce, cumulative } — checked already.

export const REQUEST_PREFIX = stringToU8a('verity/request/v1');
export const RESPONSE_PREFIX = stringToU8a('verity/response/v1');
export const OUTPUT_PREFIX = stringToU8a('verity/output/v1');
/** The SCALE index of each dtype of a kernel record. */
export const DTYPES = { f32: 0, f16: 1, bf16: 2, f64: 3, i64: 4, i32: 5, u8: 6 };

/** The voucher's SCALE encoding (the `verity-voucher` header's bytes). */
export const encodeVoucher = (v) => signingPayload(new Uint8Array(32), v).slice(VOUCHER_PREFIX.length + 32);

/** A `signVoucher` result as the `verity-signature` header's SCALE `MultiSignature` bytes. */
export function encodeSignature(sig) {
  const [[scheme, hex]] = Object.entries(sig);
  const index = { Ed25519: 0, Sr25519: 1, Ecdsa: 2 }[scheme];
  if (index === undefined) throw new TypeError(`unknown signature scheme ${scheme}`);
  return u8aConcat(new Uint8Array([index]), u8aToU8a(hex));
}

/** blake2-256("verity/request/v1" ‖ channel ‖ nonce u64 LE ‖ kernel ‖ blake2-256(body)). */
export function requestHash(channel, nonce, kernel, body) {
  return blake2AsU8a(u8aConcat(REQUEST_PREFIX, bytes32(channel, 'channel'), uintLe(nonce, 8),
    bytes32(kernel, 'kernel'), blake2AsU8a(u8aToU8a(body), 256)), 256);
}

/** blake2-256("verity/output/v1" ‖ dtype u8 ‖ ndims u8 ‖ dims u64 LE ‖ values LE). */
export function outputDigest(dtype, shape, data) {
  let values;
  if (dtype === 'f32') values = new Uint8Array(Float32Array.from(data).buffer);
  else if (dtype === 'i64') values = new Uint8Array(BigInt64Array.from(data.map(BigInt)).buffer);
  else throw new TypeError(`unsupported output dtype ${dtype}`);
  return blake2AsU8a(u8aConcat(OUTPUT_PREFIX, new Uint8Array([DTYPES[dtype], shape.length]),
    ...shape.map((d) => uintLe(d, 8)), values), 256);
}

/** What the provider signs for a response: prefix ‖ genesis ‖ request hash ‖ output digest. */
export const receiptPayload = (genesisHash, request, digest) =>
  u8aConcat(RESPONSE_PREFIX, bytes32(genesisHash, 'genesis hash'), bytes32(request, 'request'), bytes32(digest, 'digest'));

/** Whether `signature` is `provider`'s (sr25519 public key) receipt of `request` → `digest`. */
export const verifyReceipt = (genesisHash, request, digest, signature, provider) =>
  sr25519Verify(receiptPayload(genesisHash, request, digest), signature, provider);

/** An HTTP refusal from the server: `status`, `reason` (machine-readable), `body`. */
export class ServingError extends Error {
  constructor(status, body) {
    super(`${status} ${body.error}: ${body.message}`);
    this.status = status;
    this.reason = body.error;
    this.body = body;
  }
}

/**
 * A buyer's client for one channel and one kernel: signs the voucher for each request, sends it,
 * checks the response's output digest and the provider's receipt signature, keeps the receipts.
 * A refused request changes nothing here: its voucher is taken back.
 */
export class ServingClient {
  constructor({ url, pair, genesisHash, channel, kernel, pricePerRow, provider, log }) {
    Object.assign(this, { url, pair, provider: u8aToU8a(provider), kernel: u8aToU8a(kernel) });
    this.genesisHash = u8aToU8a(genesisHash);
    this.pricePerRow = BigInt(pricePerRow);
    this.log = log ?? new VoucherLog(channel);
    this.receipts = [];
  }

  /** Signs the voucher for `body` as the next request; returns its headers and hash. */
  voucherFor(body, rows) {
    const nonce = this.log.requests.length + 1;
    const request = requestHash(this.log.channel, nonce, this.kernel, body);
    const voucher = this.log.next(request, this.pricePerRow * BigInt(rows));
    const signature = signVoucher(this.pair, this.genesisHash, voucher);
    return {
      request,
      voucher,
      headers: {
        'verity-voucher': u8aToHex(encodeVoucher(voucher)),
        'verity-signature': u8aToHex(encodeSignature(signature)),
      },
    };
  }

  /** Forgets the last voucher (its request was refused). */
  undo(voucher, price) {
    this.log.requests.pop();
    this.log.cumulative -= price;
    // Rebuild the peaks from the remaining requests.
    const requests = this.log.requests;
    this.log.requests = [];
    this.log.peaks = [];
    for (const r of requests) this.log.append(r);
    return voucher;
  }

  /** Runs the kernel on `data` (row-major) of `shape`; resolves with `{ output, receipt }`. */
  async infer(shape, data) {
    const body = JSON.stringify({ input: { shape, data } });
    const { request, voucher, headers } = this.voucherFor(body, shape[0]);
    const res = await fetch(`${this.url}/v1/kernels/${u8aToHex(this.kernel)}/infer`, {
      method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body,
    });
    const json = await res.json();
    if (!res.ok) {
      this.undo(voucher, this.pricePerRow * BigInt(shape[0]));
      throw new ServingError(res.status, json);
    }
    return { output: json.output, receipt: this.accept(request, json.output, json), voucher };
  }

  /**
   * Checks an answer to `request`: `output` (`{ dtype, shape, data }`) is what `answer`'s
   * `output_digest` covers, the request is ours, the provider signed the receipt; keeps and
   * returns the receipt.
   */
  accept(request, output, answer) {
    const digest = outputDigest(output.dtype, output.shape, output.data);
    if (u8aToHex(digest) !== answer.output_digest) throw new Error('the output does not match its digest');
    if (u8aToHex(request) !== answer.request) throw new Error('the server answered another request');
    if (!verifyReceipt(this.genesisHash, request, digest, answer.signature, this.provider)) {
      throw new Error('the receipt signature is not the provider\'s');
    }
    const receipt = { request, outputDigest: digest, signature: answer.signature, nonce: answer.nonce, cumulative: BigInt(answer.cumulative) };
    this.receipts.push(receipt);
    return receipt;
  }

  /**
   * A `fetch` for OpenAI-style clients, which then work unchanged against the provider's
   * `/v1/completions`: `new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', fetch: client.openaiFetch() })`.
   * Each completion is paid by a voucher for its `max_tokens` rows over the exact body the client
   * sends; the receipt of the generated tokens is checked (a bad one throws) and kept; a refused
   * request's voucher is forgotten, so the client's own retries pay with the same nonce. A
   * streamed completion (`stream: true`) is passed through as it arrives; its last chunk's receipt
   * is checked and kept the same way (a bad one errors the stream). A stream that started is
   * paid: the server journaled its voucher first.
   */
  openaiFetch() {
    return async (url, init = {}) => {
      if (!String(url).endsWith('/completions') || typeof init.body !== 'string') return fetch(url, init);
      const { model, max_tokens: maxTokens = 16, stream } = JSON.parse(init.body);
      if (model !== u8aToHex(this.kernel)) throw new Error(`this client pays for kernel ${u8aToHex(this.kernel)}, not ${model}`);
      const { request, voucher, headers } = this.voucherFor(init.body, maxTokens);
      const h = new Headers(init.headers);
      for (const [k, v] of Object.entries(headers)) h.set(k, v);
      const res = await fetch(url, { ...init, headers: h });
      if (res.ok && stream) return new Response(this.receiptOf(request, res.body), { status: res.status, statusText: res.statusText, headers: res.headers });
      const text = await res.text();
      if (!res.ok) this.undo(voucher, this.pricePerRow * BigInt(maxTokens));
      else {
        const { verity } = JSON.parse(text);
        this.accept(request, { dtype: 'i64', shape: [1, verity.tokens.length], data: verity.tokens }, verity);
      }
      return new Response(text, { status: res.status, statusText: res.statusText, headers: res.headers });
    };
  }

  /** `body` (server-sent events) passed through; the `verity` receipt in its events checked and kept. */
  receiptOf(request, body) {
    const decoder = new TextDecoder();
    let pending = '';
    const check = (line) => {
      if (!line.startsWith('data: ') || line === 'data: [DONE]') return;
      const { verity } = JSON.parse(line.slice(6));
      if (verity) this.accept(request, { dtype: 'i64', shape: [1, verity.tokens.length], data: verity.tokens }, verity);
    };
    return body.pipeThrough(new TransformStream({
      transform: (chunk, controller) => {
        pending += decoder.decode(chunk, { stream: true });
        const lines = pending.split('\n');
        pending = lines.pop();
        lines.forEach(check);
        controller.enqueue(chunk);
      },
      flush: () => check(pending),
    }));
  }
}
