import assert from "node:assert/strict";
import { test } from "node:test";
import { personalise } from "../../actors/smtp/mime.ts";
import { missingVariables, renderPreview, templateRefOf, templateVariables, withTemplate, type TemplateVersion } from "../../protocol/index.ts";

const t: TemplateVersion = {
  v: 1,
  id: "01jdx000000000000000000000",
  tenant: "acme",
  version: 1,
  name: "n",
  subject: "Hi {{ name }}",
  text: "Hello {{name}} of {{city}}",
  html: "<b>{{name}}</b>",
  variables: ["city", "name"],
  createdAt: 0,
};

test("template variables are found in subject, text and html, once each, sorted", () => {
  assert.deepEqual(templateVariables({ subject: "{{b}} {{ a }}", text: "{{b}}", html: "{{c.d}} {{ bad name }}" }), ["a", "b", "c.d"]);
});

test("the preview fills placeholders exactly as the node's renderer does", () => {
  const cases: Record<string, string>[] = [{ name: "<Ann & \"Bo\">", city: "Paris\r\nBcc: x" }, {}, { name: "a\nb" }];
  for (const vars of cases) {
    const preview = renderPreview(t, vars);
    const node = personalise({ from: { address: "a@b.c" }, subject: t.subject, text: t.text, html: t.html }, vars);
    assert.deepEqual({ subject: preview.subject, text: preview.text, html: preview.html }, { subject: node.subject, text: node.text, html: node.html });
  }
  assert.deepEqual(renderPreview(t, { name: "x" }).missing, ["city"]);
});

test("missing variables are listed per recipient index", () => {
  assert.deepEqual(missingVariables(["a", "b"], [{ vars: { a: "1", b: "2" } }, { vars: { a: "1" } }, {}]), [
    { index: 1, missing: ["b"] },
    { index: 2, missing: ["a", "b"] },
  ]);
  assert.deepEqual(missingVariables([], [{}]), []);
});

test("a body naming a template is split from its template fields; content fields beside it are refused", () => {
  const ok = templateRefOf({ from: "a@b.c", templateId: t.id, templateVersion: 2, to: "x@y.z" });
  assert.ok(ok.ok);
  assert.equal(ok.ref?.templateId, t.id);
  assert.equal(ok.ref?.templateVersion, 2);
  assert.deepEqual(ok.rest, { from: "a@b.c", to: "x@y.z" });
  assert.deepEqual(withTemplate(ok.rest, t), { from: "a@b.c", to: "x@y.z", subject: t.subject, text: t.text, html: t.html });

  const both = templateRefOf({ templateId: t.id, html: "<p>" });
  assert.ok(!both.ok && both.error.field === "html");
  const version = templateRefOf({ templateVersion: 1 });
  assert.ok(!version.ok && version.error.field === "templateVersion");
  const bad = templateRefOf({ templateId: "nope" });
  assert.ok(!bad.ok && bad.error.field === "templateId");
  const plain = templateRefOf({ subject: "s" });
  assert.ok(plain.ok && plain.ref === undefined);
});
