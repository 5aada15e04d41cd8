import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { SparkPatchError, compressSparkWasm, decodeSparkWasm, patchSdkSource } from "../../src/wallet/spark-plugin.ts";

// The real files of the installed SDK: the patches must find their anchors in them.
const sdkDir = join(dirname(Bun.resolveSync("@breeztech/breez-sdk-spark/nodejs", import.meta.dir)));
const read = (rel: string) => readFileSync(join(sdkDir, rel), "utf8");

describe("patchSdkSource against @breeztech/breez-sdk-spark's Node build", () => {
  test("index.js becomes bindings + SQLite storage only (no Postgres/MySQL, no console output)", () => {
    const out = patchSdkSource("index", read("index.js"), "runtime");
    expect(out).toContain("require('./breez_sdk_spark_wasm.js')");
    expect(out).toContain("createDefaultStorage");
    expect(out).not.toContain("console.");
    expect(out).not.toContain("postgres");
  });

  test("glue: overridable wasm path, embedded when compiling, every timer unref'd", () => {
    const src = read("breez_sdk_spark_wasm.js");
    const runtime = patchSdkSource("glue", src, "runtime");
    expect(runtime).toContain('globalThis[Symbol.for("compute.spark.wasmPath")] || process.env.COMPUTE_SPARK_WASM || `${__dirname}/breez_sdk_spark_wasm_bg.wasm`');
    expect(runtime.match(/__computeUnref\((globalThis\.)?set(Timeout|Interval)\(arg0, arg1\)\)/g)?.length).toBe(4);
    // No timer call is left un-wrapped.
    expect(runtime.replace(/__computeUnref\([^)]*\)\)/g, "").match(/set(Timeout|Interval)\(arg0, arg1\)/g)).toBeNull();
    const build = patchSdkSource("glue", src, "build");
    expect(build).toContain('require("./breez_sdk_spark_wasm_bg.wasm.zst")');
    // Both modes read the bytes through the reader that accepts a zstd-compressed .wasm.
    for (const out of [runtime, build]) {
      expect(out).toContain("const wasmBytes = __computeReadWasm(wasmPath);");
      expect(out).not.toContain("require('fs').readFileSync(wasmPath)");
    }
  });

  test("wasm: the compressed copy decodes to the SDK's exact bytes, a plain .wasm passes through", () => {
    const wasm = readFileSync(join(sdkDir, "breez_sdk_spark_wasm_bg.wasm"));
    const packed = compressSparkWasm(wasm);
    expect(packed.length).toBeLessThan(wasm.length / 2);
    expect(Buffer.from(decodeSparkWasm(packed)).equals(wasm)).toBe(true);
    expect(decodeSparkWasm(wasm)).toBe(wasm);
    expect(WebAssembly.validate(decodeSparkWasm(packed))).toBe(true);
  }, 60_000); // zstd level 19 over 11 MB: ~4 s here, more on a loaded machine

  test("glue: the reader shim in the SDK's CommonJS decodes what decodeSparkWasm decodes", () => {
    const build = patchSdkSource("glue", read("breez_sdk_spark_wasm.js"), "build");
    const shim = build.slice(build.indexOf("function __computeReadWasm("));
    const dir = mkdtempSync(join(tmpdir(), "compute-spark-wasm-"));
    try {
      const plain = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]);
      writeFileSync(join(dir, "plain.wasm"), plain);
      writeFileSync(join(dir, "packed.wasm"), compressSparkWasm(plain));
      const read = new Function("require", `${shim}; return __computeReadWasm;`)(require) as (p: string) => Uint8Array;
      expect([...read(join(dir, "plain.wasm"))]).toEqual([...plain]);
      expect([...read(join(dir, "packed.wasm"))]).toEqual([...plain]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("storage: console.debug/warn go to our sink", () => {
    const out = patchSdkSource("storage", read("storage/index.cjs"), "runtime");
    expect(out).not.toMatch(/console\.(debug|warn)\(/);
    expect(out).toContain('__computeStorageLog("debug", ');
  });

  test("a changed SDK layout fails loudly instead of half-patching", () => {
    expect(() => patchSdkSource("glue", "const wasmPath = somewhereElse;", "build")).toThrow(SparkPatchError);
    expect(() => patchSdkSource("glue", read("breez_sdk_spark_wasm.js").replace("setTimeout(arg0, arg1)", "setTimeout(a, b)"), "build")).toThrow(/timer shims/);
    expect(() => patchSdkSource("index", "module.exports = {}", "runtime")).toThrow(SparkPatchError);
    expect(() => patchSdkSource("storage", "nothing", "runtime")).toThrow(SparkPatchError);
  });
});
