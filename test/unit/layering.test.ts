import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

// The layering in docs/architecture.md, checked on the source: a rule that only lives in a
// document drifts. Reads import specifiers with a line regex (linear: no nesting).
const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const IMPORT = /^\s*(?:import|export)\s[^"';]*?from\s+"([^"]+)";?|^\s*import\s+"([^"]+)";?/gm;

function sourcesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, dir))) {
    const path = join(dir, name);
    if (statSync(join(root, path)).isDirectory()) out.push(...sourcesUnder(path));
    else if (name.endsWith(".ts")) out.push(path);
  }
  return out;
}

function importsOf(file: string): string[] {
  const text = readFileSync(join(root, file), "utf8");
  return [...text.matchAll(IMPORT)].map((m) => m[1] ?? m[2] ?? "");
}

/** Files an entry point reaches through relative imports (the entry included). */
function reachable(entry: string): Set<string> {
  const seen = new Set<string>();
  const walk = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const spec of importsOf(file)) if (spec.startsWith(".")) walk(relative(root, resolve(root, dirname(file), spec)));
  };
  walk(entry);
  return seen;
}

/** node:net's address helpers (BlockList, isIP) compute; only its sockets are I/O. */
function pureNetImport(file: string, spec: string): boolean {
  if (spec !== "node:net") return false;
  const line = readFileSync(join(root, file), "utf8").split("\n").find((l) => l.includes('"node:net"')) ?? "";
  const names = /\{([^}]*)\}/.exec(line)?.[1]?.split(",").map((n) => n.trim().replace(/^type /, "")) ?? ["*"];
  return names.every((n) => ["BlockList", "isIP", "isIPv4", "isIPv6"].includes(n));
}

test("the pure contract (protocol/index.ts) reaches no I/O: no NATS client, no sockets, no DNS, no files", () => {
  const io = /^(@nats-io\/|node:(net|dns|fs|http|https|tls|child_process)$|undici$|@opentelemetry\/)/;
  const offenders: string[] = [];
  for (const file of reachable("protocol/index.ts")) {
    assert.ok(!file.startsWith("protocol/io/"), `${file} is reached from the pure contract`);
    for (const spec of importsOf(file)) if (io.test(spec) && !pureNetImport(file, spec)) offenders.push(`${file} imports ${spec}`);
  }
  assert.deepEqual(offenders, []);
});

test("protocol/ imports nothing of ours outside protocol/", () => {
  const offenders = sourcesUnder("protocol").flatMap((file) =>
    importsOf(file)
      .filter((spec) => spec.startsWith("."))
      .filter((spec) => !relative(root, resolve(root, dirname(file), spec)).startsWith("protocol/"))
      .map((spec) => `${file} imports ${spec}`),
  );
  assert.deepEqual(offenders, []);
});

test("gateway/ and actors/ never import each other", () => {
  const crossing = (from: string, to: string): string[] =>
    sourcesUnder(from).flatMap((file) =>
      importsOf(file)
        .filter((spec) => spec.startsWith(".") && relative(root, resolve(root, dirname(file), spec)).startsWith(`${to}/`))
        .map((spec) => `${file} imports ${spec}`),
    );
  assert.deepEqual([...crossing("gateway", "actors"), ...crossing("actors", "gateway")], []);
});

test("the import reader sees the forms the code uses (so the checks above can fail)", () => {
  const specs = importsOf("protocol/io/stats.ts");
  assert.ok(specs.includes("@nats-io/jetstream"), `got ${specs.join(", ")}`);
  assert.ok(reachable("protocol/io/index.ts").has("protocol/io/stats.ts"));
});
