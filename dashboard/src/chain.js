// The connection to a verity-node, the accounts that can sign (the polkadot.js browser extension
// when present, the dev accounts on a development chain), and sending an extrinsic with its
// named error on failure.
import { ApiPromise, WsProvider } from '@polkadot/api';
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { web3Accounts, web3Enable, web3FromAddress } from '@polkadot/extension-dapp';
import { token } from './format.js';

/** The node's WebSocket address: `?rpc=` in the page's address, else the local default. */
export function rpcUrl() {
  const param = new URLSearchParams(window.location.search).get('rpc');
  return param || 'ws://127.0.0.1:9944';
}

/** Connects and reads the token; rejects with a clear message when the node cannot be reached. */
export async function connect(url) {
  const provider = new WsProvider(url, 2500);
  const api = await ApiPromise.create({ provider, noInitWarn: true, throwOnConnect: true });
  const props = api.registry.getChainProperties();
  token.symbol = props?.tokenSymbol.unwrapOr([])[0]?.toString() ?? 'UNIT';
  token.decimals = props?.tokenDecimals.unwrapOr([])[0]?.toNumber() ?? 12;
  return api;
}

const DEV = ['Alice', 'Bob', 'Charlie', 'Dave', 'Eve', 'Ferdie'];

/**
 * The accounts the page can sign with: the extension's (`web3Enable`) when one is installed and
 * allows this page, and on a development or local chain the dev accounts and their stashes.
 * Each is `{ address, name, source, pair? }`.
 */
export async function signingAccounts(api) {
  const out = [];
  const extensions = await web3Enable('Verity dashboard').catch(() => []);
  if (extensions.length > 0) {
    for (const a of await web3Accounts({ ss58Format: api.registry.chainSS58 })) {
      out.push({ address: a.address, name: a.meta.name ?? a.address.slice(0, 8), source: a.meta.source });
    }
  }
  const chainType = await api.rpc.system.chainType();
  if (chainType.isDevelopment || chainType.isLocal) {
    await cryptoWaitReady();
    const keyring = new Keyring({ type: 'sr25519', ss58Format: api.registry.chainSS58 });
    for (const name of DEV) {
      for (const suffix of ['', '//stash']) {
        const pair = keyring.addFromUri(`//${name}${suffix}`, { name: `${name}${suffix}` });
        out.push({ address: pair.address, name: `${name}${suffix ? ' (stash)' : ''}`, source: 'dev', pair });
      }
    }
  }
  return out;
}

/** A failed extrinsic's error as `section.Name: docs`, or the error text of anything else. */
export function namedError(api, dispatchError) {
  if (dispatchError.isModule) {
    const meta = api.registry.findMetaError(dispatchError.asModule);
    return `${meta.section}.${meta.name}${meta.docs.length ? ': ' + meta.docs.join(' ').trim() : ''}`;
  }
  if (dispatchError.isToken) return `Token.${dispatchError.asToken.type}`;
  if (dispatchError.isArithmetic) return `Arithmetic.${dispatchError.asArithmetic.type}`;
  return dispatchError.type ?? dispatchError.toString();
}

/**
 * Signs and sends `tx` as `account`, calling `progress(text)` as it moves, and resolves with the
 * block number it landed in; rejects with the named error when it fails (in the pool or on chain).
 */
export function send(api, tx, account, progress) {
  return new Promise((resolve, reject) => {
    const label = `${tx.method.section}.${tx.method.method}`;
    const go = async () => {
      const options = {};
      let signer = account.pair;
      if (!signer) {
        options.signer = (await web3FromAddress(account.address)).signer;
        signer = account.address;
      }
      progress(`${label}: signing as ${account.name}`);
      const unsub = await tx.signAndSend(signer, options, async (result) => {
        const { status, dispatchError } = result;
        if (status.isReady || status.isBroadcast) progress(`${label}: sent, waiting for a block`);
        if (status.isInBlock) {
          unsub();
          const header = await api.rpc.chain.getHeader(status.asInBlock);
          const n = header.number.toNumber();
          if (dispatchError) reject(new Error(`${label} failed in block #${n}: ${namedError(api, dispatchError)}`));
          else resolve(n);
        } else if (status.isDropped || status.isInvalid || status.isUsurped) {
          unsub();
          reject(new Error(`${label}: ${status.type}`));
        }
      });
    };
    go().catch((e) => reject(new Error(`${label}: ${e.message ?? e}`)));
  });
}
