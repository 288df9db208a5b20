// The customer-support agent's tools, the same for every SDK: descriptions,
// parameters and a deterministic backend (orders, shipments, a knowledge
// base). A run's backend holds its own state (a shipment advances each time
// it is polled) and injects the run's fault, if it has one.

export const AGENT = {
  id: 'support-agent',
  name: 'Support Agent',
  model: 'support-model-1',
  instructions:
    'You are the customer-support agent of Northwind Outfitters. Look orders up before you answer ' +
    'questions about them, refund only what the order shows, search the knowledge base for policy ' +
    'questions and escalate what you cannot resolve. Answer in plain, friendly sentences.',
};

// Parameters are described as { name: 'string' | 'number' }; each SDK turns
// them into its own schema type.
export const TOOLS = {
  lookup_order: {
    description: 'Look up an order by its id: items, total, status and tracking number.',
    params: { orderId: 'string' },
  },
  check_shipment: {
    description: 'Current carrier status of a shipment by tracking number.',
    params: { trackingId: 'string' },
  },
  issue_refund: {
    description: 'Refund an amount of an order to the original payment method.',
    params: { orderId: 'string', amount: 'number', reason: 'string' },
  },
  search_kb: {
    description: 'Search the help-center articles.',
    params: { query: 'string' },
  },
  get_customer: {
    description: 'Look up a customer profile by customer id.',
    params: { customerId: 'string' },
  },
  escalate_ticket: {
    description: 'Hand the conversation to a human agent with a summary.',
    params: { summary: 'string', priority: 'string' },
  },
};

const ORDERS = {
  A1001: { items: [{ sku: 'TRL-220', name: 'Trailhead rain jacket', qty: 1, price: 64.5 }, { sku: 'SCK-014', name: 'Merino hiking socks', qty: 2, price: 10 }], total: 84.5, status: 'shipped', shippedOn: '2026-05-03', carrier: 'UPS', trackingId: '1Z4471A90312' },
  A1002: { items: [{ sku: 'BTL-750', name: 'Insulated bottle 750 ml', qty: 1, price: 39.99 }], total: 39.99, status: 'delivered', deliveredOn: '2026-05-01', carrier: 'USPS', trackingId: '9400118899' },
  A1003: { items: [{ sku: 'TNT-2P', name: 'Two-person tent', qty: 1, price: 219 }], total: 219, status: 'delivered', deliveredOn: '2026-04-22', carrier: 'FedEx', trackingId: '7781204455' },
  A1004: { items: [{ sku: 'BPK-38', name: 'Daypack 38 l', qty: 1, price: 129 }, { sku: 'RNC-01', name: 'Pack rain cover', qty: 1, price: 18 }], total: 147, status: 'shipped', shippedOn: '2026-05-05', carrier: 'DHL', trackingId: 'JD0142237781' },
  A1005: { items: [{ sku: 'HDL-300', name: 'Headlamp 300 lm', qty: 1, price: 34.95 }], total: 34.95, status: 'delivered', deliveredOn: '2026-04-29', carrier: 'USPS', trackingId: '9400118912' },
  A1006: { items: [{ sku: 'GFT-050', name: 'Gift card', qty: 1, price: 50 }], total: 50, status: 'delivered', deliveredOn: '2026-04-30', carrier: 'email', trackingId: 'EMAIL-DELIVERY' },
  A1007: { items: [{ sku: 'BOT-M42', name: 'Leather hiking boots, size 42', qty: 1, price: 189 }], total: 189, status: 'shipped', shippedOn: '2026-05-06', carrier: 'UPS', trackingId: '1Z4471A90377' },
  A1008: { items: [{ sku: 'STV-01', name: 'Camping stove', qty: 1, price: 74 }, { sku: 'GAS-230', name: 'Gas canister 230 g', qty: 3, price: 6.5 }], total: 93.5, status: 'delivered', deliveredOn: '2026-04-27', carrier: 'FedEx', trackingId: '7781204499' },
  A1009: { items: [{ sku: 'MAT-SL', name: 'Sleeping mat', qty: 1, price: 89 }], total: 89, status: 'delivered', deliveredOn: '2026-04-25', carrier: 'UPS', trackingId: '1Z4471A90255' },
  A1010: { items: [{ sku: 'PLS-FL', name: 'Fleece pullover', qty: 2, price: 49 }], total: 98, status: 'processing', expectedShip: '2026-05-09' },
  A1011: { items: [{ sku: 'CHR-LT', name: 'Lightweight camp chair', qty: 1, price: 59 }], total: 59, status: 'processing', expectedShip: '2026-05-10' },
  A1012: { items: [{ sku: 'LNT-4', name: 'Lantern', qty: 1, price: 27.5 }, { sku: 'BAT-AA', name: 'AA batteries, 8 pack', qty: 1, price: 9 }], total: 36.5, status: 'shipped', shippedOn: '2026-05-04', carrier: 'USPS', trackingId: '9400118977' },
};

// A shipment's scans in order; each poll returns the next one and stays on
// the last.
const SHIPMENTS = {
  '1Z4471A90312': ['in transit, Louisville KY hub', 'out for delivery', 'delivered, front porch'],
  JD0142237781: ['in transit, Cincinnati hub', 'out for delivery'],
  '1Z4471A90377': ['label created, awaiting carrier pickup', 'in transit, Ontario CA hub', 'in transit, Phoenix AZ hub'],
  '9400118977': ['out for delivery'],
};

const CUSTOMERS = {
  'C-2041': { name: 'Dana Whitfield', tier: 'gold', memberSince: '2019-03-14', openOrders: ['A1003', 'A1010'] },
  'C-3310': { name: 'Luis Ortega', tier: 'standard', memberSince: '2024-11-02', openOrders: ['A1007'] },
  'C-5127': { name: 'Priya Raman', tier: 'silver', memberSince: '2022-06-30', openOrders: [] },
};

const KB = [
  { id: 'KB-101', title: 'Returns and exchanges', keys: ['return', 'exchange', 'worn'], snippet: 'Unused items can be returned within 30 days of delivery for a full refund; footwear worn outdoors can be exchanged for a different size within 30 days.' },
  { id: 'KB-102', title: 'Prepaid return labels', keys: ['label', 'return'], snippet: 'A prepaid return label is emailed within one hour of a refund or return request; drop the parcel at any UPS location.' },
  { id: 'KB-201', title: 'Warranty on tents and packs', keys: ['warranty', 'tent', 'zipper', 'seam'], snippet: 'Tents and packs carry a two-year warranty against seam and zipper defects; send a photo of the defect to start a claim.' },
  { id: 'KB-301', title: 'International shipping', keys: ['international', 'canada', 'customs', 'abroad'], snippet: 'We ship to Canada and the EU; customs duties are prepaid at checkout and delivery takes 6 to 10 business days.' },
  { id: 'KB-302', title: 'Changing a delivery address', keys: ['address', 'change'], snippet: 'The address of an order can be changed until it ships; after that, the carrier can redirect it for a fee.' },
  { id: 'KB-401', title: 'Gift cards', keys: ['gift'], snippet: 'Gift cards are delivered by email within minutes and never expire; when no message was added, the gift message line of the receipt reads "N/A".' },
  { id: 'KB-501', title: 'Loyalty tiers', keys: ['tier', 'gold', 'loyalty', 'points'], snippet: 'Gold members get free express shipping and 60-day returns; silver members get free standard shipping.' },
];

// A small deterministic PRNG (mulberry32) so every SDK's runs have the
// same timings and the recordings differ only by what the SDK emits.
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function seedOf(name) {
  let h = 2166136261;
  for (const c of name) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
  return h;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A run's backend: call(tool, args) answers like the real services would,
// after a seeded delay, and injects the scenario's tool fault.
export function backend(scenario) {
  const rand = rng(seedOf(scenario.name) ^ 0x5eed);
  const polls = {};
  let refunds = 0;
  let tickets = 0;
  let rateLimited = false;
  const fault = scenario.fault;
  const handlers = {
    lookup_order({ orderId }) {
      if (fault === 'tool-error') {
        return { orderId, error: 'order service unavailable: upstream timed out after 3000 ms', status: 503 };
      }
      const o = ORDERS[orderId];
      if (!o) return { orderId, found: false };
      return { orderId, found: true, ...o };
    },
    check_shipment({ trackingId }) {
      if (scenario.toolRateLimitOnce && !rateLimited) {
        rateLimited = true;
        return { trackingId, status: 429, error: 'Too Many Requests: carrier API rate limit', retryAfterMs: 250 };
      }
      const scans = SHIPMENTS[trackingId] ?? ['no scans yet'];
      if (fault === 'retry-storm') {
        return { trackingId, scan: scans[0], updatedAt: '2026-05-06T08:00:00Z' };
      }
      const i = Math.min(polls[trackingId] ?? 0, scans.length - 1);
      polls[trackingId] = i + 1;
      return { trackingId, scan: scans[i], updatedAt: `2026-05-06T${String(9 + i * 3).padStart(2, '0')}:15:00Z` };
    },
    issue_refund({ orderId, amount, reason }) {
      if (fault === 'tool-throws') {
        throw new Error('RefundGatewayTimeout: payment processor did not answer within 5000 ms');
      }
      refunds++;
      return { refundId: `RF-${orderId.slice(1)}-${refunds}`, orderId, amount, reason, state: 'approved', arrivesInDays: 5 };
    },
    search_kb({ query }) {
      if (fault === 'empty-result') {
        return { status: 'success', query, results: [] };
      }
      const q = query.toLowerCase();
      const hits = KB.filter((a) => a.keys.some((k) => q.includes(k))).slice(0, 2);
      return { query, results: hits.map(({ id, title, snippet }) => ({ id, title, snippet })) };
    },
    get_customer({ customerId }) {
      const c = CUSTOMERS[customerId];
      return c ? { customerId, ...c } : { customerId, found: false };
    },
    escalate_ticket({ summary, priority }) {
      tickets++;
      return { ticketId: `T-${seedOf(scenario.name) % 90000 + 10000}-${tickets}`, queue: priority === 'high' ? 'tier-2' : 'tier-1', summary };
    },
  };
  return {
    async call(tool, args) {
      await sleep(8 + Math.floor(rand() * 60));
      const h = handlers[tool];
      if (!h) throw new Error(`unknown tool ${tool}`);
      return h(args);
    },
  };
}
