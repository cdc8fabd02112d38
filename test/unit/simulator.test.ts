import assert from "node:assert/strict";
import { test } from "node:test";
import { checkAddress, classifyReply, simulatorScenario, SIMULATOR_SCENARIOS, suppressesAddress } from "../../protocol/index.ts";

test("simulator addresses name their scenario, with or without a +tag, in any case", () => {
  assert.equal(simulatorScenario("success@simulator.invalid"), "success");
  assert.equal(simulatorScenario("Bounce+42@SIMULATOR.invalid"), "bounce");
  assert.equal(simulatorScenario("softbounce@simulator.invalid"), "softbounce");
  assert.equal(simulatorScenario("nobody@simulator.invalid"), undefined);
  assert.equal(simulatorScenario("success@example.com"), undefined);
  assert.equal(simulatorScenario("success@simulator.invalid.example"), undefined);
});

test("every simulator address passes the gateway's address check", () => {
  for (const name of Object.keys(SIMULATOR_SCENARIOS)) assert.equal(checkAddress(`${name}@simulator.invalid`), undefined, name);
});

test("the simulator's replies classify as the real ones would: a hard bounce that suppresses, a plain deferral", () => {
  const hard = classifyReply({ code: 550, enhanced: "5.1.1", text: "5.1.1 The email account that you tried to reach does not exist (simulated)" });
  assert.equal(hard.outcome, "bounce");
  assert.equal(suppressesAddress(hard), true);
  const soft = classifyReply({ code: 451, enhanced: "4.2.0", text: "4.2.0 Mailbox temporarily unavailable (simulated)" });
  assert.equal(soft.outcome, "retry");
  assert.equal(soft.throttle, false);
});
