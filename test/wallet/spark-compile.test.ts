// Proof that the wallet works inside a `bun build --compile` binary built with sparkPlugin("build"):
// the .wasm is embedded, better-sqlite3 is our bun:sqlite adapter, and the binary runs with the
// repo's node_modules out of reach (hidden by a private mount namespace when we are root, since a
// compiled binary would otherwise still find the build machine's absolute paths). Compiling takes
// well under a second but writes a ~120 MB binary to a temp dir: SPARK_COMPILE_PROOF=0 skips it.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { sparkPlugin } from "../../src/wallet/spark-plugin.ts";

const enabled = process.env.SPARK_COMPILE_PROOF !== "0";
const root = mkdtempSync(join(tmpdir(), "spark-compile-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe.skipIf(!enabled)("compiled binary", () => {
  test(
    "connects on regtest offline, reads the balance, disconnects and exits, with node_modules out of reach",
    async () => {
      const entry = join(root, "entry.ts");
      writeFileSync(
        entry,
        `
        globalThis.fetch = async (input) => { throw new TypeError("getaddrinfo ENOTFOUND " + new URL(String(input.url ?? input)).hostname); };
        const { SparkWallet } = await import(${JSON.stringify(resolve(import.meta.dir, "../../src/wallet/spark.ts"))});
        const w = new SparkWallet({ mnemonic: "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about", network: "regtest", dataDir: process.argv[2] });
        const t0 = performance.now();
        await w.connect();
        const balance = await w.balance();
        await w.disconnect();
        process.stdout.write(JSON.stringify({ state: "ok", balance, connectMs: Math.round(performance.now() - t0) }) + "\\n");
        `,
      );
      const outfile = join(root, "bin", "wallet-proof");
      const built = await Bun.build({ entrypoints: [entry], compile: { outfile }, plugins: [sparkPlugin("build")] });
      expect(built.success).toBe(true);
      const data = join(root, "data");
      mkdirSync(data);
      const nodeModules = resolve(import.meta.dir, "../../node_modules");
      const empty = join(root, "empty");
      mkdirSync(empty);
      // Containers may forbid mount namespaces: then the binary runs with node_modules in reach.
      const canHide =
        process.getuid?.() === 0 &&
        Bun.which("unshare") !== null &&
        Bun.spawnSync(["unshare", "-m", "sh", "-c", `mount --bind "$1" "$2" && [ -z "$(ls -A "$2")" ]`, "sh", empty, nodeModules]).exitCode === 0;
      const cmd = canHide
        ? ["unshare", "-m", "sh", "-c", `mount --bind "$1" "$2" && exec "$3" "$4"`, "sh", empty, nodeModules, outfile, data]
        : [outfile, data];
      const started = performance.now();
      const child = Bun.spawn(cmd, { cwd: root, env: { PATH: process.env.PATH ?? "", COMPUTE_LOG_LEVEL: "error" }, stdout: "pipe", stderr: "pipe" });
      const code = await child.exited;
      const stdout = await new Response(child.stdout).text();
      const stderr = await new Response(child.stderr).text();
      expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
      expect(JSON.parse(stdout)).toMatchObject({ state: "ok", balance: { sats: 0 } });
      expect(performance.now() - started).toBeLessThan(10_000);
      if (process.env.SPARK_COMPILE_PROOF === "1") console.error(`compiled proof: ${(statSync(outfile).size / 1e6).toFixed(0)} MB, node_modules hidden: ${canHide}, ${stdout.trim()}`);
    },
    120_000,
  );
});
