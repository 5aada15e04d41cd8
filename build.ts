// The one build script: bundles ui/ into ui/dist, then compiles the single `compute` executable
// for the host and for every target Bun can cross-compile here, each with its own webview
// library embedded, and writes dist/SHA256SUMS.
//   bun run build              host + all cross targets
//   bun run build --host-only  host only (what the tests use)
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import type { BunPlugin } from "bun";
import { buildUi } from "./ui/build.ts";
import { sparkPlugin } from "./src/wallet/spark-plugin.ts";
import { checkMachOSignature, describeSignature } from "./scripts/macho-signature.ts";
import { breezKeyDefine } from "./src/wallet/breez-key.ts";

const ROOT = import.meta.dir;
// COMPUTE_DIST: another output folder (two builds side by side, e.g. to compare binaries).
/** The recorded bytecode profile (a file of function hashes; one from an older build still applies). */
const BYTECODE_ORDER = join(ROOT, "scripts/bytecode-order.txt");
const DIST = process.env.COMPUTE_DIST ? resolve(process.env.COMPUTE_DIST) : join(ROOT, "dist");

interface Target {
  name: string; // Bun compile target
  out: string; // file name in dist/
  webviewLib: string; // the library webview-bun must load on that platform
}

const TARGETS: Target[] = [
  { name: "bun-linux-x64", out: "compute-linux-x64", webviewLib: "libwebview-x64.so" },
  { name: "bun-linux-arm64", out: "compute-linux-arm64", webviewLib: "libwebview-arm64.so" },
  { name: "bun-darwin-arm64", out: "compute-darwin-arm64", webviewLib: "libwebview.dylib" },
  { name: "bun-darwin-x64", out: "compute-darwin-x64", webviewLib: "libwebview.dylib" },
  { name: "bun-windows-x64", out: "compute-windows-x64.exe", webviewLib: "libwebview.dll" },
];

const hostTarget = (): Target => {
  const key = `bun-${process.platform === "win32" ? "windows" : process.platform}-${process.arch}`;
  const t = TARGETS.find((x) => x.name === key);
  if (!t) throw new Error(`No build target for this host (${key}).`);
  return t;
};

/**
 * webview-bun picks its native library at run time from process.platform/arch with a dynamic
 * import; for a cross-compiled binary that would embed the host's library. This plugin rewrites
 * that choice into one static import of the target's library, which Bun then embeds.
 */
function webviewLibPlugin(lib: string): BunPlugin {
  return {
    name: "webview-lib-for-target",
    setup(build) {
      build.onLoad({ filter: /webview-bun[\\/]src[\\/]ffi\.ts$/ }, (args) => {
        const src = readFileSync(args.path, "utf8");
        const start = src.indexOf("let lib_file;");
        const end = src.indexOf("export const lib = dlopen(");
        if (start < 0 || end < 0) throw new Error("webview-bun's ffi.ts changed shape; update build.ts");
        const replaced =
          src.slice(0, start) +
          `import __webviewLib from "../build/${lib}" with { type: "file" };\n` +
          `const lib_file = { default: process.env.WEBVIEW_PATH || __webviewLib };\n` +
          src.slice(end);
        return { contents: replaced, loader: "ts" };
      });
    },
  };
}

/**
 * One copy of each crypto package per version. nostr-tools and @scure/bip32 each bring their own
 * nested copy of @noble/curves (and of @noble/hashes, @scure/base); bundled as they are, the binary
 * would hold two secp256k1 implementations with two precomputed tables and two sets of optimized
 * code in memory (~4 MiB of idle RSS). package.json pins @scure/bip32 and @scure/bip39 to the
 * versions nostr-tools uses, so the copies are identical; this plugin makes every import of a
 * package at a version already seen resolve to the first copy. Different versions stay apart.
 */
export function dedupeCryptoPlugin(): BunPlugin {
  const firstCopy = new Map<string, string>(); // name@version -> package dir
  const packageDirOf = (file: string, name: string): string | null => {
    const marker = `${sep}node_modules${sep}${name.replace("/", sep)}${sep}`;
    const at = file.lastIndexOf(marker);
    return at < 0 ? null : file.slice(0, at + marker.length - 1);
  };
  return {
    name: "dedupe-crypto-packages",
    setup(build) {
      build.onResolve({ filter: /^@(noble|scure)\/[^/]+/ }, (args) => {
        const name = /^@(noble|scure)\/[^/]+/.exec(args.path)![0];
        const resolved = Bun.resolveSync(args.path, args.resolveDir ?? dirname(args.importer));
        const dir = packageDirOf(resolved, name);
        if (!dir) return { path: resolved };
        const version = (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string }).version;
        const key = `${name}@${version}`;
        const first = firstCopy.get(key) ?? (firstCopy.set(key, dir), dir);
        return { path: join(first, relative(dir, resolved)) };
      });
    },
  };
}

async function compile(target: Target): Promise<string> {
  const outfile = join(DIST, target.out);
  const result = await Bun.build({
    // The window process's watchdog Worker is a second entry point (src/window/process.ts).
    entrypoints: [join(ROOT, "src/index.ts"), join(ROOT, "src/window/watchdog.ts")],
    // Profile-guided bytecode layout (scripts/record-bytecode-order.ts): the code a provider runs
    // sits together at the front of the executable, so it idles in fewer resident pages.
    compile: { target: target.name as never, outfile, bytecodeOrder: existsSync(BYTECODE_ORDER) && BYTECODE_ORDER },
    minify: true,
    sourcemap: "none",
    // Bytecode cuts start-up (first HTTP answer ~90 → ~59 ms here); it needs ESM output.
    bytecode: true,
    format: "esm",
    // sparkPlugin embeds the Breez SDK's wasm and its storage on bun:sqlite (see src/wallet/spark-plugin.ts);
    // dedupeCryptoPlugin keeps one copy of noble/scure per version.
    plugins: [webviewLibPlugin(target.webviewLib), sparkPlugin("build"), dedupeCryptoPlugin()],
    // BREEZ_API_KEY of the build's environment, embedded when set (src/wallet/breez-key.ts); never printed.
    define: { "process.env.COMPUTE_COMPILED": '"1"', ...breezKeyDefine(process.env) },
  });
  if (!result.success) {
    for (const log of result.logs) console.error(log);
    throw new Error(`build for ${target.name} failed`);
  }
  return outfile;
}

function sha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

if (import.meta.main) {
  const hostOnly = process.argv.includes("--host-only");
  mkdirSync(DIST, { recursive: true });
  const ui = await buildUi();
  mkdirSync(join(ROOT, "ui/dist"), { recursive: true });
  writeFileSync(join(ROOT, "ui/dist/index.html"), ui.html);
  writeFileSync(join(ROOT, "ui/dist/app.js"), ui.js);
  writeFileSync(join(ROOT, "ui/dist/app.css"), ui.css);

  const host = hostTarget();
  // Whether the binaries carry a Breez API key (the key itself is never printed).
  console.log(process.env.BREEZ_API_KEY?.trim() ? "Breez API key: embedded from BREEZ_API_KEY" : "Breez API key: none (set BREEZ_API_KEY to embed one; users then paste their own)");
  const built: { target: Target; path: string }[] = [];
  const failed: string[] = [];
  for (const target of hostOnly ? [host] : [host, ...TARGETS.filter((t) => t !== host)]) {
    const t0 = performance.now();
    try {
      const path = await compile(target);
      built.push({ target, path });
      console.log(`built ${target.out} (${(statSync(path).size / 1e6).toFixed(1)} MB) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      // Apple Silicon runs only signed code: say whether Bun's signature holds (README, Download).
      if (target.name.startsWith("bun-darwin")) console.log(`  ${describeSignature(target.out, checkMachOSignature(readFileSync(path)))}`);
    } catch (err) {
      failed.push(`${target.name}: ${(err as Error).message}`);
      console.error(`could not build ${target.name}: ${(err as Error).message}`);
    }
  }
  // dist/compute is the host's binary under its plain name.
  const hostBuilt = built.find((b) => b.target === host);
  if (!hostBuilt) {
    console.error("the host binary failed to build");
    process.exit(1);
  }
  writeFileSync(join(DIST, "compute"), readFileSync(hostBuilt.path), { mode: 0o755 });
  const sums = built.map((b) => `${sha256(b.path)}  ${b.target.out}`).join("\n") + "\n";
  writeFileSync(join(DIST, "SHA256SUMS"), sums);
  console.log(`wrote ${resolve(DIST, "SHA256SUMS")}`);
  if (failed.length) console.error(`targets not built: ${failed.join("; ")}`);
}
