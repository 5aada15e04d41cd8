// The compiled binary: spawn → first 200 on /healthz (with an identity in the data dir and the
// vault password in the environment, as a headless service runs), idle memory (online without and
// with the wallet, next to the runtime floor of bench/rss-floor.ts), and the
// sizes people download (binary, gzipped dashboard bundle). Everything stays on 127.0.0.1: the
// binary is pointed at the bench's relay and fake Ollama.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateMnemonic } from "@scure/bip39";
import { wordlist } from "@scure/bip39/wordlists/english.js";
import { dropPageCache, freePort, median, procStatusKb } from "./util.ts";

export interface StartupResult {
  skipped: string | null;
  binaryBytes: number | null;
  coldStartMs: number[];
  coldStartMedianMs: number | null;
  /** `compute --version`, spawn → exit, median: runtime start plus loading the bundle, nothing else. */
  versionMedianMs: number | null;
  idleRssKb: number | null;
  idlePeakRssKb: number | null;
  /** Idle memory of the product in each set-up, and of the runtime floor (bench/rss-floor.ts). */
  idle: IdleSample[];
}

export interface IdleSample {
  name: string;
  /** null when this set-up could not run; `skipped` says why. */
  rssKb: number | null;
  anonKb: number | null;
  fileKb: number | null;
  peakKb: number | null;
  skipped?: string;
}

/**
 * How long a started process is left alone before its memory is read: the product trims its memory
 * after 10 s without activity (src/util/idle-trim.ts), so it is read after 15 s; the floor after 8 s.
 */
const IDLE_SETTLE_MS = 15_000;
const FLOOR_SETTLE_MS = 8000;

function sample(name: string, pid: number): IdleSample {
  return {
    name,
    rssKb: procStatusKb(pid, "VmRSS"),
    anonKb: procStatusKb(pid, "RssAnon"),
    fileKb: procStatusKb(pid, "RssFile"),
    peakKb: procStatusKb(pid, "VmHWM"),
  };
}

async function stopProcess(proc: Bun.Subprocess): Promise<void> {
  proc.kill("SIGTERM");
  const killer = setTimeout(() => proc.kill("SIGKILL"), 5000);
  await proc.exited;
  clearTimeout(killer);
}

/**
 * The runtime floor: bench/rss-floor.ts compiled as build.ts compiles the product, run with no
 * crypto, with nostr-tools' pure-JS signatures, and with nostr-wasm, each left idle like the product.
 */
export async function runtimeFloor(root: string, relayUrl: string, ollamaUrl: string): Promise<IdleSample[]> {
  const dir = mkdtempSync(join(tmpdir(), "compute-bench-floor-"));
  try {
    const outfile = join(dir, "rss-floor");
    const built = await Bun.build({ entrypoints: [join(root, "bench/rss-floor.ts")], compile: { outfile }, minify: true, bytecode: true, format: "esm" });
    if (!built.success) return [{ name: "runtime floor", rssKb: null, anonKb: null, fileKb: null, peakKb: null, skipped: built.logs.map(String).join("; ").slice(0, 200) }];
    const out: IdleSample[] = [];
    for (const crypto of ["none", "js", "wasm"] as const) {
      const proc = Bun.spawn([outfile, dir, relayUrl, ollamaUrl, "--crypto", crypto], { cwd: dir, stdout: "pipe", stderr: "pipe" });
      const name = `runtime floor, ${crypto === "none" ? "no signatures" : crypto === "js" ? "signing in pure JS" : "signing with nostr-wasm"}`;
      try {
        const reader = proc.stdout.getReader();
        const first = await Promise.race([
          reader.read().then((r) => (r.done ? "exited" : new TextDecoder().decode(r.value))),
          Bun.sleep(15_000).then(() => "timeout"),
        ]);
        if (!first.startsWith("ready")) {
          out.push({ name, rssKb: null, anonKb: null, fileKb: null, peakKb: null, skipped: `did not start (${first.trim().slice(0, 80)})` });
          continue;
        }
        await Bun.sleep(FLOOR_SETTLE_MS);
        out.push(sample(name, proc.pid));
      } finally {
        await stopProcess(proc);
      }
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface SizesResult {
  appJsBytes: number | null;
  appJsGzipBytes: number | null;
  appCssGzipBytes: number | null;
}

export function uiSizes(root: string): SizesResult {
  const js = join(root, "ui/dist/app.js");
  const css = join(root, "ui/dist/app.css");
  if (!existsSync(js)) return { appJsBytes: null, appJsGzipBytes: null, appCssGzipBytes: null };
  const raw = readFileSync(js);
  return {
    appJsBytes: raw.length,
    appJsGzipBytes: Bun.gzipSync(raw, { level: 9 }).length,
    appCssGzipBytes: existsSync(css) ? Bun.gzipSync(readFileSync(css), { level: 9 }).length : null,
  };
}

async function waitHealthy(port: number, proc: Bun.Subprocess, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`the binary exited with code ${proc.exitCode} before answering`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(500) });
      if (res.status === 200) return;
    } catch {}
    // 1 ms between tries: fine enough for a ~50 ms figure without eating a core the child needs.
    await Bun.sleep(1);
  }
  throw new Error(`no 200 on /healthz within ${timeoutMs} ms`);
}

/** Reads the child's stdout until it prints its dashboard address; returns the API token. */
export async function dashboardToken(stdout: ReadableStream<Uint8Array>, timeoutMs: number): Promise<string> {
  const reader = stdout.getReader();
  let text = "";
  const deadline = Date.now() + timeoutMs;
  try {
    while (Date.now() < deadline) {
      const m = /Dashboard: \S+token=(\S+)/.exec(text);
      if (m) return m[1]!;
      const next = await Promise.race([reader.read(), Bun.sleep(deadline - Date.now()).then(() => null)]);
      if (!next || next.done) break;
      text += new TextDecoder().decode(next.value);
    }
  } finally {
    reader.releaseLock();
  }
  throw new Error(`no dashboard address within ${timeoutMs} ms`);
}

/** Whether the running binary's dashboard state says it is online (null: no answer). */
async function providerOnline(port: number, token: string): Promise<boolean | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/api/state`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(2000) });
    const state = (await res.json()) as { provider?: { online?: unknown } };
    return state.provider?.online === true;
  } catch {
    return null;
  }
}

export async function startup(bin: string, relayUrl: string, ollamaUrl: string, runs = 10): Promise<StartupResult> {
  const empty: StartupResult = { skipped: null, binaryBytes: null, coldStartMs: [], coldStartMedianMs: null, versionMedianMs: null, idleRssKb: null, idlePeakRssKb: null, idle: [] };
  if (!existsSync(bin)) return { ...empty, skipped: `${bin} is missing (run \`bun run build\` first)` };
  const dir = mkdtempSync(join(tmpdir(), "compute-bench-bin-"));
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: dir,
    COMPUTE_DATA_DIR: join(dir, "data"),
    // A throwaway vault in a temp dir, deleted at the end.
    COMPUTE_PASSWORD: "bench-vault-password",
    COMPUTE_LOG_LEVEL: "warn",
  };
  const spawn = (port: number, extra: string[] = []) =>
    Bun.spawn([bin, "--headless", "--port", String(port), "--relay", relayUrl, "--ollama-url", ollamaUrl, ...extra], { cwd: dir, env, stdout: "ignore", stderr: "ignore" });
  const end = stopProcess;
  try {
    const init = Bun.spawnSync([bin, "init", "--import"], { cwd: dir, env, stdin: Buffer.from(generateMnemonic(wordlist)), stdout: "pipe", stderr: "pipe" });
    if (init.exitCode !== 0) return { ...empty, skipped: `\`compute init --import\` failed: ${init.stderr.toString().trim().slice(0, 200)}` };
    const versionTimes: number[] = [];
    for (let i = 0; i <= runs; i++) {
      const t0 = performance.now();
      Bun.spawnSync([bin, "--version"], { cwd: dir, env, stdout: "ignore", stderr: "ignore" });
      if (i > 0) versionTimes.push(performance.now() - t0);
    }
    const times: number[] = [];
    // One unmeasured start first: the page cache then holds the binary, as on a machine that runs it.
    for (let i = 0; i <= runs; i++) {
      const port = freePort();
      const t0 = performance.now();
      const proc = spawn(port);
      try {
        await waitHealthy(port, proc, 10_000);
        if (i > 0) times.push(performance.now() - t0);
      } finally {
        await end(proc);
      }
    }
    // Idle: online (subscribed to the relay, Ollama probed), no job; without a wallet (mainnet
    // with no Breez API key: the wallet is not configured) and with one (regtest connects offline).
    // Without a wallet only free jobs can be taken, so that row runs in the free mode: in a paid
    // mode compute would refuse to go online and idle offline. Each row is read only if the
    // dashboard's state says online.
    const idle: IdleSample[] = [];
    for (const [name, extra] of [
      ["compute --headless --online, no wallet (free jobs)", ["--online", "--payment-mode", "free"]],
      ["compute --headless --online, wallet (regtest)", ["--online", "--network", "regtest"]],
    ] as const) {
      const port = freePort();
      // Read from disk, not from the build's own page cache (see dropPageCache).
      dropPageCache(bin);
      const proc = Bun.spawn([bin, "--headless", "--port", String(port), "--relay", relayUrl, "--ollama-url", ollamaUrl, ...extra], { cwd: dir, env, stdout: "pipe", stderr: "pipe" });
      try {
        const token = await dashboardToken(proc.stdout, 10_000);
        await Bun.sleep(IDLE_SETTLE_MS);
        const s = sample(name, proc.pid);
        const online = await providerOnline(port, token);
        idle.push(online ? s : { ...s, rssKb: null, anonKb: null, fileKb: null, peakKb: null, skipped: `not online (${online === null ? "no state" : "its state says offline"})` });
      } catch (err) {
        idle.push({ name, rssKb: null, anonKb: null, fileKb: null, peakKb: null, skipped: (err as Error).message.slice(0, 120) });
      } finally {
        await end(proc);
      }
    }
    const idleRssKb = idle[0]?.rssKb ?? null;
    const idlePeakRssKb = idle[0]?.peakKb ?? null;
    return { skipped: null, binaryBytes: statSync(bin).size, coldStartMs: times, coldStartMedianMs: median(times), versionMedianMs: median(versionTimes), idleRssKb, idlePeakRssKb, idle };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
