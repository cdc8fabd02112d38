/**
 * bench/template: the node's per-recipient build of a personalized message, alone (issue 17):
 * fill() of the compiled template, render() of the per-recipient headers, dataChunks() of the
 * SMTP layer, and the buffer given back as after an accepted message. No NATS, no sockets:
 * the part of bench/e2e's node CPU that depends on the message's size.
 *
 *   node --import tsx bench/template.bench.ts
 *
 * BENCH_SIZES (bytes, default 5120,102400) with bench/e2e's texts: a placeholder on every line.
 */
import type { DeliveryMessage, Payload } from "../protocol/index.ts";
import { dataChunks } from "../actors/smtp/dot-stuff.ts";
import { recycle } from "../actors/smtp/message-buffers.ts";
import { render } from "../actors/smtp/mime.ts";
import { compileTemplate, fill } from "../actors/smtp/template.ts";

const SIZES = (process.env.BENCH_SIZES ?? "5120,102400").split(",").map(Number);
const message = { id: "r1", rcptTo: "user1@bench1.test", tier: "bulk", tenant: "bench", requestId: "q1" } as unknown as DeliveryMessage;

for (const size of SIZES) {
  const line = "Dear reader {{n}}, here is this week's long digest from the benchmark.\n";
  const payload: Payload = { from: { name: "Bench", address: "news@bench.test" }, subject: "Your news, reader {{n}}", text: line.repeat(Math.ceil(size / line.length)).slice(0, size) };
  const compiled = await compileTemplate(payload);
  if (!compiled) throw new Error("the payload has placeholders");
  let chunks = 0;
  const once = (i: number): void => {
    const filled = fill(compiled, { n: String(i) });
    if (!filled) throw new Error("fill declined");
    const raw = render(filled, message, { messageIdDomain: "bench.test", listUnsubscribe: undefined, now: Date.now() });
    chunks += dataChunks(raw).length;
    recycle(raw); // as the SMTP layer does once the server accepted the message
  };
  const n = Math.max(1000, Math.round(300_000_000 / size));
  for (let i = 0; i < n / 5; i++) once(i);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) once(i);
  const cpu = process.cpuUsage(cpu0);
  const result = { size, recipients: n, cpuUsPerRecipient: Math.round(((cpu.user + cpu.system) / n) * 10) / 10, wallUsPerRecipient: Math.round(((performance.now() - t0) * 10000) / n) / 10, chunks: chunks > 0 };
  console.log(`${size} B: ${result.cpuUsPerRecipient} µs CPU per recipient (fill + render + dataChunks)`);
  console.log("JSON", JSON.stringify(result));
}
