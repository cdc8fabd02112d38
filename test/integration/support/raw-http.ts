import { connect } from "node:net";

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Parse every HTTP/1.1 response in `text` (Content-Length framed; what the gateway sends). */
export function parseResponses(text: string): RawResponse[] {
  const out: RawResponse[] = [];
  let rest = text;
  while (rest.startsWith("HTTP/1.1 ")) {
    const end = rest.indexOf("\r\n\r\n");
    if (end < 0) break;
    const [statusLine = "", ...lines] = rest.slice(0, end).split("\r\n");
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(":");
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers["content-length"] ?? 0);
    out.push({ status: Number(statusLine.split(" ")[1]), headers, body: rest.slice(end + 4, end + 4 + length) });
    rest = rest.slice(end + 4 + length);
  }
  return out;
}

/**
 * Send raw bytes and collect what comes back until the server closes the connection or
 * `until` is satisfied by the responses so far. Never resolves on a timer alone: a hang is
 * the test's timeout, reported with what arrived.
 */
export function rawExchange(port: number, request: string | Buffer, until: (r: RawResponse[]) => boolean = () => false, halfClose = false): Promise<RawResponse[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: "127.0.0.1" });
    let text = "";
    const done = () => {
      socket.destroy();
      resolve(parseResponses(text));
    };
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString("latin1");
      if (until(parseResponses(text))) done();
    });
    socket.on("close", done);
    socket.on("error", (e: NodeJS.ErrnoException) => (e.code === "ECONNRESET" ? done() : reject(e)));
    socket.write(request, () => {
      if (halfClose) socket.end();
    });
  });
}
