import { test } from "node:test";
import assert from "node:assert/strict";
import { metricsText, startTelemetry } from "../../protocol/telemetry/index.ts";
import { observeDestinationLimits } from "../../actors/metrics.ts";

startTelemetry({ service: "sluice-test", config: { otlpEndpoint: undefined } });

test("the limit in force (source learned) and the policy's (source policy) are exported per destination", async () => {
  const policy = { connections: 10, rate: 50 };
  const stop = [
    observeDestinationLimits({ key: "throttled.test", limits: () => ({ connections: 3, rate: 4.5, policy }) }),
    observeDestinationLimits({ key: "healthy.test", limits: () => ({ connections: 10, rate: 50, policy }) }),
  ];
  const text = await metricsText();
  const value = (name: string, destination: string, source: string): number | undefined => {
    const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(`destination="${destination}"`) && l.includes(`source="${source}"`));
    return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
  };
  assert.equal(value("sluice_destination_connections_limit", "throttled.test", "learned"), 3);
  assert.equal(value("sluice_destination_connections_limit", "throttled.test", "policy"), 10);
  assert.equal(value("sluice_destination_rate_limit", "throttled.test", "learned"), 4.5);
  assert.equal(value("sluice_destination_rate_limit", "throttled.test", "policy"), 50);
  assert.equal(value("sluice_destination_rate_limit", "healthy.test", "learned"), 50);
  for (const s of stop) s();
});
