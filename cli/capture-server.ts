import { SMTPServer } from "smtp-server";
import { mkdirSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";

/**
 * The local profile's stand-in for the world's mail servers: it accepts everything and
 * writes each message as an .eml file, so a newcomer sees delivered mail without sending
 * anything to the internet.
 */
export interface CaptureServer {
  port: number;
  outbox: string;
  close(): Promise<void>;
}

export async function startCaptureServer(port: number, outbox: string, logger: Logger): Promise<CaptureServer> {
  mkdirSync(outbox, { recursive: true });
  let seq = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    banner: "sluice capture server (local profile)",
    size: 50 * 1024 * 1024,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        const rcpt = session.envelope.rcptTo.map((a) => a.address).join(",");
        const safe = rcpt.replace(/[^a-zA-Z0-9@._-]/g, "_").slice(0, 100);
        const file = join(outbox, `${Date.now()}-${++seq}-${safe}.eml`);
        writeFile(file, Buffer.concat(chunks)).then(
          () => {
            logger.info({ file, rcpt }, "captured message");
            callback();
          },
          (e: unknown) => callback(Object.assign(new Error(`4.3.0 capture failed: ${String(e)}`), { responseCode: 451 })),
        );
      });
    },
  });
  server.on("error", (e) => logger.warn({ err: e }, "capture server connection error"));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const addr = (server as unknown as { server: import("node:net").Server }).server.address();
  const bound = typeof addr === "object" && addr ? addr.port : port;
  logger.info({ port: bound, outbox }, "capture SMTP server listening (every route points here)");
  return { port: bound, outbox, close: () => new Promise((r) => server.close(() => r())) };
}
