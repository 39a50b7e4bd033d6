// Payment channels of one account, as buyer and as provider: deposit, what vouchers redeemed,
// the nonce, and the close window; closed ones from the history.
import { account, balance, block, dl, esc, hash, num, table } from '../format.js';
import { accountOf } from './account.js';

export async function render(ctx, address) {
  const { at, history } = ctx;
  const { who, form, view } = accountOf(ctx, 'channels', 'Channels', address);
  if (view) return view;
  const [buyer, all, period] = await Promise.all([
    at.query.feeSettlement.buyers(who),
    at.query.feeSettlement.channels.entries(),
    at.query.feeSettlement.challengePeriod(),
  ]);
  const best = ctx.drawn;
  const redeemed = (id) => history.find('feeSettlement', 'VoucherRedeemed', (d) => d.channel.toHex() === id);
  const row = (id, c) => {
    const vouchers = redeemed(id);
    const closes = c.closesAt.isSome
      ? `closes at ${block(c.closesAt.unwrap())}${c.closesAt.unwrap().toNumber() > best ? ` (${c.closesAt.unwrap().toNumber() - best} blocks left to redeem)` : ' (can be closed)'}`
      : '<span class="tag ok">open</span>';
    return {
      attrs: `data-channel="${id}"`,
      cells: [
        hash(id),
        account(c.buyer),
        account(c.provider),
        `<span data-field="deposit">${balance(c.deposit)}</span>`,
        `<span data-field="paid">${balance(c.paid)}</span>`,
        balance(BigInt(c.deposit.toString()) - BigInt(c.paid.toString())),
        num(c.nonce),
        `${vouchers.length} redeem${vouchers.length === 1 ? '' : 's'}${vouchers.length ? ', last ' + block(vouchers.at(-1).block) : ''}`,
        closes,
      ],
    };
  };
  const entries = all.map(([k, v]) => [k.args[0].toHex(), v.unwrap()]);
  const asBuyer = entries.filter(([, c]) => c.buyer.toString() === who).map(([id, c]) => row(id, c));
  const asProvider = entries.filter(([, c]) => c.provider.toString() === who).map(([id, c]) => row(id, c));
  const closed = history.find('feeSettlement', 'ChannelClosed').filter((e) => {
    const opened = history.find('feeSettlement', 'ChannelOpened', (d) => d.channel.toHex() === e.data.channel.toHex())[0];
    return opened && (opened.data.buyer.toString() === who || opened.data.provider.toString() === who);
  }).map((e) => [hash(e.data.channel), block(e.block), balance(e.data.paid), balance(e.data.refunded)]);
  const head = ['channel', 'buyer', 'provider', 'deposit', 'redeemed', 'left', 'nonce', 'vouchers redeemed', 'close window'];
  const html = `${form}${dl([
    ['account', account(who, who)],
    ['channels opened as buyer', num(buyer.opened)],
    ['challenge period', `${num(period)} blocks between a close request and the close`],
  ])}
    <h3>As buyer (${asBuyer.length})</h3>${table(head, asBuyer, 'no open channels as buyer', 'data-channels-buyer')}
    <h3>As provider (${asProvider.length})</h3>${table(head, asProvider, 'no open channels as provider', 'data-channels-provider')}
    <h3>Closed</h3>${table(['channel', 'closed', 'paid to provider', 'refunded to buyer'], closed, 'none in the history read')}`;
  return { title: 'Channels', html };
}
