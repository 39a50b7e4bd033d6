// Formatting of chain values for the pages: balances in the chain's token, CIDs in their text
// form, accounts shortened, and HTML escaping. Every value a page shows also carries its raw form
// in a `data-raw` attribute, so tests compare the page with RPC reads exactly.

/** Escapes text for HTML. */
export function esc(value) {
  return String(value ?? '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}

/** The token's symbol and decimals, set once from the chain's properties. */
export const token = { symbol: 'VER', decimals: 12 };

/** A balance (anything with toString() in base units) in the token, at most 4 decimals. */
export function balance(value) {
  const raw = BigInt(value.toString());
  const unit = 10n ** BigInt(token.decimals);
  const sign = raw < 0n ? '-' : '';
  const abs = raw < 0n ? -raw : raw;
  const whole = abs / unit;
  const frac = abs % unit;
  // Four decimals, or for amounts below one token three significant digits (prices per WU).
  let places = 4;
  if (whole === 0n && frac > 0n) {
    const lead = token.decimals - frac.toString().length;
    places = Math.min(token.decimals, Math.max(4, lead + 3));
  }
  const shown = (frac * 10n ** BigInt(places)) / unit;
  const f = shown.toString().padStart(places, '0').replace(/0+$/, '');
  const text = `${sign}${whole.toLocaleString('en-US')}${f ? '.' + f : ''}`;
  return `<span class="bal" data-raw="${raw}">${esc(text)} ${esc(token.symbol)}</span>`;
}

/** A plain number with thousands separators, `data-raw` exact. */
export function num(value) {
  const raw = BigInt(value.toString());
  return `<span class="num" data-raw="${raw}">${raw.toLocaleString('en-US')}</span>`;
}

/** An account: shortened, linked to its provider page, full address in `data-raw` and title. */
export function account(address, name) {
  const a = address.toString();
  const label = name ?? `${a.slice(0, 6)}…${a.slice(-4)}`;
  return `<a class="acct" href="#/provider/${a}" data-raw="${a}" title="${a}">${esc(label)}</a>`;
}

/** The text form (`bafkrei…`, base32 lower case) of a CIDv1 with `codec` and sha2-256 `digest`. */
export function cidText(codec, digest) {
  const binary = new Uint8Array([0x01, codec, 0x12, 0x20, ...digest]);
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  let out = 'b';
  let acc = 0;
  let bits = 0;
  for (const byte of binary) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += alphabet[(acc >> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += alphabet[(acc << (5 - bits)) & 31];
  return out;
}

/** The text form of a chain `Cid` (`{ codec, digest }` as polkadot.js decodes it). */
export function cidOf(cid) {
  return cidText(cid.codec.isRaw ? 0x55 : 0x70, cid.digest.toU8a());
}

/** A CID shown shortened, the full text in `data-raw`. */
export function cid(value) {
  if (!value || (value.isNone ?? false)) return '<span class="muted">—</span>';
  const c = value.unwrap ? value.unwrap() : value;
  const text = cidOf(c);
  return `<code class="cid" data-raw="${text}" title="${text}">${text.slice(0, 12)}…${text.slice(-6)}</code>`;
}

/** A hex hash shortened, the full hash in `data-raw`. */
export function hash(value) {
  const h = value.toHex ? value.toHex() : String(value);
  return `<code class="hash" data-raw="${h}" title="${h}">${h.slice(0, 10)}…${h.slice(-6)}</code>`;
}

/** A block number linked to nothing, with `#`. */
export function block(n) {
  return `<span class="blk" data-raw="${n}">#${Number(n).toLocaleString('en-US')}</span>`;
}

/** A Perbill as a percentage. */
export function perbill(value) {
  const raw = BigInt(value.toString());
  return `<span data-raw="${raw}">${(Number(raw) / 1e7).toFixed(2)} %</span>`;
}

/** An HTML table from a header row and rows of HTML cells; `empty` when there are no rows. */
export function table(head, rows, empty = 'none', attrs = '') {
  if (rows.length === 0) return `<p class="muted empty">${esc(empty)}</p>`;
  return `<div class="scroll"><table ${attrs}><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr${r.attrs ? ' ' + r.attrs : ''}>${(r.cells ?? r).map((c) => `<td>${c}</td>`).join('')}</tr>`)
    .join('')}</tbody></table></div>`;
}

/** A key-value list. */
export function dl(pairs) {
  return `<dl class="kv">${pairs.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join('')}</dl>`;
}

/** Reads an unsigned varint at `i`: [value, next index]. */
function varint(bytes, i) {
  let value = 0;
  let shift = 0;
  for (;;) {
    const b = bytes[i++];
    if (b === undefined) throw new Error('truncated varint');
    value += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return [value, i];
    shift += 7;
  }
}

/**
 * A binary multiaddr as text (`/ip4/…/tcp/…`); the protocols a worker publishes are known, any
 * other makes the whole address shown as hex.
 */
export function multiaddr(bytes, base58) {
  try {
    let i = 0;
    let out = '';
    const need = (n) => {
      if (i + n > bytes.length) throw new Error('truncated');
    };
    while (i < bytes.length) {
      let code;
      [code, i] = varint(bytes, i);
      if (code === 0x04) {
        need(4);
        out += `/ip4/${bytes.slice(i, i + 4).join('.')}`;
        i += 4;
      } else if (code === 0x29) {
        need(16);
        const parts = [];
        for (let k = 0; k < 16; k += 2) parts.push(((bytes[i + k] << 8) | bytes[i + k + 1]).toString(16));
        out += `/ip6/${parts.join(':')}`;
        i += 16;
      } else if (code === 0x06 || code === 0x0111) {
        need(2);
        out += `/${code === 0x06 ? 'tcp' : 'udp'}/${(bytes[i] << 8) | bytes[i + 1]}`;
        i += 2;
      } else if (code === 0x01cc) {
        out += '/quic-v1';
      } else if ([0x35, 0x36, 0x37, 0x01a5].includes(code)) {
        let len;
        [len, i] = varint(bytes, i);
        need(len);
        const body = bytes.slice(i, i + len);
        out += code === 0x01a5 ? `/p2p/${base58(body)}` : `/${{ 0x35: 'dns', 0x36: 'dns4', 0x37: 'dns6' }[code]}/${new TextDecoder().decode(body)}`;
        i += len;
      } else {
        throw new Error(`protocol ${code}`);
      }
    }
    return out;
  } catch {
    return '0x' + [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  }
}
