// build.ts bundles one copy of each noble/scure package per version: nostr-tools and @scure/bip32
// each nest their own @noble/curves, and two secp256k1 implementations in one process cost two
// precomputed tables and two sets of optimized code (~4 MiB of idle RSS, see BENCHMARKS.md).
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { dedupeCryptoPlugin } from "../../build.ts";

const ROOT = join(import.meta.dir, "../..");

/** The package folders of `name` whose modules ended up in a bundle of the product's entry. */
async function bundledCopies(name: string, plugins: Bun.BunPlugin[]): Promise<string[]> {
  const r = await Bun.build({
    entrypoints: [join(ROOT, "src/index.ts")],
    target: "bun",
    format: "esm",
    plugins,
    // Not what this is about, and slow to bundle: the wallet SDK and the window library.
    external: ["@breeztech/*", "webview-bun"],
  });
  expect(r.success).toBe(true);
  const text = (await Promise.all(r.outputs.map((o) => o.text()))).join("\n");
  // Unminified bundles name each module's source file in a comment line.
  const marker = new RegExp(`^// (.*node_modules/${name.replace("/", "\\/")})/`, "gm");
  return [...new Set([...text.matchAll(marker)].map((m) => m[1]!))];
}

describe("dedupeCryptoPlugin", () => {
  test("without it the bundle holds two copies of @noble/curves; with it, one", async () => {
    expect((await bundledCopies("@noble/curves", [])).length).toBe(2);
    expect(await bundledCopies("@noble/curves", [dedupeCryptoPlugin()])).toHaveLength(1);
    expect(await bundledCopies("@noble/hashes", [dedupeCryptoPlugin()])).toHaveLength(1);
  }, 60_000);

  test("the copies it merges are the same version (package.json pins @scure/bip32/bip39 to nostr-tools' versions)", async () => {
    const version = async (path: string) => ((await Bun.file(join(ROOT, path, "package.json")).json()) as { version: string }).version;
    const nested = ["node_modules/nostr-tools/node_modules/@noble/curves", "node_modules/@scure/bip32/node_modules/@noble/curves"];
    const versions = await Promise.all(nested.map(version));
    expect(new Set(versions).size).toBe(1);
    const tools = (await Bun.file(join(ROOT, "node_modules/nostr-tools/package.json")).json()) as { dependencies: Record<string, string> };
    const ours = (await Bun.file(join(ROOT, "package.json")).json()) as { dependencies: Record<string, string> };
    expect(ours.dependencies["@scure/bip32"]).toBe(tools.dependencies["@scure/bip32"]!);
    expect(ours.dependencies["@scure/bip39"]).toBe(tools.dependencies["@scure/bip39"]!);
  });
});
