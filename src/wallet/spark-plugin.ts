// How the Breez Spark SDK (@breeztech/breez-sdk-spark 0.19.2, Node build) is loaded under Bun.
// One Bun plugin, used at run time (`installSparkRuntime()`, before the SDK's first import) and at
// compile time (`sparkPlugin("build")` in build.ts), makes four precise changes:
//  1. `better-sqlite3` (native, can't load under Bun) resolves to our bun:sqlite adapter
//     (spark-storage.ts), so the SDK's own SQLite storage and migrations run unchanged.
//  2. nodejs/index.js, which also loads optional Postgres/MySQL stores and prints to stdout on
//     import, is replaced by the three lines we need (wasm bindings + default storage).
//  3. The wasm-bindgen glue reads its 11 MB .wasm from `${__dirname}`, which a compiled binary
//     bakes in as the build machine's absolute path: the path becomes overridable
//     (`setSparkWasmPath`, env COMPUTE_SPARK_WASM) and, when compiling, defaults to a
//     zstd-compressed copy embedded in the binary (4 MB instead of 11 MB; decompressed in ~20 ms
//     when the wallet first connects). The reader accepts a plain or a zstd-compressed .wasm
//     (told apart by the zstd magic bytes). The glue's timers are unref'd: after `disconnect()` the SDK leaves
//     sleeping timers behind (120 s, 150 s) that would keep the process alive; every SDK call we
//     make is raced against a timer of our own, so unref'd SDK timers never end a pending call.
//  4. The storage's two console.debug/console.warn calls go to our logger instead of stdout.
// Each change checks its anchor text and fails loudly if the SDK's files no longer match.
import type { BunPlugin } from "bun";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";

export const SPARK_WASM_PATH = Symbol.for("compute.spark.wasmPath");
export const SPARK_STORAGE_LOG = Symbol.for("compute.spark.storageLog");
export const SPARK_PATCHED = Symbol.for("compute.spark.patched");

export type SparkPluginMode = "runtime" | "build";
export type SdkFile = "index" | "glue" | "storage";

const SDK_FILE = /[\\/]@breeztech[\\/]breez-sdk-spark[\\/]nodejs[\\/](index\.js|breez_sdk_spark_wasm\.js|storage[\\/]index\.cjs)$/;
const STORAGE_ADAPTER = join(import.meta.dir, "spark-storage.ts");

export class SparkPatchError extends Error {
  constructor(file: string, what: string) {
    super(`The Breez SDK's ${file} no longer matches what compute expects (${what}); update src/wallet/spark-plugin.ts.`);
    this.name = "SparkPatchError";
  }
}

function sdkFileOf(path: string): SdkFile | null {
  const m = SDK_FILE.exec(path);
  if (!m) return null;
  if (m[1] === "index.js") return "index";
  if (m[1] === "breez_sdk_spark_wasm.js") return "glue";
  return "storage";
}

const WASM_PATH_LINE = "const wasmPath = `${__dirname}/breez_sdk_spark_wasm_bg.wasm`;";
const WASM_READ_LINE = "const wasmBytes = require('fs').readFileSync(wasmPath);";
/** What the build-mode glue requires; the plugin resolves it to the zstd-compressed .wasm. */
const EMBEDDED_WASM = "./breez_sdk_spark_wasm_bg.wasm.zst";
const WASM_FILE = "breez_sdk_spark_wasm_bg.wasm";
/**
 * zstd level for the embedded copy: 11.3 → 3.8 MB in ~4 s, once per build (memoized across the
 * targets). Level 9 makes 4.1 MB in 0.2 s; the 0.3 MB keep the Windows binary under 125 MB.
 */
const WASM_ZSTD_LEVEL = 19;
const compressed = new Map<string, Uint8Array>();
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd] as const;

/** The SDK's wasm as compute reads it: a plain .wasm, or one compressed with zstd. */
export function decodeSparkWasm(bytes: Uint8Array): Uint8Array {
  const zstd = bytes.length >= 4 && ZSTD_MAGIC.every((b, i) => bytes[i] === b);
  return zstd ? Bun.zstdDecompressSync(bytes) : bytes;
}

/** The zstd-compressed copy of the SDK's .wasm that build mode embeds. */
export function compressSparkWasm(wasm: Uint8Array): Uint8Array {
  return Bun.zstdCompressSync(wasm, { level: WASM_ZSTD_LEVEL });
}
// The four wasm-bindgen import shims that start timers, e.g. `const ret = setTimeout(arg0, arg1);`.
const TIMER_CALL = /((?:globalThis\.)?set(?:Timeout|Interval))\(arg0, arg1\)/g;
const EXPECTED_TIMER_CALLS = 4;

/** Pure: the patched text of one SDK file. Throws SparkPatchError when an anchor is missing. */
export function patchSdkSource(file: SdkFile, source: string, mode: SparkPluginMode): string {
  if (file === "index") {
    if (!source.includes("require('./breez_sdk_spark_wasm.js')") || !source.includes("createDefaultStorage")) {
      throw new SparkPatchError("nodejs/index.js", "wasm module + createDefaultStorage");
    }
    return [
      "// Replaced by compute's spark plugin (src/wallet/spark-plugin.ts): bindings + SQLite storage only.",
      "const wasmModule = require('./breez_sdk_spark_wasm.js');",
      "global.createDefaultStorage = require('./storage/index.cjs').createDefaultStorage;",
      `globalThis[Symbol.for(${JSON.stringify(SPARK_PATCHED.description)})] = true;`,
      "module.exports = wasmModule;",
      "",
    ].join("\n");
  }
  if (file === "glue") {
    if (!source.includes(WASM_PATH_LINE)) throw new SparkPatchError("wasm glue", "wasmPath line");
    if (!source.includes(WASM_READ_LINE)) throw new SparkPatchError("wasm glue", "wasmBytes line");
    const calls = source.match(TIMER_CALL)?.length ?? 0;
    if (calls !== EXPECTED_TIMER_CALLS) {
      throw new SparkPatchError("wasm glue", `${EXPECTED_TIMER_CALLS} timer shims, found ${calls}`);
    }
    // When compiling, require() of the compressed .wasm makes Bun embed it and return its path in
    // the binary (sparkPlugin resolves the name to the bytes compressSparkWasm makes).
    const fallback = mode === "build" ? `require(${JSON.stringify(EMBEDDED_WASM)})` : "`${__dirname}/breez_sdk_spark_wasm_bg.wasm`";
    const wasmPath =
      `const wasmPath = globalThis[Symbol.for(${JSON.stringify(SPARK_WASM_PATH.description)})]` +
      ` || process.env.COMPUTE_SPARK_WASM || ${fallback};`;
    return (
      source
        .replace(WASM_PATH_LINE, () => wasmPath)
        .replace(WASM_READ_LINE, () => "const wasmBytes = __computeReadWasm(wasmPath);")
        .replace(TIMER_CALL, (_m, fn: string) => `__computeUnref(${fn}(arg0, arg1))`) +
      "\nfunction __computeUnref(t) { if (t && typeof t.unref === 'function') t.unref(); return t; }\n" +
      // decodeSparkWasm, restated in the SDK's CommonJS.
      "function __computeReadWasm(p) { const b = require('fs').readFileSync(p);" +
      ` return b.length >= 4 && ${ZSTD_MAGIC.map((m, i) => `b[${i}] === ${m}`).join(" && ")} ? Bun.zstdDecompressSync(b) : b; }\n`
    );
  }
  if (!source.includes("console.debug(") || !source.includes("console.warn(")) {
    throw new SparkPatchError("nodejs/storage/index.cjs", "console.debug/console.warn calls");
  }
  const sink =
    "function __computeStorageLog(level, ...args) {" +
    ` const sink = globalThis[Symbol.for(${JSON.stringify(SPARK_STORAGE_LOG.description)})];` +
    " if (typeof sink === 'function') sink(level, args.map(String).join(' ')); }\n";
  return sink + source.replaceAll("console.debug(", '__computeStorageLog("debug", ').replaceAll("console.warn(", '__computeStorageLog("warn", ');
}

/**
 * At run time Bun treats plugin-provided source as an ES module, so CommonJS text is wrapped in a
 * function and its `module.exports` is exported under Bun's special export name "module.exports"
 * (what a `require()` of it returns) and as the default export (what index.mjs imports).
 */
function asEsModule(cjs: string, path: string): string {
  return [
    "const __cjs = { exports: {} };",
    "(function (module, exports, __dirname, __filename) {",
    cjs,
    `})(__cjs, __cjs.exports, ${JSON.stringify(dirname(path))}, ${JSON.stringify(path)});`,
    "const __cjsExports = __cjs.exports;",
    'export { __cjsExports as "module.exports" };',
    "export default __cjsExports;",
    "",
  ].join("\n");
}

export function sparkPlugin(mode: SparkPluginMode): BunPlugin {
  return {
    name: "compute-breez-spark",
    setup(build) {
      if (mode === "runtime") {
        build.module("better-sqlite3", () => ({
          contents: `import { BunSqliteDatabase } from ${JSON.stringify(STORAGE_ADAPTER)};\nexport { BunSqliteDatabase as "module.exports" };\n`,
          loader: "js",
        }));
      } else {
        build.onResolve({ filter: /^better-sqlite3$/ }, () => ({ path: "better-sqlite3", namespace: "compute-spark" }));
        build.onLoad({ filter: /^better-sqlite3$/, namespace: "compute-spark" }, () => ({
          contents: `module.exports = require(${JSON.stringify(STORAGE_ADAPTER)}).BunSqliteDatabase;\n`,
          loader: "js",
        }));
        // The glue's require of the compressed .wasm: the SDK's .wasm beside the glue, compressed
        // here, embedded as a file (the glue gets its path inside the binary).
        build.onResolve({ filter: /breez_sdk_spark_wasm_bg\.wasm\.zst$/ }, (args) => ({
          path: join(args.resolveDir, WASM_FILE),
          namespace: "compute-spark-wasm",
        }));
        build.onLoad({ filter: /.*/, namespace: "compute-spark-wasm" }, (args) => ({
          contents: compressed.get(args.path) ?? compressed.set(args.path, compressSparkWasm(readFileSync(args.path))).get(args.path)!,
          loader: "file",
        }));
      }
      build.onLoad({ filter: SDK_FILE }, (args) => {
        const file = sdkFileOf(args.path);
        const source = readFileSync(args.path, "utf8");
        if (!file) return { contents: source, loader: "js" };
        const patched = patchSdkSource(file, source, mode);
        return { contents: mode === "runtime" ? asEsModule(patched, args.path) : patched, loader: "js" };
      });
    },
  };
}

let runtimeInstalled = false;

/** Registers the plugin for this process; must run before the SDK is first imported. Idempotent. */
export function installSparkRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Bun.plugin(sparkPlugin("runtime"));
}

/** True once the SDK was loaded through the plugin (at run time or compiled in). */
export function sparkRuntimePatched(): boolean {
  return (globalThis as Record<symbol, unknown>)[SPARK_PATCHED] === true;
}

/**
 * Where the SDK reads its .wasm from. Not needed when build.ts compiles with `sparkPlugin("build")`
 * (the .wasm is embedded); use it to point at a .wasm shipped beside the binary. Call it before
 * the wallet connects.
 */
export function setSparkWasmPath(path: string | null): void {
  const g = globalThis as Record<symbol, unknown>;
  if (path) g[SPARK_WASM_PATH] = path;
  else delete g[SPARK_WASM_PATH];
}

/** Where the SDK's storage debug/warn lines go (otherwise dropped). */
export function setSparkStorageLog(sink: ((level: string, line: string) => void) | null): void {
  const g = globalThis as Record<symbol, unknown>;
  if (sink) g[SPARK_STORAGE_LOG] = sink;
  else delete g[SPARK_STORAGE_LOG];
}
