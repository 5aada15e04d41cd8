// The compiled binary: spawn → first 200 on /healthz (with an identity in the data dir and the
// vault password in the environment, as a headless service runs), idle memory after 3 s, and the
// sizes people download (binary, gzipped dashboard bundle). Everything stays on 127.0.0.1: the
// binary is pointed at the bench's relay and fake Ollama.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateMnemonic } from "@scure/bip39";
import { wordlist } from "@scure/bip39/wordlists/english.js";
import { freePort, median, procStatusKb } from "./util.ts";

export interface StartupResult {
  skipped: string | null;
  binaryBytes: number | null;
  coldStartMs: number[];
  coldStartMedianMs: number | null;
  /** `compute --version`, spawn → exit, median: runtime start plus loading the bundle, nothing else. */
  versionMedianMs: number | null;
  idleRssKb: number | null;
  idlePeakRssKb: number | null;
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

export async function startup(bin: string, relayUrl: string, ollamaUrl: string, runs = 10): Promise<StartupResult> {
  const empty: StartupResult = { skipped: null, binaryBytes: null, coldStartMs: [], coldStartMedianMs: null, versionMedianMs: null, idleRssKb: null, idlePeakRssKb: null };
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
  const spawn = (port: number) =>
    Bun.spawn([bin, "--headless", "--port", String(port), "--relay", relayUrl, "--ollama-url", ollamaUrl], { cwd: dir, env, stdout: "ignore", stderr: "ignore" });
  const end = async (proc: Bun.Subprocess) => {
    proc.kill("SIGTERM");
    const killer = setTimeout(() => proc.kill("SIGKILL"), 5000);
    await proc.exited;
    clearTimeout(killer);
  };
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
    const port = freePort();
    const proc = spawn(port);
    let idleRssKb: number | null = null;
    let idlePeakRssKb: number | null = null;
    try {
      await waitHealthy(port, proc, 10_000);
      await Bun.sleep(3000);
      idleRssKb = procStatusKb(proc.pid, "VmRSS");
      idlePeakRssKb = procStatusKb(proc.pid, "VmHWM");
    } finally {
      await end(proc);
    }
    return { skipped: null, binaryBytes: statSync(bin).size, coldStartMs: times, coldStartMedianMs: median(times), versionMedianMs: median(versionTimes), idleRssKb, idlePeakRssKb };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
