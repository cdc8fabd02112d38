import { test } from "node:test";
import assert from "node:assert/strict";
import { ClosedConnectionError, NoRespondersError, TimeoutError } from "@nats-io/transport-node";
import { toHttpError } from "../../gateway/http-error.ts";
import { temporaryError, validationError } from "../../protocol/index.ts";

test("a NATS client failure met by any route is a 503 to retry, not a 500 (a timeout during a leader election)", () => {
  for (const e of [new TimeoutError(), new ClosedConnectionError(), new NoRespondersError("$JS.API.STREAM.INFO.X")]) {
    const http = toHttpError(e);
    assert.equal(http.status, 503, e.name);
    assert.equal(http.code, "nats_unavailable");
    assert.equal(http.headers["retry-after"], "2");
  }
});

test("the taxonomy decides the rest: validation 4xx, temporary 503, anything else 500", () => {
  assert.equal(toHttpError(validationError("bad", "no", "to")).status, 400);
  assert.equal(toHttpError(validationError("message_too_large", "big")).status, 413);
  assert.equal(toHttpError(temporaryError("stream_full", "full")).headers["retry-after"], "30");
  assert.equal(toHttpError(new RangeError("a bug")).status, 500);
});
