// A module's namespace object costs memory for as long as the process lives: the bundle defines one
// getter (and one setter) per export, at start, for every module something imports dynamically,
// whether or not that import ever runs. For our own modules that is a handful; for a package it
// can be its whole API. `import("zod")` in one command's code once made every start build ~1,000
// of them (zod's namespaces re-export each other), about 0.3 MiB of an idle provider's memory.
// This bundles the product's entry (unminified, so each module is named) and counts them.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { dedupeCryptoPlugin } from "../../build.ts";

const ROOT = join(import.meta.dir, "../..");

/** Per bundled module: how many exports its namespace object defines at start. */
async function namespaceExports(): Promise<Map<string, number>> {
  const r = await Bun.build({
    entrypoints: [join(ROOT, "src/index.ts")],
    target: "bun",
    format: "esm",
    plugins: [dedupeCryptoPlugin()],
    external: ["@breeztech/*", "webview-bun"],
  });
  expect(r.success).toBe(true);
  const text = await r.outputs[0]!.text();
  const counts = new Map<string, number>();
  for (const m of text.matchAll(/__export\(\w+, \{([^}]*)\}\);/g)) {
    const before = text.lastIndexOf("\n// ", m.index);
    const module = text.slice(before + 4, text.indexOf("\n", before + 4));
    const names = (m[1]!.match(/=>/g) ?? []).length;
    counts.set(module, (counts.get(module) ?? 0) + names);
  }
  return counts;
}

test("no package's namespace is built at start except the few imported dynamically on purpose (no zod)", async () => {
  const counts = await namespaceExports();
  expect(counts.size).toBeGreaterThan(0); // the count works: our own lazily loaded modules show
  const zod = [...counts].filter(([m]) => m.includes("node_modules/zod/"));
  expect(zod).toEqual([]);
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  expect(total).toBeLessThan(100); // 57 when written
}, 60_000);
