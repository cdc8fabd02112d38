import { test } from "node:test";
import assert from "node:assert/strict";
import { formatDuration, parseDuration, parseSize } from "../../protocol/index.ts";

test("durations read like a person writes them", () => {
  assert.equal(parseDuration("90s"), 90_000);
  assert.equal(parseDuration("15m"), 900_000);
  assert.equal(parseDuration("72h"), 259_200_000);
  assert.equal(parseDuration("1h30m"), 5_400_000);
  assert.equal(parseDuration("250ms"), 250);
  assert.equal(parseDuration("1500"), 1500);
  assert.equal(parseDuration("1.5s"), 1500);
  for (const bad of ["", "m", "5 minutes", "-1s", "1y", "1h x"]) assert.equal(parseDuration(bad), undefined, bad);
});

test("sizes read like a person writes them", () => {
  assert.equal(parseSize("10MB"), 10 * 1024 * 1024);
  assert.equal(parseSize("512kb"), 512 * 1024);
  assert.equal(parseSize("2GB"), 2 * 1024 ** 3);
  assert.equal(parseSize("100"), 100);
  for (const bad of ["", "MB", "ten MB", "-1MB"]) assert.equal(parseSize(bad), undefined, bad);
});

test("formatDuration round-trips through parseDuration", () => {
  for (const ms of [1000, 60_000, 5_400_000, 259_200_000, 1250]) {
    assert.equal(parseDuration(formatDuration(ms)), ms);
  }
});
