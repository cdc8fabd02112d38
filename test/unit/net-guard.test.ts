import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { isPrivateAddress, type MailEvent } from "../../protocol/index.ts";
import { checkWebhookUrl } from "../../protocol/io/index.ts";
import { postEvent, webhookAgent } from "../../actors/webhooks/post.ts";

// Each row: an IPv6 spelling that carries an IPv4 address, and what the address is.
const embeddedPrivate: [string, string][] = [
  ["::ffff:127.0.0.1", "IPv4-mapped loopback"],
  ["::ffff:7f00:1", "IPv4-mapped loopback, as the URL parser writes it"],
  ["::ffff:0:a00:1", "IPv4-translated 10.0.0.1 (RFC 6145)"],
  ["::127.0.0.1", "IPv4-compatible loopback"],
  ["::7f00:1", "IPv4-compatible loopback, hex"],
  ["::a9fe:a9fe", "IPv4-compatible 169.254.169.254"],
  ["64:ff9b::127.0.0.1", "NAT64 loopback"],
  ["64:ff9b::7f00:1", "NAT64 loopback, hex"],
  ["64:ff9b::a9fe:a9fe", "NAT64 cloud metadata"],
  ["64:ff9b::c0a8:101", "NAT64 192.168.1.1"],
  ["64:ff9b:1::808:808", "local-use NAT64 prefix (RFC 8215), whatever it embeds"],
  ["64:ff9b:1:ab00::", "local-use NAT64 prefix, /48 layout"],
  ["64:ff9b:0:0:1:808:808:0", "64:ff9b::/32 outside the well-known /96"],
  ["2002:7f00:1::", "6to4 of 127.0.0.1"],
  ["2002:a9fe:a9fe::1", "6to4 of 169.254.169.254"],
  ["2002:0a00:0001:1::1", "6to4 of 10.0.0.1"],
  ["2001:0:4136:e378:8000:63bf:80ff:fffe", "Teredo, client 127.0.0.1 (inverted)"],
  ["2001:0:4136:e378:8000:63bf:5601:5601", "Teredo, client 169.254.169.254 (inverted)"],
  ["2001:0:7f00:1:8000:63bf:f7f7:f7f7", "Teredo, server 127.0.0.1"],
];
const embeddedPublic: [string, string][] = [
  ["::ffff:8.8.8.8", "IPv4-mapped public"],
  ["64:ff9b::808:808", "NAT64 of 8.8.8.8"],
  ["2002:808:808::1", "6to4 of 8.8.8.8"],
  ["2001:0:4136:e378:8000:63bf:f7f7:f7f7", "Teredo, client 8.8.8.8, server 65.54.227.120"],
  ["2606:4700:4700::1111", "plain public IPv6"],
];

test("IPv6 forms that embed a private IPv4 address are private; the same forms around a public one are not", () => {
  for (const [a, what] of embeddedPrivate) {
    assert.equal(isPrivateAddress(a), true, `${a} (${what})`);
    assert.equal(isPrivateAddress(`[${a}]`), true, `[${a}] (${what})`);
  }
  for (const [a, what] of embeddedPublic) assert.equal(isPrivateAddress(a), false, `${a} (${what})`);
});

test("webhook URLs whose host embeds a private IPv4 address are refused at registration", async () => {
  for (const url of ["http://[64:ff9b::127.0.0.1]/h", "http://[64:ff9b::a9fe:a9fe]/h", "http://[::127.0.0.1]/h", "http://[2002:7f00:1::]/h", "http://[::ffff:169.254.169.254]/h"]) {
    await assert.rejects(checkWebhookUrl(url, { allowPrivate: false }), (e: { code?: string }) => e.code === "private_url", url);
  }
  assert.equal((await checkWebhookUrl("http://[2606:4700:4700::1111]/h", { allowPrivate: false })).hostname, "[2606:4700:4700::1111]");
});

test("the webhook client refuses a literal private address at connect time, which no DNS lookup sees", async () => {
  let hits = 0;
  const server = createServer((_req, res) => {
    hits++;
    res.end("ok");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const event = { id: "e-1", type: "delivered" } as unknown as MailEvent;
  const guarded = webhookAgent({ allowPrivate: false, timeoutMs: 5000 });
  const open = webhookAgent({ allowPrivate: true, timeoutMs: 5000 });
  try {
    const refused = await postEvent(guarded, `http://127.0.0.1:${port}/h`, "whsec_x", event, 5000);
    assert.equal(refused.ok, false);
    assert.match(refused.ok ? "" : refused.error, /EPRIVATEADDRESS/);
    assert.equal(hits, 0);
    // The same call is made when private addresses are allowed: the refusal is the guard's.
    assert.deepEqual(await postEvent(open, `http://127.0.0.1:${port}/h`, "whsec_x", event, 5000), { ok: true, status: 200 });
    assert.equal(hits, 1);
  } finally {
    await guarded.close();
    await open.close();
    await new Promise((resolve) => server.close(resolve));
  }
});
