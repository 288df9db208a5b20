// The runs of the customer-support agent (support_agent.mjs in JS,
// test/sdks/go-genai in Go): what the scripted model answers turn by turn
// and what each tool returns, call by call. 24 healthy runs with the variety
// of real traffic and its look-alikes of faults, then one run per injected
// fault. Run directly, it prints the runs as JSON (the Go agent reads that).
import { rng } from "./random.mjs";

export const AGENT = "support_agent";
export const MODEL = "mock-gpt-4o-mini";
export const SYSTEM = "You are the support agent of an online shop. Use the tools to look things up; never guess order or refund data.";

const ORDERS = ["A-1042", "A-1077", "B-2210", "B-2301", "C-3150", "C-3188"];
const CARRIERS = ["DHL", "UPS", "GLS"];
const SKUS = [["SKU-KB-01", "mechanical keyboard"], ["SKU-MS-07", "wireless mouse"], ["SKU-HD-12", "USB-C hub"]];

const turn = (r, a, usage) => ({ ...a, usage, latency_ms: r.int(20, 60) });
const toolTurn = (r, calls, input = r.int(380, 620)) =>
  turn(r, { tool_calls: calls.map(([name, args]) => ({ name, arguments: args })) }, { input, output: r.int(18, 40) });
const answerTurn = (r, content, extra = {}) =>
  turn(r, { content, finish_reason: "stop", ...extra }, { input: r.int(520, 1150), output: Math.max(8, Math.round(content.length / 4) + r.int(-4, 4)) });

function order(r, id) {
  const status = r.pick(["shipped", "in transit", "delivered", "processing"]);
  return { order_id: id, status, carrier: r.pick(CARRIERS), eta: `2025-06-${String(r.int(10, 28)).padStart(2, "0")}`, items: r.int(1, 4) };
}

// kinds of healthy traffic, each a function of the rng and the run number
const HEALTHY = [
  function orderStatus(r) {
    const id = r.pick(ORDERS);
    const o = order(r, id);
    return {
      user: `Where is my order ${id}?`,
      turns: [toolTurn(r, [["lookup_order", { order_id: id }]]),
        answerTurn(r, `Your order ${id} is ${o.status} with ${o.carrier}; the expected delivery date is ${o.eta}.`)],
      tools: { lookup_order: [o] },
    };
  },
  function refundPolled(r) {
    // the status tool is polled with the same arguments while its result changes
    const id = `R-${r.int(5000, 5999)}`;
    const states = ["pending", "processing", "approved"];
    return {
      what: "refund_polled",
      user: `Has refund ${id} gone through yet?`,
      turns: [...states.map(() => toolTurn(r, [["get_refund_status", { refund_id: id }]])),
        answerTurn(r, `Refund ${id} is approved; the money reaches your card within 3 to 5 business days.`)],
      tools: { get_refund_status: states.map((s, i) => ({ refund_id: id, status: s, checked_at: `12:0${i}` })) },
    };
  },
  function kbQuestion(r) {
    const [q, title, snippet, a] = r.pick([
      ["Can I change the delivery address after ordering?", "Changing the delivery address", "Addresses can be changed until the order ships.", "Yes, you can change the delivery address until the order ships: open the order and choose Edit address."],
      ["How long is the return window?", "Returns", "Items can be returned within 30 days of delivery.", "You can return items within 30 days of delivery; start the return from your order page and print the label."],
      ["Do you ship to Switzerland?", "Shipping countries", "We ship to the EU, the UK, Norway and Switzerland.", "Yes, we ship to Switzerland; customs fees are shown at checkout."],
    ]);
    return {
      user: q,
      turns: [toolTurn(r, [["search_kb", { query: q }]]), answerTurn(r, a)],
      tools: { search_kb: [{ status: "success", results: [{ id: `kb-${r.int(10, 99)}`, title, snippet }] }] },
    };
  },
  function ticketForDamage(r) {
    const id = r.pick(ORDERS);
    const o = { ...order(r, id), status: "delivered" };
    const ticket = `T-${r.int(80000, 89999)}`;
    return {
      what: "ticket",
      user: `My order ${id} arrived damaged, the box was crushed.`,
      turns: [toolTurn(r, [["lookup_order", { order_id: id }]]),
        toolTurn(r, [["create_ticket", { order_id: id, subject: "Item arrived damaged", priority: "high" }]], r.int(640, 820)),
        answerTurn(r, `I'm sorry about that. I opened ticket ${ticket} for order ${id}; our team replies within one business day with a replacement or refund.`)],
      tools: { lookup_order: [o], create_ticket: [{ ticket_id: ticket, status: "open", priority: "high" }] },
    };
  },
  function inventoryShort(r) {
    // short by design
    const [sku, name] = r.pick(SKUS);
    const n = r.int(3, 40);
    return {
      what: "inventory_short_answer",
      user: `Is the ${name} in stock?`,
      turns: [toolTurn(r, [["check_inventory", { sku }]]), answerTurn(r, `Yes, ${n} in stock.`)],
      tools: { check_inventory: [{ sku, in_stock: true, quantity: n }] },
    };
  },
];

function healthyRuns(r) {
  const runs = [];
  const add = (what, run) => runs.push({ name: `healthy_${String(runs.length + 1).padStart(2, "0")}_${what}`, ...run });
  for (let i = 0; runs.length < 24; i++) {
    const n = runs.length;
    if (n === 6 || n === 17) {
      // the inventory API answers 429 once; the agent waits and calls again with success
      const [sku, name] = SKUS[n % SKUS.length];
      add("tool_429_retried", {
        user: `Do you have the ${name} in stock?`,
        turns: [toolTurn(r, [["check_inventory", { sku }]]), answerTurn(r, `Yes, the ${name} is in stock and ships today.`)],
        tools: { check_inventory: [{ status: 429, error: "Too Many Requests", retry_after_ms: 20 }, { sku, in_stock: true, quantity: r.int(5, 30) }] },
      });
    } else if (n === 9) {
      add("model_429_retried", { ...HEALTHY[0](r), model_429_once: true });
    } else if (n === 11) {
      add("answer_quotes_todo", {
        user: "The invoice PDF says TODO in the VAT field, is that a problem?",
        turns: [toolTurn(r, [["search_kb", { query: "invoice VAT field TODO" }]]),
          answerTurn(r, 'That is a known issue: invoices created before June 2 show "TODO" in the VAT field. Download the invoice again from your order page and the VAT number appears.')],
        tools: { search_kb: [{ status: "success", results: [{ id: "kb-77", title: "Invoices", snippet: "Re-download invoices created before June 2 to fill in the VAT field." }] }] },
      });
    } else if (n === 14) {
      add("answer_quotes_na", {
        user: "Why does my order page show N/A as the tracking number?",
        turns: [toolTurn(r, [["lookup_order", { order_id: "C-3150" }]]),
          answerTurn(r, 'Order C-3150 is still processing, so the tracking number reads "N/A" until the parcel is handed to the carrier; you will get an email then.')],
        tools: { lookup_order: [{ order_id: "C-3150", status: "processing", carrier: null, eta: null, items: 2 }] },
      });
    } else {
      const kind = HEALTHY[i % HEALTHY.length];
      const run = kind(r);
      add(run.what ?? kind.name.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase()), run);
    }
  }
  return runs;
}

function faultRuns(r) {
  const id = "A-1042";
  const o = { order_id: id, status: "shipped", carrier: "DHL", eta: "2025-06-18", items: 1 };
  const orderTurn = () => toolTurn(r, [["lookup_order", { order_id: id }]]);
  const user = `Where is my order ${id}?`;
  const fault = (kind, run) => ({ name: `fault_${kind}`, user, ...run });
  return [
    fault("tool_error_payload", {
      turns: [orderTurn(), answerTurn(r, "I could not look up your order right now; please try again in a few minutes.")],
      tools: { lookup_order: [{ error: "order service unavailable", status: 503 }] },
    }),
    fault("placeholder_answer", {
      turns: [orderTurn(), answerTurn(r, "Hi {{customer_name}}, your order [INSERT ORDER NUMBER] will arrive on <DELIVERY_DATE>.")],
      tools: { lookup_order: [o] },
    }),
    fault("refusal", {
      turns: [orderTurn(), answerTurn(r, "I'm sorry, but I can't help with that request.")],
      tools: { lookup_order: [o] },
    }),
    fault("retry_storm", {
      // the model asks for the same lookup five times and gets the same answer
      turns: [orderTurn(), orderTurn(), orderTurn(), orderTurn(), orderTurn(), answerTurn(r, `Your order ${id} is shipped with DHL.`)],
      tools: { lookup_order: [o, o, o, o, o] },
    }),
    fault("empty_result_claimed_success", {
      user: "How do I return a gift?",
      turns: [toolTurn(r, [["search_kb", { query: "return a gift" }]]),
        answerTurn(r, "I found the answer in our help center: gifts can be returned, just follow the steps in the article.")],
      tools: { search_kb: [{ status: "success", results: [] }] },
    }),
    fault("tool_throws", {
      user: `My order ${id} arrived damaged.`,
      turns: [toolTurn(r, [["create_ticket", { order_id: id, subject: "Item arrived damaged", priority: "high" }]]),
        answerTurn(r, "I could not open a ticket because our ticketing system is down; please write to help@example.com.")],
      tools: { create_ticket: [{ throws: "ticketing API: 500 Internal Server Error" }] },
    }),
    fault("truncated_length", {
      turns: [orderTurn(), turn(r, { content: `Your order ${id} shipped with DHL on June 14 and is now in transit to the local depot, from where it will be`, finish_reason: "length" }, { input: 702, output: 32 })],
      tools: { lookup_order: [o] },
    }),
    fault("token_blowup", {
      // the whole order history was pasted into the prompt: ~40x the usual tokens
      turns: [orderTurn(), turn(r, { content: `Your order ${id} is shipped with DHL; the expected delivery date is 2025-06-18.`, finish_reason: "stop" }, { input: 31800, output: 26 })],
      tools: { lookup_order: [o] },
    }),
  ];
}

export function supportRuns() {
  const r = rng(20260613);
  return [...healthyRuns(r), ...faultRuns(r)];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(JSON.stringify({ agent: AGENT, model: MODEL, system: SYSTEM, runs: supportRuns() }, null, 1) + "\n");
}
