import { test } from "node:test";
import assert from "node:assert/strict";
import { buildTemplate, personalise, render } from "../../actors/smtp/mime.ts";
import { compileTemplate, fill } from "../../actors/smtp/template.ts";
import type { DeliveryMessage, Payload } from "../../protocol/index.ts";

// Boundaries are random per build: compare the messages with them named alike.
const sameBoundaries = (s: string): string => s.replace(/_NmP-[0-9a-f]+-Part/g, "_NmP-B-Part");
const bytes = (t: { headers: string; body: Buffer }): string => sameBoundaries(t.headers + t.body.toString("latin1"));

async function expectSameAsPerRecipientBuild(p: Payload, varsList: Record<string, string>[]): Promise<void> {
  const compiled = await compileTemplate(p);
  assert.ok(compiled, "a payload with placeholders compiles");
  for (const vars of varsList) {
    const filled = fill(compiled, vars);
    assert.ok(filled, `fills ${JSON.stringify(vars)}`);
    const slow = await buildTemplate(personalise(p, vars));
    assert.equal(bytes(filled), bytes(slow), `same bytes for ${JSON.stringify(vars)}`);
    assert.equal(filled.hasTo, slow.hasTo);
  }
}

const VALUES: Record<string, string>[] = [
  { n: "1", name: "Ann" },
  { n: "123456", name: "Zoë Ünal" }, // non-ASCII: 7bit → quoted-printable
  { n: "7", name: "日本語の名前です日本語の名前です日本語の名前です" }, // mostly non-Latin: base64
  { n: "8", name: "x".repeat(200) }, // a long line: no longer 7bit
  { n: "9", name: "<b>&\"'</b>\r\nBcc: evil@x.test" }, // HTML escaping, header safety
  { n: "1".repeat(60), name: "a\x7fb" }, // DEL is plain text to nodemailer; a line of 76+ is not
  { n: "22\r" + "3".repeat(70), name: "\t" }, // a lone CR ends a line
  {}, // missing values are empty
];

test("a compiled template gives every recipient the bytes a per-recipient build gives: text only", async () => {
  await expectSameAsPerRecipientBuild({ from: { name: "News", address: "a@news.test" }, subject: "Hi {{name}}, #{{ n }}", text: "Dear {{name}},\nyour number is {{n}}.\n".repeat(40) }, VALUES);
});

test("a compiled template gives the same bytes: text and html, static subject, attachment, custom header", async () => {
  await expectSameAsPerRecipientBuild(
    {
      from: { address: "a@news.test" },
      to: [{ address: "list@news.test" }],
      subject: "Static subject",
      text: "Hello {{name}}",
      html: "<p>Hello {{name}}</p><p>Static é part</p>",
      headers: { "X-Campaign": "c1" },
      attachments: [{ filename: "a.txt", contentType: "text/plain", contentBase64: Buffer.from("attachment").toString("base64") }],
    },
    VALUES,
  );
});

test("a compiled template gives the same bytes when only the subject or only the html has placeholders", async () => {
  await expectSameAsPerRecipientBuild({ from: { address: "a@news.test" }, subject: "Ünïcode subject for {{name}} that is long enough to be folded over more than one header line", text: "static body" }, VALUES);
  await expectSameAsPerRecipientBuild({ from: { address: "a@news.test" }, subject: "s", text: "static ünïcode body", html: "<i>{{name}}</i>" }, VALUES);
});

test("a payload without placeholders does not compile; a value holding the multipart boundary falls back", async () => {
  assert.equal(await compileTemplate({ from: { address: "a@news.test" }, subject: "s", text: "t" }), undefined);
  const compiled = await compileTemplate({ from: { address: "a@news.test" }, subject: "s", text: "t {{x}}", html: "<p>{{x}}</p>" });
  assert.ok(compiled);
  const boundary = compiled.boundaries[0];
  assert.ok(boundary, "a text+html message is multipart");
  assert.equal(fill(compiled, { x: `\r\n--${boundary}--\r\n` }), undefined);
  assert.ok(fill(compiled, { x: "fine" }));
});

test("random texts and values: the compiled template's bytes equal a per-recipient build's", async () => {
  let seed = 11;
  const rnd = (n: number): number => Math.floor(((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff) * n);
  const pieces = ["a", "word ", "\n", "\r\n", "\r", "é", "{{v}}", "x".repeat(40), "<&>", "\t", "."];
  const text = (): string => Array.from({ length: rnd(12) + 1 }, () => pieces[rnd(pieces.length)]).join("");
  for (let k = 0; k < 60; k++) {
    const t = text() + "{{v}}";
    await expectSameAsPerRecipientBuild({ from: { address: "a@news.test" }, subject: "s {{v}}", text: t, ...(k % 2 ? { html: `<p>${t}</p>` } : {}) }, [{ v: text().replace(/\{\{v\}\}/g, "") }, { v: "" }]);
  }
});

test("a long text with a placeholder on every line (bench's 100 KB case, smaller) fills to the per-recipient build's bytes", async () => {
  const text = "Dear reader {{n}}, here is this week's long digest from the benchmark.\n".repeat(300);
  await expectSameAsPerRecipientBuild({ from: { name: "Bench", address: "news@bench.test" }, subject: "Your news, reader {{n}}", text }, [{ n: "1" }, { n: "12345" }, { n: "x\ny" }, { n: "ü" }, {}]);
});

/** Every CR followed by LF and every LF preceded by CR: what render vouches for a template's body. */
const crlfOnly = (b: Buffer): boolean => !/\r(?!\n)|(?<!\r)\n/.test(b.toString("latin1"));

test("a filled template's body has CRLF line ends only (the SMTP layer trusts it), on random texts and values", async () => {
  let seed = 5;
  const rnd = (n: number): number => Math.floor(((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff) * n);
  const pieces = ["a", "\n", "\r\n", "\r", "é", "{{v}}", ".", "x".repeat(80), "日"];
  const text = (): string => Array.from({ length: rnd(10) + 1 }, () => pieces[rnd(pieces.length)]).join("");
  for (let k = 0; k < 60; k++) {
    const t = text() + "{{v}}";
    const compiled = await compileTemplate({ from: { address: "a@news.test" }, subject: "s", text: t, ...(k % 2 ? { html: t } : {}) });
    assert.ok(compiled);
    const filled = fill(compiled, { v: text().replace(/\{\{v\}\}/g, "") });
    if (filled) assert.ok(crlfOnly(filled.body), JSON.stringify(filled.body.toString("latin1")));
    const slow = await buildTemplate(personalise({ from: { address: "a@news.test" }, subject: "s", text: t }, { v: "\r.\n" }));
    assert.ok(crlfOnly(slow.body));
  }
});

test("render writes the per-recipient headers into the room before a filled message: the bytes of a copy, once", async () => {
  const compiled = await compileTemplate({ from: { address: "a@news.test" }, subject: "Hi {{n}}", text: "Hello {{n}}\n".repeat(50) });
  assert.ok(compiled);
  const m = { id: "r1", requestId: "q1", tenant: "acme", tier: "bulk", rcptTo: "ann@example.com", mailFrom: "b@news.test", payload: { inline: { from: { address: "a@news.test" }, subject: "s" } }, createdAt: 0, v: 1 } as unknown as DeliveryMessage;
  for (const listUnsubscribe of [undefined, `https://u.test/${"t".repeat(2000)}`]) {
    const o = { messageIdDomain: "news.test", listUnsubscribe, feedbackId: "c:acme:sluice", now: 0 };
    const filled = fill(compiled, { n: "7" });
    assert.ok(filled);
    // The reference: the same template without its spare room, rendered by copying.
    const copy = { ...filled, spare: undefined };
    const first = render(filled, m, o);
    const again = render(filled, m, o); // the room is used once: this one copies
    const strip = (b: Buffer): string => b.toString("latin1").replace(/Message-ID: <[^>]+>/, "Message-ID: <x>");
    assert.equal(strip(first), strip(render(copy, m, o)), `listUnsubscribe of ${listUnsubscribe?.length ?? 0}`);
    assert.equal(strip(again), strip(first));
    assert.ok(first.toString("latin1").includes("Hello 7\r\n"));
  }
});
