// Is the owner using this machine? Probes at the process boundary (nvidia-smi, Ollama's /api/ps,
// the input idle time) with pure parsers, and a hysteresis that pauses at once and resumes only
// after the machine has been free for a while, so a signal that flickers never makes us flap.
import { z } from "zod";
import { modelKey } from "../inference/model-name.ts";

export interface GpuApp {
  pid: number;
  name: string;
  usedMiB: number | null;
}

/**
 * `nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv,noheader` lines:
 * "1234, /usr/bin/python3, 2048 MiB". Unreadable lines are skipped (a newer driver's extra column
 * must not make us think the GPU is free, nor crash: the rest still count).
 */
export function parseNvidiaApps(csv: string): GpuApp[] {
  const out: GpuApp[] = [];
  for (const line of csv.split(/\r?\n/)) {
    const cols = line.split(",").map((c) => c.trim());
    if (cols.length < 2) continue;
    const pid = /^\d{1,10}$/.test(cols[0]!) ? Number(cols[0]) : NaN;
    if (!Number.isSafeInteger(pid) || pid <= 0) continue;
    const mem = /^(\d+)\s*MiB$/i.exec(cols[2] ?? "");
    out.push({ pid, name: cols[1]!, usedMiB: mem ? Number(mem[1]) : null });
  }
  return out;
}

/** Ollama's own runners (ollama, ollama_llama_server, "ollama runner") serve us, not the owner. */
const BACKEND = /(^|[\\/])ollama([_ .-]|$)|ollama_llama_server|llama-server/i;

/** The GPU processes that are someone else's: not our backend, not us, not on the ignore list. */
export function otherGpuApps(apps: GpuApp[], opts: { ownPids: number[]; ignore: string[] }): GpuApp[] {
  return apps.filter((a) => !opts.ownPids.includes(a.pid) && !BACKEND.test(a.name) && !opts.ignore.some((s) => a.name.includes(s)));
}

const PsResponse = z.object({ models: z.array(z.object({ name: z.string(), model: z.string().optional() })).default([]) });

/** /api/ps → the loaded models' names; throws on a body that isn't Ollama's. */
export function parseOllamaPs(body: unknown): string[] {
  return PsResponse.parse(body).models.map((m) => m.name);
}

/**
 * Loaded models this provider did not load: anything outside what it serves. (A model we serve
 * that the owner also uses can't be told apart through /api/ps; the GPU probe catches that case.)
 */
export function foreignModels(loaded: string[], served: string[]): string[] {
  const ours = new Set(served.map(modelKey));
  return loaded.filter((m) => !ours.has(modelKey(m)));
}

/** `xprintidle` prints the X11 idle time in ms (the screensaver extension). */
export function parseXprintidle(out: string): number | null {
  const t = out.trim();
  return /^\d{1,15}$/.test(t) ? Number(t) : null;
}

/** Why the machine looks busy, from one round of probes; null = free. Pure. */
export function busyReason(p: { gpuApps: GpuApp[] | null; foreign: string[] | null; idleMs: number | null; idleHint: boolean | null; idleSecs: number }): string | null {
  if (p.gpuApps?.length) {
    const a = p.gpuApps[0]!;
    const base = a.name.split(/[\\/]/).pop() || a.name;
    return `the GPU is in use by ${base}${p.gpuApps.length > 1 ? ` and ${p.gpuApps.length - 1} more` : ""}`;
  }
  if (p.foreign?.length) return `Ollama has ${p.foreign.join(", ")} loaded for another client`;
  if (p.idleSecs > 0) {
    if (p.idleMs !== null && p.idleMs < p.idleSecs * 1000) return "the owner is at the keyboard";
    if (p.idleMs === null && p.idleHint === false) return "the owner is at the keyboard";
  }
  return null;
}

/**
 * Pause at once when busy; resume after `holdMs` of uninterrupted free readings. Each busy
 * reading restarts the hold, so a signal toggling faster than the hold keeps us paused.
 */
export class Hysteresis {
  private reason: string | null = null;
  private freeSince: number | null = null;

  constructor(private readonly holdMs: () => number) {}

  update(busy: string | null, now: number): string | null {
    if (busy) {
      this.reason = busy;
      this.freeSince = null;
    } else if (this.reason !== null) {
      this.freeSince ??= now;
      if (now - this.freeSince >= this.holdMs()) {
        this.reason = null;
        this.freeSince = null;
      }
    }
    return this.reason;
  }

  paused(): string | null {
    return this.reason;
  }

  /** Ends a pause at once (the owner switched pausing off). */
  reset(): void {
    this.reason = null;
    this.freeSince = null;
  }

  /** When a pause would end if nothing busy is seen again (null: not paused, or still busy). */
  resumesAt(): number | null {
    return this.reason !== null && this.freeSince !== null ? this.freeSince + this.holdMs() : null;
  }
}

async function run(argv: string[], timeoutMs: number): Promise<string | null> {
  // PATH as it is now (Bun.which and spawn would otherwise use the PATH the process started with).
  const exe = Bun.which(argv[0]!, { PATH: process.env.PATH ?? "" });
  if (!exe) return null;
  try {
    const p = Bun.spawn([exe, ...argv.slice(1)], { env: process.env, stdin: "ignore", stdout: "pipe", stderr: "ignore", timeout: timeoutMs });
    const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
    return code === 0 ? out : null;
  } catch {
    return null;
  }
}

/** null when there is no NVIDIA tool (or it fails): no reading, not "free". */
export async function probeNvidia(timeoutMs = 5000): Promise<GpuApp[] | null> {
  const out = await run(["nvidia-smi", "--query-compute-apps=pid,process_name,used_memory", "--format=csv,noheader"], timeoutMs);
  return out === null ? null : parseNvidiaApps(out);
}

export async function probeOllamaPs(baseUrl: string, timeoutMs = 5000): Promise<string[] | null> {
  try {
    const res = await fetch(new URL("/api/ps", baseUrl), { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return null;
    return parseOllamaPs(await res.json());
  } catch {
    return null;
  }
}

/** Input idle time: X11 (xprintidle, when DISPLAY is set), else logind's IdleHint of the session. */
export async function probeIdle(timeoutMs = 3000): Promise<{ idleMs: number | null; idleHint: boolean | null }> {
  if (process.env.DISPLAY) {
    const out = await run(["xprintidle"], timeoutMs);
    const ms = out === null ? null : parseXprintidle(out);
    if (ms !== null) return { idleMs: ms, idleHint: null };
  }
  const session = process.env.XDG_SESSION_ID;
  if (session) {
    const out = await run(["loginctl", "show-session", session, "-p", "IdleHint", "--value"], timeoutMs);
    if (out?.trim() === "yes") return { idleMs: null, idleHint: true };
    if (out?.trim() === "no") return { idleMs: null, idleHint: false };
  }
  return { idleMs: null, idleHint: null };
}
