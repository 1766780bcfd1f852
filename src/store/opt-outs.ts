// Opt-outs: per tenant and category, the addresses that unsubscribed (List-Unsubscribe one-click,
// the page, mailto, an admin). The engine keeps them (store.optOuts).
export type { OptOut, OptOutStore as OptOutList } from './ports.js';
