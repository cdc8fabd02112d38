import { createServer, connect, type Server, type Socket } from "node:net";

/**
 * A TCP proxy in front of a nats-server that can black-hole traffic: while paused, bytes
 * are held in both directions and sockets stay open, so the client sees no disconnect,
 * only requests that never get an answer (the nasty kind of network partition).
 * On resume, what was held is delivered late, as TCP would after a partition heals.
 */
export class TcpProxy {
  #server: Server;
  #paused = false;
  #pipes = new Set<{ resume(): void; destroy(): void }>();
  port = 0;

  constructor(private readonly upstreamPort: number) {
    this.#server = createServer((client) => this.#pipe(client));
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", () => resolve()));
    const addr = this.#server.address();
    this.port = typeof addr === "object" && addr ? addr.port : 0;
    return this;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    for (const p of this.#pipes) p.resume();
  }

  async close(): Promise<void> {
    for (const p of this.#pipes) p.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #pipe(client: Socket): void {
    const upstream = connect(this.upstreamPort, "127.0.0.1");
    const held: { to: Socket; data: Buffer }[] = [];
    const forward = (to: Socket) => (data: Buffer) => {
      if (this.#paused) held.push({ to, data });
      else to.write(data);
    };
    client.on("data", forward(upstream));
    upstream.on("data", forward(client));
    const entry = {
      resume: () => {
        for (const h of held.splice(0)) if (!h.to.destroyed) h.to.write(h.data);
      },
      destroy: () => {
        client.destroy();
        upstream.destroy();
      },
    };
    this.#pipes.add(entry);
    const end = () => {
      this.#pipes.delete(entry);
      entry.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  }
}
