// sluice-test: serial (its guards bound time: scripts/test.sh runs it alone)
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  BatchJob,
  buildBatchDelivery,
  buildBatchJob,
  buildDeliveries,
  check,
  DeliveryMessage,
  isBase64,
  newId,
  parseBatchRequest,
  parseDuration,
  parseMailbox,
  parseSize,
  parseSendRequest,
  Payload,
  payloadOfBatch,
  payloadOfSend,
  RESERVED_HEADERS,
} from "../../protocol/index.ts";

const base = { from: "Acme <news@acme.test>", to: "ann@example.com", subject: "Hi", text: "Hello" };

/** A guard against super-linear validation, not a benchmark: each case is ~1 ms when linear. */
function quick<T>(what: string, f: () => T, ms = 250): T {
  const started = performance.now();
  const out = f();
  const took = performance.now() - started;
  assert.ok(took < ms, `${what} took ${took.toFixed(0)} ms`);
  return out;
}

test("the string form of a mailbox: name, quoted name with escapes, bare and angle-only addresses", () => {
  assert.deepEqual(parseMailbox("Ann <ann@example.com>"), { ok: true, name: "Ann", address: "ann@example.com" });
  assert.deepEqual(parseMailbox('  "Doe, Ann \\"A\\"" <ann@example.com> '), { ok: true, name: 'Doe, Ann "A"', address: "ann@example.com" });
  assert.deepEqual(parseMailbox("ann@example.com"), { ok: true, address: "ann@example.com" });
  assert.deepEqual(parseMailbox("<ann@example.com>"), { ok: true, address: "ann@example.com" });
  assert.deepEqual(parseMailbox('"" <ann@example.com>'), { ok: true, address: "ann@example.com" });
  for (const bad of ['"Ann <a@b.example>', 'Ann "x" <a@b.example>', '"a"b" <a@b.example>', "a@b.example>", "Ann <a@b.example", 'x\\"  <a@b.example>"']) {
    assert.equal(parseMailbox(bad).ok, false, bad);
  }
});

test("pathological addresses and base64 are refused in linear time", () => {
  const spaces = " ".repeat(599);
  const many = Array(50).fill(spaces);
  const r = quick("50x4 runs of 599 spaces", () => parseSendRequest({ ...base, to: many, cc: many, bcc: many, replyTo: many.slice(0, 10) }));
  assert.ok(!r.ok);
  for (const s of ['"'.repeat(599), "<".repeat(599), "@".repeat(599), ".".repeat(590) + "@a.b", `${" ".repeat(290)}"${" ".repeat(290)}<`, '"\\'.repeat(299)]) {
    const one = quick(JSON.stringify(s.slice(0, 10)), () => parseSendRequest({ ...base, from: s }));
    assert.ok(!one.ok);
  }
  const newlines = "\n".repeat(65_536);
  const b = quick("64K newlines then !", () => parseSendRequest({ ...base, attachments: [{ filename: "a", contentBase64: newlines + "!" }] }));
  assert.ok(!b.ok);
  assert.equal(b.error.field, "attachments.0.contentBase64");
  assert.ok(quick("64K newlines of base64", () => isBase64("QUJD\r\n".repeat(16_384) + "QQ==\n")));
  assert.ok(!isBase64("QQ===") && !isBase64("QQ= =") && !isBase64("Q Q") && isBase64("") && isBase64("QQ=\n"));
});

const controls = ["\u0000", "\u0009", "\u001b", "\u007f", "\u0085", "\u009b"];

test("control characters (C0 with TAB, DEL, C1) are refused in every header field, naming it", () => {
  for (const c of controls) {
    const cases: [Record<string, unknown>, string][] = [
      [{ from: `A${c}B <news@acme.test>` }, "from"],
      [{ from: { name: `A${c}B`, address: "news@acme.test" } }, "from.name"],
      [{ to: `a${c}b@example.com` }, "to.0"],
      [{ subject: `Hi${c}` }, "subject"],
      [{ headers: { "X-Tag": `v${c}` } }, "headers.X-Tag"],
      [{ replyTo: `R${c}x <r@acme.test>` }, "replyTo.0"],
      [{ attachments: [{ filename: `a${c}.txt`, contentBase64: "" }] }, "attachments.0.filename"],
    ];
    for (const [over, field] of cases) {
      const r = parseSendRequest({ ...base, ...over });
      assert.ok(!r.ok, `${JSON.stringify(c)} in ${field}`);
      assert.equal(r.error.field, field);
      assert.ok(["control_character", "invalid_request"].includes(r.error.code), r.error.code);
    }
  }
  const nul = parseSendRequest({ ...base, from: "A\u0000B <news@acme.test>" });
  assert.ok(!nul.ok);
  assert.equal(nul.error.code, "control_character");
});

// ------------------------------------------------------------ one schema decides (property)

/** A small seeded PRNG (mulberry32): the same tricky inputs on every run. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SAFE = ["a", "Z", "0", " ", "é", "日本", "ann", "-", "."];
const PIECES = ["a", "Z", "0", " ", "  ", '"', "\\", "<", ">", "@", ".", ",", ";", ":", "(", ")", "\t", "\u0000", "\u001b", "\u007f", "\u0085", "\u00a0", "é", "ü", "日本", "\ud83d\ude00", "\ud800", "\udc00", "\r", "\n", "=?utf-8?q?x?=", "{{name}}", "xn--", "-", "ann", "example.com", "bücher.de"];

function tricky(next: () => number, max: number): string {
  const n = Math.floor(next() * max);
  let s = "";
  for (let i = 0; i < n; i++) {
    const pool = next() < 0.85 ? SAFE : PIECES;
    s += pool[Math.floor(next() * pool.length)];
  }
  return s;
}

function trickyMailbox(next: () => number): unknown {
  const name = tricky(next, 6);
  const local = next() < 0.5 ? "ann" : tricky(next, 4) || "x";
  const domain = next() < 0.6 ? "example.com" : tricky(next, 4);
  const address = `${local}@${domain}`;
  const pick = next();
  if (pick < 0.25) return address;
  if (pick < 0.5) return `${name} <${address}>`;
  if (pick < 0.75) return `"${name}" <${address}>`;
  return { name, address };
}

test("whatever the gateway accepts yields a payload and delivery messages the node's schemas accept", () => {
  const next = rng(11);
  let accepted = 0;
  for (let i = 0; i < 3000; i++) {
    const request = {
      from: trickyMailbox(next),
      to: [trickyMailbox(next), trickyMailbox(next)],
      replyTo: trickyMailbox(next),
      subject: tricky(next, 8),
      text: tricky(next, 8) || "x",
      headers: { [next() < 0.8 ? "X-Tag" : tricky(next, 3)]: tricky(next, 5) },
    };
    const sent = parseSendRequest(request);
    if (sent.ok) {
      accepted++;
      const payload = payloadOfSend(sent.value);
      const p = check(Payload, JSON.parse(JSON.stringify(payload)), "payload");
      assert.ok(p.ok, `${JSON.stringify(request)}: ${p.ok ? "" : p.error.message}`);
      for (const o of buildDeliveries(sent.value, { inline: payload }, { requestId: newId(), tenant: "acme", partitions: 4, now: Date.now() })) {
        const d = check(DeliveryMessage, JSON.parse(JSON.stringify(o.message)), "delivery message");
        assert.ok(d.ok, `${JSON.stringify(request)}: ${d.ok ? "" : d.error.message}`);
      }
    }
    const batch = parseBatchRequest({ ...request, to: undefined, recipients: [{ to: typeof request.to[0] === "string" ? request.to[0] : "b@example.com", vars: { name: tricky(next, 4) } }] });
    if (batch.ok) {
      const p = check(Payload, JSON.parse(JSON.stringify(payloadOfBatch(batch.value))), "payload");
      assert.ok(p.ok, `${JSON.stringify(request)}: ${p.ok ? "" : p.error.message}`);
      const job = buildBatchJob(batch.value, { ref: `sha256-${"0".repeat(64)}`, size: 1 }, "list", { batchId: newId(), requestId: "x", tenant: "acme", now: Date.now() });
      assert.ok(BatchJob.safeParse(job).success);
      const recipient = batch.value.recipients[0];
      assert.ok(recipient);
      const d = check(DeliveryMessage, JSON.parse(JSON.stringify(buildBatchDelivery(job, recipient, 0, 4, Date.now()).message)), "delivery message");
      assert.ok(d.ok, `${JSON.stringify(request)}: ${d.ok ? "" : d.error.message}`);
    }
  }
  assert.ok(accepted > 100, `only ${accepted} of 3000 tricky requests were valid: the generator needs tuning`);
});

test("a request may not set a header Sluice owns, in any case, nor a name that is not an RFC 5322 field name", () => {
  for (const name of [...RESERVED_HEADERS, "content-type", "CONTENT-TRANSFER-ENCODING", "dkim-signature", "Return-path"]) {
    const r = parseSendRequest({ ...base, headers: { "X-Fine": "1", [name]: "v" } });
    assert.ok(!r.ok, name);
    assert.equal(r.error.code, "reserved_header");
    assert.equal(r.error.field, `headers.${name}`);
    const b = parseBatchRequest({ ...base, to: undefined, recipients: [{ to: "b@example.com" }], headers: { [name]: "v" } });
    assert.ok(!b.ok && b.error.field === `headers.${name}`, name);
  }
  for (const name of ["Bad Name", "X:Y", "", "X".repeat(77), "Ünicode", "X\u0000"]) {
    const r = parseSendRequest({ ...base, headers: { [name]: "v" } });
    assert.ok(!r.ok, JSON.stringify(name));
    assert.equal(r.error.field, `headers.${name}`);
  }
  assert.ok(parseSendRequest({ ...base, headers: { "X-Campaign": "c1", "In-Reply-To": "<a@b.example>", "List-Id": "news <news.acme.test>" } }).ok);
  assert.ok(!Payload.safeParse({ from: "a@acme.test", subject: "s", headers: { "MIME-Version": "1.0" } }).success, "direct producers too");
});

test("the number of header fields is bounded before any name is checked", () => {
  const headers = Object.fromEntries(Array.from({ length: 200_000 }, (_, i) => [`X-H${i}`, "v"]));
  const r = quick("200,000 header fields", () => parseSendRequest({ ...base, headers }));
  assert.ok(!r.ok);
  assert.equal(r.error.field, "headers");
  assert.ok(parseSendRequest({ ...base, headers: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`X-H${i}`, "v"])) }).ok);
});

test("durations and sizes refuse overlong text at once instead of backtracking over it", () => {
  assert.equal(quick("50,000 digits", () => parseDuration(`${"1".repeat(50_000)}x`)), undefined);
  assert.equal(quick("50,000 digits", () => parseSize(`${"1".repeat(50_000)}.1x`)), undefined);
  assert.equal(parseDuration("1h30m"), 5_400_000);
  assert.equal(parseSize("10MB"), 10 * 1024 * 1024);
});
