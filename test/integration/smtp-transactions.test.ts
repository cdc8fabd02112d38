import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { failureOf } from "../../actors/smtp/sender.ts";
import { SmtpPool, type SmtpError } from "../../actors/smtp/pool.ts";
import { startSmtpPeer, type SmtpPeer } from "../harness/smtp-peer.ts";
import { startPostfix, type Postfix } from "../harness/postfix.ts";
import { waitFor } from "../harness/ports.ts";

// Our SMTP transaction layer (actors/smtp/transaction.ts) against real servers: smtp-server
// peers with and without PIPELINING, and Postfix's smtpd (which offers it). Every reply class
// the classification knows, at every stage, must reach it as nodemailer reported it.

const pool = (port: number, o: { connections?: number; perConnection?: number } = {}): SmtpPool =>
  new SmtpPool({
    connection: { host: "127.0.0.1", port, name: "client.test", connectionTimeout: 5000, greetingTimeout: 5000, socketTimeout: 5000, logger: false },
    auth: undefined,
    maxConnections: o.connections ?? 1,
    maxMessagesPerConnection: o.perConnection ?? 100,
    idleMs: 5000,
  });

// A body with the lines SMTP must escape: a leading dot, a lone dot, bare LF.
const raw = (n: number): Buffer => Buffer.from(`Subject: m${n}\r\nTo: x@y.test\r\n\r\n.leading dot\r\n.\r\nbare\nLF\r\nend ${n}\r\n`);
const expectedAtPeer = (n: number): string => `Subject: m${n}\r\nTo: x@y.test\r\n\r\n.leading dot\r\n.\r\nbare\r\nLF\r\nend ${n}\r\n`;

async function outcome(p: SmtpPool, to: string, n = 0): Promise<{ ok: true; reply: string } | { ok: false; f: ReturnType<typeof failureOf> }> {
  try {
    return { ok: true, reply: await p.send("sender@client.test", to, raw(n)) };
  } catch (e) {
    return { ok: false, f: failureOf(e as SmtpError, "mx", 0) };
  }
}

for (const pipelining of [true, false]) {
  const label = pipelining ? "with PIPELINING" : "without PIPELINING";
  let peer: SmtpPeer;
  before(async () => {
    peer = await startSmtpPeer({
      hidePIPELINING: !pipelining,
      domains: {
        "unknown.test": { rcpt: () => ({ code: 550, text: "5.1.1 User unknown" }) },
        "later.test": { rcpt: () => ({ code: 450, text: "4.2.1 Mailbox busy, try later" }) },
        "spam.test": { data: () => ({ code: 554, text: "5.7.1 Message rejected as spam" }) },
        "slow.test": { data: () => ({ code: 421, text: "4.7.0 Too many messages, slow down" }) },
        "drop.test": { dropMidData: true },
      },
    });
  });
  after(() => peer.close());

  test(`${label}: messages go out byte for byte over one session, and every refusal is classified as before`, async () => {
    const p = pool(peer.port);
    try {
      for (let n = 0; n < 3; n++) {
        const r = await outcome(p, `a${n}@ok.test`, n);
        assert.ok(r.ok, `delivered ${n}`);
        assert.match(r.reply, /^250/);
      }
      assert.deepEqual(
        peer.messagesFor("ok.test").map((m) => m.raw.toString()),
        [0, 1, 2].map(expectedAtPeer),
      );
      assert.equal(new Set(peer.messagesFor("ok.test").map((m) => m.connectionId)).size, 1, "one session for all");

      const unknown = await outcome(p, "x@unknown.test");
      assert.ok(!unknown.ok && unknown.f.classification.outcome === "bounce" && unknown.f.classification.category === "unknown_user", JSON.stringify(unknown));
      assert.equal(!unknown.ok && unknown.f.reply?.code, 550);
      const later = await outcome(p, "x@later.test");
      assert.ok(!later.ok && later.f.classification.outcome === "retry" && !later.f.classification.throttle, JSON.stringify(later));
      const spam = await outcome(p, "x@spam.test");
      assert.ok(!spam.ok && spam.f.classification.outcome === "bounce" && spam.f.reply?.code === 554, JSON.stringify(spam));
      // After refusals the session was reset and kept: the next message still goes out on it.
      assert.ok((await outcome(p, "after@ok.test", 9)).ok);
      assert.equal(new Set(peer.messagesFor("ok.test").map((m) => m.connectionId)).size, 1, "refusals kept the session");

      const slow = await outcome(p, "x@slow.test");
      assert.ok(!slow.ok && slow.f.classification.throttle && slow.f.reply?.code === 421, JSON.stringify(slow));
      const dropped = await outcome(p, "x@drop.test");
      assert.ok(!dropped.ok && dropped.f.classification.category === "network" && dropped.f.reply === undefined, JSON.stringify(dropped));
      // A 421 and a dropped connection end the session; the pool opens a new one.
      assert.ok((await outcome(p, "again@ok.test", 10)).ok);
      assert.equal(new Set(peer.messagesFor("ok.test").map((m) => m.connectionId)).size, 2);
    } finally {
      p.close();
    }
  });
}

test("a peer refusing at the greeting: 421 reaches the classification as a connection limit", async () => {
  const peer = await startSmtpPeer({ maxConnections: 0 });
  const p = pool(peer.port);
  try {
    const r = await outcome(p, "x@ok.test");
    assert.ok(!r.ok && r.f.classification.throttle && r.f.limit === "connections", JSON.stringify(r));
  } finally {
    p.close();
    await peer.close();
  }
});

let postfix: Postfix;
before(async () => {
  postfix = await startPostfix({ domains: ["relay.test"], limits: { messages: 12, rateUnitSeconds: 60 } });
});
after(() => postfix?.stop());

test("real Postfix smtpd (PIPELINING): pipelined messages are accepted, a refusal after the data and its rate limit are classified", async () => {
  const p = pool(postfix.port, { connections: 2 });
  try {
    const sent = await Promise.all(Array.from({ length: 10 }, (_, n) => outcome(p, `u${n}@relay.test`, n)));
    assert.deepEqual(sent.filter((r) => !r.ok), []);
    // Over Postfix's message_size_limit (10 MB by default): 552 5.3.4 after the data.
    let big: Awaited<ReturnType<typeof outcome>>;
    try {
      big = { ok: true, reply: await p.send("sender@client.test", "big@relay.test", Buffer.concat([raw(0), Buffer.alloc(11 * 1024 * 1024, "x\r\n")])) };
    } catch (e) {
      big = { ok: false, f: failureOf(e as SmtpError, "mx", 0) };
    }
    assert.ok(!big.ok && big.f.reply?.code === 552 && big.f.classification.outcome === "bounce" && big.f.classification.category === "message_too_large", JSON.stringify(big));
    assert.ok((await outcome(p, "u10@relay.test", 10)).ok, "the session goes on after the refusal");
    // 12 messages per minute per client: the next ones are refused at MAIL FROM with 450 4.7.1.
    let throttled: Awaited<ReturnType<typeof outcome>> | undefined;
    for (let n = 11; n < 16 && !throttled; n++) {
      const r = await outcome(p, `u${n}@relay.test`, n);
      if (!r.ok) throttled = r;
    }
    assert.ok(throttled && !throttled.ok && throttled.f.reply?.code === 450 && throttled.f.classification.throttle, JSON.stringify(throttled));
    // 10 + u10 accepted (the big one was refused after the data)
    await waitFor("Postfix delivered the accepted ones", () => (postfix.counts().accepted >= 11 ? true : undefined), 20_000, 100);
  } finally {
    p.close();
  }
});

test("a peer that never answers RCPT: the socket timeout fails the send as a network failure", async () => {
  const peer = await startSmtpPeer({ default: { hang: true } });
  const p = new SmtpPool({
    connection: { host: "127.0.0.1", port: peer.port, name: "client.test", connectionTimeout: 5000, greetingTimeout: 5000, socketTimeout: 1000, logger: false },
    auth: undefined,
    maxConnections: 1,
    maxMessagesPerConnection: 100,
    idleMs: 5000,
  });
  try {
    const r = await outcome(p, "x@hang.test");
    assert.ok(!r.ok && r.f.classification.category === "network" && r.f.reply === undefined, JSON.stringify(r));
  } finally {
    p.close();
    await peer.close();
  }
});

test("after STARTTLS and AUTH (sessions nodemailer opens), our transactions run on the TLS socket", async () => {
  const { SMTPServer } = await import("smtp-server");
  const received: { user: unknown; secure: boolean; raw: string }[] = [];
  const server = new SMTPServer({
    logger: false,
    onAuth: (auth, _session, cb) => (auth.username === "u" && auth.password === "p" ? cb(null, { user: "u" }) : cb(new Error("bad credentials"))),
    onData: (stream, session, cb) => {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        received.push({ user: session.user, secure: session.secure, raw: Buffer.concat(chunks).toString() });
        cb();
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.server.address() as { port: number }).port;
  const p = new SmtpPool({
    connection: { host: "127.0.0.1", port, name: "client.test", requireTLS: true, tls: { rejectUnauthorized: false }, connectionTimeout: 5000, greetingTimeout: 5000, socketTimeout: 5000, logger: false },
    auth: { user: "u", pass: "p" },
    maxConnections: 1,
    maxMessagesPerConnection: 100,
    idleMs: 5000,
  });
  try {
    for (let n = 0; n < 2; n++) assert.match(await p.send("sender@client.test", `r${n}@tls.test`, raw(n)), /^250/);
    assert.deepEqual(received, [0, 1].map((n) => ({ user: "u", secure: true, raw: expectedAtPeer(n) })));
  } finally {
    p.close();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
