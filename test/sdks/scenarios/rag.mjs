// The runs of the docs RAG graph (retrieve -> search_api -> rerank ->
// synthesize -> validate, validate routing back to retrieve or ending):
// what the knowledge base, the web search tool and the scripted chat model
// answer in each pass. 30 healthy runs with the variety of real traffic
// (and its look-alikes of faults), then one run per injected fault. Runs are
// named so tests can tell them apart: healthy_NN_<what>, fault_<kind>.
import { rng } from "./random.mjs";

const KB = [
  ["kb-101", "Rotating API keys", "Create a second key under Settings > API keys, deploy it, then revoke the old key; both keys work during the overlap."],
  ["kb-102", "Webhook retries", "Failed webhook deliveries are retried with exponential backoff for up to 24 hours; each attempt carries the same event id."],
  ["kb-103", "Exporting invoices", "Invoices can be exported as CSV or PDF from Billing > History; exports cover at most 12 months at a time."],
  ["kb-104", "SSO with SAML", "Upload the identity provider metadata XML under Security > SSO and map the email attribute; test with one admin before enforcing."],
  ["kb-105", "Rate limits", "The REST API allows 600 requests per minute per key; responses carry X-RateLimit-Remaining and Retry-After when exceeded."],
  ["kb-106", "Data retention", "Event data is kept for 400 days on the Business plan and 90 days on Starter; deleted projects are purged after 30 days."],
  ["kb-107", "Audit log export", "Audit logs stream to S3 or GCS every 5 minutes; the region column reads N/A for events recorded before 2021."],
  ["kb-108", "Code annotations", "The linter reports comments marked TODO or FIXME as warnings when strict mode is on; run it with --strict in CI."],
  ["kb-109", "Team roles", "Owners manage billing, admins manage members and keys, members can create projects; viewers have read-only access."],
  ["kb-110", "Custom domains", "Add a CNAME record pointing to edge.example-cdn.net, then verify it under Settings > Domains; certificates renew automatically."],
];

const QUESTIONS = [
  ["How do I rotate an API key without downtime?", ["kb-101", "kb-109"]],
  ["How long are failed webhooks retried?", ["kb-102"]],
  ["Can I export a whole year of invoices at once?", ["kb-103"]],
  ["How do I set up SAML single sign-on?", ["kb-104", "kb-109"]],
  ["What is the API rate limit per key?", ["kb-105"]],
  ["How long do you keep event data on the Business plan?", ["kb-106"]],
  ["Where do audit logs go and how often?", ["kb-107"]],
  ["Who can manage billing in a team?", ["kb-109"]],
  ["How do I put the dashboard on my own domain?", ["kb-110"]],
  ["What happens to data when a project is deleted?", ["kb-106"]],
];

const WEB = [
  ["web-201", "Community: zero-downtime key rotation", "Users rotate keys by running both keys side by side for a day."],
  ["web-202", "Status page: webhook incident 2024-03", "Webhooks were delayed for 40 minutes; retries delivered every event."],
  ["web-203", "Blog: billing exports", "The new PDF export bundles all invoices of a month into one file."],
  ["web-204", "Forum: SAML with Okta", "Map the NameID to email and keep one break-glass admin without SSO."],
  ["web-205", "Changelog: higher rate limits", "Enterprise keys can request up to 3000 requests per minute."],
  ["web-206", "Guide: DNS for custom domains", "CNAME changes can take up to an hour to propagate."],
];

const kbDoc = (id, score) => {
  const [, title, text] = KB.find(([k]) => k === id);
  return { id, title, text, score };
};

function kbDocs(r, wanted, n) {
  const ids = [...wanted];
  for (const [id] of KB) if (ids.length < n && !ids.includes(id)) ids.push(id);
  // the wanted documents score highest; fillers trail off
  return ids.slice(0, n).map((id, i) => kbDoc(id, Number((0.92 - i * 0.11 - r.next() * 0.04).toFixed(3))));
}

function webHits(r, n) {
  const start = r.int(0, WEB.length - 1);
  return Array.from({ length: n }, (_, i) => {
    const [id, title, snippet] = WEB[(start + i) % WEB.length];
    return { id, title, snippet, score: Number((0.8 - i * 0.09 - r.next() * 0.05).toFixed(3)) };
  });
}

// answer writes a grounded answer citing the documents it used, of varied length.
function answer(r, docs, sentences) {
  const parts = docs.slice(0, Math.max(1, sentences)).map((d) => `${d.text} [${d.id}]`);
  if (sentences > docs.length) parts.push("Let me know if you want the step-by-step version.");
  return parts.join(" ");
}

function synth(r, content, extra = {}) {
  const input = r.int(360, 980);
  const output = Math.max(12, Math.round(content.length / 4) + r.int(-6, 6));
  return { content, usage: { input, output }, finish_reason: "stop", latency_ms: r.int(25, 70), ...extra };
}

function pass(r, q, opts = {}) {
  const docs = kbDocs(r, q[1], opts.docs ?? r.int(2, 5));
  const hits = webHits(r, opts.hits ?? r.int(1, 4));
  const search = opts.search ?? [{ result: { status: "ok", results: hits }, latency_ms: r.int(15, 45) }];
  const content = opts.content ?? answer(r, docs, r.int(1, 3));
  return {
    retrieve: { documents: opts.noDocs ? [] : docs, latency_ms: r.int(8, 30) },
    search,
    rerank: { keep: opts.keep ?? r.int(2, 3) },
    synthesize: opts.synthesize ?? synth(r, content, opts.synthExtra),
  };
}

export function ragRuns() {
  const r = rng(20260612);
  const runs = [];
  const healthy = (what, passes, question) => runs.push({ name: `healthy_${String(runs.length + 1).padStart(2, "0")}_${what}`, question, passes });
  for (let i = 0; runs.length < 30; i++) {
    const q = QUESTIONS[i % QUESTIONS.length];
    switch (runs.length) {
      case 4:
      case 17: {
        // the first answer cites nothing, validate sends the graph round again
        const first = pass(r, q, { content: "The documentation covers this under the settings pages." });
        healthy("second_pass", [first, pass(r, q)], q[0]);
        break;
      }
      case 7:
      case 22: {
        // the search API answers 429 once; search_api waits and retries with success
        const hits = webHits(r, 2);
        const search = [
          { result: { status: 429, error: "Too Many Requests", retry_after_ms: 20 }, latency_ms: r.int(5, 12) },
          { result: { status: "ok", results: hits }, latency_ms: r.int(15, 40) },
        ];
        healthy("search_429_retried", [pass(r, q, { search })], q[0]);
        break;
      }
      case 10: {
        const doc = kbDoc("kb-108", 0.9);
        healthy("answer_quotes_todo", [pass(r, ["How do I make the linter fail on TODO comments?", ["kb-108"]], {
          content: `Comments marked "TODO" or "FIXME" are reported as warnings in strict mode, so run the linter with --strict in CI [${doc.id}].`,
        })], "How do I make the linter fail on TODO comments?");
        break;
      }
      case 13: {
        healthy("answer_quotes_na", [pass(r, ["Why is the region empty in old audit log rows?", ["kb-107"]], {
          content: 'Audit events recorded before 2021 have no region, so the region column reads "N/A" for them [kb-107].',
        })], "Why is the region empty in old audit log rows?");
        break;
      }
      case 19:
      case 26: {
        healthy("short_answer", [pass(r, ["Do both keys work while I rotate?", ["kb-101"]], {
          content: "Yes, both keys work during the overlap [kb-101].",
        })], "Do both keys work while I rotate?");
        break;
      }
      default:
        healthy("answer", [pass(r, q)], q[0]);
    }
  }

  const q = QUESTIONS[0];
  const fault = (kind, p) => runs.push({ name: `fault_${kind}`, question: q[0], passes: [p] });
  const same = (result, n) => Array.from({ length: n }, () => ({ result, latency_ms: r.int(15, 30) }));
  fault("tool_error_payload", pass(r, q, {
    search: [{ result: { status: 503, error: "search backend unavailable: upstream index timed out" }, latency_ms: 31 }],
  }));
  fault("placeholder_answer", pass(r, q, {
    content: "Hi {{customer_name}}, to rotate your key go to [INSERT SETTINGS PATH] and follow the steps there.",
  }));
  fault("refusal", pass(r, q, {
    content: "I'm sorry, but I can't help with that request.",
  }));
  fault("retry_storm", pass(r, q, {
    // the search index is warming up: search_api retries five times, same query, same answer
    search: same({ status: "ok", results: [], note: "index warming up" }, 5),
  }));
  fault("empty_result_claimed_success", pass(r, q, {
    search: [{ result: { status: "success", results: [] }, latency_ms: 22 }],
    content: "I searched the web and found the steps: rotating keys is fully supported and the search confirmed it.",
  }));
  fault("tool_throws", pass(r, q, {
    search: [{ throws: "connect ECONNREFUSED 10.20.0.7:443 (search.internal)", latency_ms: 9 }],
  }));
  fault("truncated_length", pass(r, q, {
    synthesize: { content: "To rotate an API key without downtime, first create a second key under Settings > API keys, then deploy it to every service that", usage: { input: 612, output: 32 }, finish_reason: "length", latency_ms: 48 },
  }));
  fault("token_blowup", pass(r, q, {
    // the whole knowledge base was stuffed into the prompt: ~40x the usual tokens
    synthesize: { content: answer(r, kbDocs(r, q[1], 2), 2), usage: { input: 27400, output: 310 }, finish_reason: "stop", latency_ms: 66 },
  }));
  // the silent failure: retrieve finds nothing, search_api finds
  // nothing either, rerank passes the empty list on, synthesize crashes.
  fault("empty_retrieval_crash", pass(r, q, {
    noDocs: true,
    search: [{ result: { status: "ok", results: [] }, latency_ms: 19 }],
  }));
  return runs;
}
