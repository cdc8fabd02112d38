import { test } from "node:test";
import assert from "node:assert/strict";
import { ProgressBar } from "../../cli/send/progress.ts";
import { formatSummary } from "../../cli/send/summary.ts";

function fakeStream(isTTY: boolean): NodeJS.WriteStream & { written: string } {
  const s = { isTTY, columns: 100, written: "", write(chunk: string) {
    s.written += chunk;
    return true;
  } };
  return s as unknown as NodeJS.WriteStream & { written: string };
}

test("the progress bar draws on a terminal and ends at 100%", () => {
  const out = fakeStream(true);
  const bar = new ProgressBar(1000, "sending", out);
  bar.advance(400);
  bar.advance(600);
  bar.finish();
  assert.match(out.written, /\rsending █+ 1000\/1000 100%\n$/);
  assert.match(out.written, /400\/1000 40%/);
});

test("no progress bar when stderr is a pipe or a file", () => {
  const out = fakeStream(false);
  const bar = new ProgressBar(10, "sending", out);
  bar.advance(10);
  bar.finish();
  assert.equal(out.written, "");
});

test("the summary states accepted and every rejected recipient with its reason", () => {
  const text = formatSummary({
    accepted: 998,
    rejected: [
      { where: "line 3", reason: "not-an-address is not an email address" },
      { where: "line 9", reason: "400 invalid_request: recipients.4.to has an invalid domain" },
    ],
    ids: ["01abc"],
  });
  assert.equal(
    text,
    "accepted: 998\nrejected: 2\n  line 3: not-an-address is not an email address\n  line 9: 400 invalid_request: recipients.4.to has an invalid domain\nids: 01abc\n",
  );
  const many = formatSummary({ accepted: 0, rejected: Array.from({ length: 60 }, (_, i) => ({ where: `line ${i}`, reason: "bad" })), ids: [] });
  assert.match(many, /\.\.\. and 10 more \(use --json for all\)/);
});
