// The account a per-account view shows: the one in the address, else the header's; with the form
// that picks another. `view` is null when there is one to show, else what to draw instead.
import { esc } from '../format.js';

export function accountOf(ctx, route, title, address) {
  const who = address || ctx.account?.address;
  const form = `<form data-go="${route}" class="inline"><input name="q" placeholder="account address" size="50" aria-label="account address" value="${esc(who ?? '')}"><button>show</button></form>`;
  if (!who) return { who, form, view: { title, html: `${form}<p class="muted">Enter an account, or choose one in the header.</p>` } };
  try {
    ctx.api.createType('AccountId', who);
  } catch {
    return { who, form, view: { title, html: `${form}<p class="error">Not an account address: ${esc(who)}</p>` } };
  }
  return { who, form, view: null };
}
