import { test } from "node:test";
import assert from "node:assert/strict";
import { CsvError, parseCsv } from "../../cli/send/csv.ts";
import { recipientsFromCsv } from "../../cli/send/recipients.ts";
import { renderTemplate, templateVars, unknownVars } from "../../cli/send/template.ts";

const fields = (text: string) => parseCsv(text).map((r) => r.fields);

test("plain records, CRLF or LF, last line with or without a newline", () => {
  assert.deepEqual(fields("a,b\r\n1,2\r\n"), [["a", "b"], ["1", "2"]]);
  assert.deepEqual(fields("a,b\n1,2"), [["a", "b"], ["1", "2"]]);
  assert.deepEqual(fields("a,,c\n,,\n"), [["a", "", "c"], ["", "", ""]]);
});

test("quoted fields hold commas, doubled quotes and line breaks (RFC 4180)", () => {
  const recs = parseCsv('name,note\n"Smith, Ann","She said ""hi""\nthen left"\nBob,x\n');
  assert.deepEqual(recs.map((r) => r.fields), [
    ["name", "note"],
    ["Smith, Ann", 'She said "hi"\nthen left'],
    ["Bob", "x"],
  ]);
  assert.deepEqual(recs.map((r) => r.line), [1, 2, 4], "line numbers count the embedded line break");
  assert.deepEqual(fields('""\n'), [[""]]);
});

test("a BOM is skipped; blank lines are not records", () => {
  assert.deepEqual(fields("\ufeffemail\n\na@b.co\n"), [["email"], ["a@b.co"]]);
});

test("malformed quoting is an error naming the line", () => {
  assert.throws(() => parseCsv('a\n"open'), (e: unknown) => e instanceof CsvError && e.line === 2 && /unterminated/.test(e.message));
  assert.throws(() => parseCsv('a\nab"c\n'), (e: unknown) => e instanceof CsvError && e.line === 2);
  assert.throws(() => parseCsv('"a"b\n'), (e: unknown) => e instanceof CsvError && /after a closing quote/.test(e.message));
});

test("recipients: email column anywhere, other columns become variables", () => {
  const file = recipientsFromCsv('first_name,Email,plan\nAnn,ann@example.com,"Pro, yearly"\nBob,bob@example.org,free\n');
  assert.deepEqual(file.columns, ["first_name", "plan"]);
  assert.deepEqual(file.recipients, [
    { line: 2, to: "ann@example.com", vars: { first_name: "Ann", plan: "Pro, yearly" } },
    { line: 3, to: "bob@example.org", vars: { first_name: "Bob", plan: "free" } },
  ]);
  assert.deepEqual(file.rejected, []);
});

test("bad rows are rejected with their line and reason, good rows still go", () => {
  const file = recipientsFromCsv("email,name\nok@example.com,A\nnot-an-address,B\n,C\nx@example.com\ny@example.com,D,extra\n");
  assert.deepEqual(file.recipients.map((r) => r.to), ["ok@example.com"]);
  assert.deepEqual(file.rejected.map((r) => r.where), ["line 3", "line 4", "line 5", "line 6"]);
  assert.match(file.rejected[0]?.reason ?? "", /not-an-address is not an email address/);
  assert.match(file.rejected[1]?.reason ?? "", /has no email/);
  assert.match(file.rejected[2]?.reason ?? "", /1 fields, the header has 2/);
});

test("a header without email, or with a duplicate column, fails the file", () => {
  assert.throws(() => recipientsFromCsv("mail,name\na@b.co,x\n"), /no "email" column/);
  assert.throws(() => recipientsFromCsv("email,name,name\n"), /appears twice/);
  assert.throws(() => recipientsFromCsv(""), /empty file/);
});

test("templates: used variables, unknown ones, and a preview render", () => {
  assert.deepEqual(templateVars("Hi {{ first_name }}, your {{plan}} ({{plan}})"), ["first_name", "plan"]);
  assert.deepEqual(unknownVars(["Hi {{frist_name}}", undefined, "{{plan}}"], ["first_name", "plan"]), ["frist_name"]);
  assert.equal(renderTemplate("Hi {{first_name}} {{x}}", { first_name: "Ann" }), "Hi Ann {{x}}");
});
