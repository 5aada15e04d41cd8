// The app's side of the native window. The window is a process of its own: the same binary started
// as `compute window`, so the webview runs on that process's main thread (macOS's AppKit creates
// windows only there; a webview in a Worker stalls on a Mac). The services and the HTTP server stay
// in the app; the window is only an HTTP client of it.
//
// The dashboard URL with its token goes to the window process as one JSON line on its stdin, never
// in argv (every user sees argv in `ps`) nor in its environment. The pipe then stays open: its end
// is how the window process knows the app is gone (exited, crashed, killed) and closes itself.
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { AppError } from "../errors.ts";
import { createLogger } from "../log.ts";

const log = createLogger("window");

export const WINDOW_TITLE = "Compute";
export const WINDOW_SIZE = { width: 1100, height: 760 };

/** How often the window is reopened after its process crashed, within REOPEN_PERIOD_MS. */
export const MAX_REOPENS = 3;
export const REOPEN_PERIOD_MS = 10 * 60_000;

export function displayAvailable(env: NodeJS.ProcessEnv = process.env, platform = process.platform): boolean {
  if (platform === "linux" || platform === "freebsd") return Boolean(env.DISPLAY || env.WAYLAND_DISPLAY);
  return true;
}

export function assertDisplay(): void {
  if (!displayAvailable()) {
    throw new AppError("unavailable", "No display is available for the window; run `compute --headless` to serve the dashboard on localhost instead.");
  }
}

/** What the app writes to the window process's stdin: one JSON line. */
export const WindowRequest = z.object({
  url: z
    .string()
    .max(4096)
    .url()
    .refine((u) => /^https?:\/\//.test(u), "the dashboard URL must be http(s)"),
  title: z.string().min(1).max(200),
  width: z.number().int().min(200).max(20_000),
  height: z.number().int().min(200).max(20_000),
});
export type WindowRequest = z.infer<typeof WindowRequest>;

/** The command that starts the window process: the running binary itself, or bun on src/index.ts. */
export function windowCommand(): string[] {
  if (process.env.COMPUTE_COMPILED) return [process.execPath, "window"];
  return [process.execPath, fileURLToPath(new URL("../index.ts", import.meta.url)), "window"];
}

// The window needs the display and the locale, not the app's secrets.
const SECRET_ENV = /passw|secret|token|mnemonic|seed|nsec|api_?key|private/i;

/** The environment of the window process: the app's, less anything that looks secret. */
export function windowEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !SECRET_ENV.test(k)) out[k] = v;
  return out;
}

export interface WindowExit {
  code: number | null;
  signal: string | null;
}

export interface WindowProcess {
  pid: number;
  /** Settles when the window process ends: code 0 means the person closed the window. */
  exited: Promise<WindowExit>;
  /** Closes the window (ends its stdin; kills it if it has not gone within 3 s). */
  close(): Promise<WindowExit>;
}

/** Runs a pipe operation whose failure (sync or async) means only that the other end is gone. */
function ignoreFailure(op: () => unknown): void {
  try {
    const r = op();
    if (r instanceof Promise) r.catch(() => {});
  } catch {}
}

/** Starts a window process showing `url` (`command`: another program in its place, for tests). */
export function spawnWindow(url: string, command?: string[]): WindowProcess {
  if (!command) assertDisplay();
  const request: WindowRequest = WindowRequest.parse({ url, title: WINDOW_TITLE, ...WINDOW_SIZE });
  const proc = Bun.spawn(command ?? windowCommand(), { stdin: "pipe", stdout: "inherit", stderr: "inherit", env: windowEnv() });
  // A window process that ends at once (a crash at start) closes the pipe: the write or flush
  // then fails with EPIPE. That end is reported through `exited`; the failed write is not news.
  ignoreFailure(() => {
    proc.stdin.write(JSON.stringify(request) + "\n");
    return proc.stdin.flush();
  });
  const exited = proc.exited.then((code): WindowExit => (proc.signalCode ? { code: null, signal: String(proc.signalCode) } : { code, signal: null }));
  log.info("window process started", { pid: proc.pid });
  let closing: Promise<WindowExit> | null = null;
  return {
    pid: proc.pid,
    exited,
    close: () =>
      (closing ??= (async () => {
        ignoreFailure(() => proc.stdin.end());
        const killer = setTimeout(() => proc.kill("SIGKILL"), 3000);
        const r = await exited;
        clearTimeout(killer);
        return r;
      })()),
  };
}

const describeExit = (r: WindowExit) => (r.signal ? `was killed (${r.signal})` : `exited with code ${r.code}`);

/**
 * Keeps the app's window open until the person closes it ("closed": the app then stops) or `stop`
 * settles ("stopped": a signal; the window is closed). A crash of the window process (any end but
 * exit code 0) is logged and the window reopened, at most MAX_REOPENS times in REOPEN_PERIOD_MS;
 * after that the app keeps serving without a window and says where the dashboard is.
 */
export async function superviseWindow(
  url: string,
  opts: { stop: Promise<unknown>; say: (line: string) => void; spawn?: (url: string) => WindowProcess; maxReopens?: number; periodMs?: number },
): Promise<"closed" | "stopped"> {
  const spawn = opts.spawn ?? spawnWindow;
  const maxReopens = opts.maxReopens ?? MAX_REOPENS;
  const periodMs = opts.periodMs ?? REOPEN_PERIOD_MS;
  const stop = opts.stop.then(() => "stop" as const);
  const crashes: number[] = [];
  for (;;) {
    const win = spawn(url);
    const r = await Promise.race([win.exited, stop]);
    if (r === "stop") {
      await win.close();
      return "stopped";
    }
    if (r.code === 0) return "closed";
    log.error("window process crashed", { pid: win.pid, code: r.code, signal: r.signal });
    const now = Date.now();
    crashes.push(now);
    while (crashes[0]! < now - periodMs) crashes.shift();
    if (crashes.length <= maxReopens) {
      opts.say(`the window ${describeExit(r)}; the services keep running. Reopening it (${crashes.length} of ${maxReopens})…`);
      if ((await Promise.race([Bun.sleep(500), stop])) === "stop") return "stopped";
      continue;
    }
    opts.say(
      `the window ${describeExit(r)} again; the services keep running without it. Dashboard: ${url} — ` +
        "run `compute` again to open a window on this one; Ctrl+C stops it.",
    );
    await stop;
    return "stopped";
  }
}

/**
 * A second `compute` on a data dir that already runs: a window on the running instance. Returns the
 * exit code: 0 when the window was closed (or `stop` settled), 1 when its process crashed.
 */
export async function windowOnRunning(url: string, opts: { stop: Promise<unknown>; say: (line: string) => void }): Promise<number> {
  const win = spawnWindow(url);
  const r = await Promise.race([win.exited, opts.stop.then(() => "stop" as const)]);
  if (r === "stop") {
    await win.close();
    return 0;
  }
  if (r.code === 0) return 0;
  log.error("window process crashed", { pid: win.pid, code: r.code, signal: r.signal });
  opts.say(`the window ${describeExit(r)}; the running compute is not affected. Run \`compute\` again to reopen it.`);
  return 1;
}
