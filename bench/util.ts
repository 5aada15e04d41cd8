// Small helpers shared by the benchmark sections: the machine description, percentiles and a
// plain-text table. Nothing here touches the network.
import { closeSync, fdatasyncSync, openSync, readFileSync } from "node:fs";
import { cpus, loadavg, release, totalmem } from "node:os";

export interface Machine {
  cpus: number;
  cpuModel: string;
  ramGiB: number;
  bun: string;
  os: string;
  /** 1-minute load average when the bench started: other work on the box skews the figures. */
  load1: number;
}

export function machine(): Machine {
  let cpuModel = cpus()[0]?.model ?? "unknown";
  try {
    // /proc/cpuinfo names the model even where os.cpus() is vague (containers, some VMs).
    const line = readFileSync("/proc/cpuinfo", "utf8")
      .split("\n")
      .find((l) => l.startsWith("model name"));
    if (line) cpuModel = line.split(":").slice(1).join(":").trim();
  } catch {}
  let n = navigator.hardwareConcurrency || cpus().length;
  const r = Bun.spawnSync(["nproc"], { stdout: "pipe", stderr: "ignore" });
  if (r.exitCode === 0) n = Number(r.stdout.toString().trim()) || n;
  return {
    cpus: n,
    cpuModel,
    ramGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    bun: Bun.version,
    os: `${process.platform}-${process.arch} ${release()}`,
    load1: Math.round(loadavg()[0]! * 100) / 100,
  };
}

/** Nearest-rank percentile of an unsorted list (p in 0..100); NaN for an empty list. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export const median = (values: number[]) => percentile(values, 50);

export function fmt(n: number | null | undefined, digits = 1): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "–";
  return n.toFixed(digits);
}

/** Left column left-aligned, the rest right-aligned: easy to read in a terminal and in Markdown. */
export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const cell = (s: string, i: number) => (i === 0 ? s.padEnd(widths[i]!) : s.padStart(widths[i]!));
  const line = (r: string[]) => `| ${r.map(cell).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : "-".repeat(w + 1) + ":")).join("|")}|`;
  return [line(head), rule, ...rows.map(line)].join("\n");
}

/** Reads a field (kB) of /proc/<pid>/status, e.g. VmRSS or VmHWM; null where there is no /proc. */
export function procStatusKb(pid: number | "self", field: "VmRSS" | "VmHWM" | "RssAnon" | "RssFile"): number | null {
  try {
    const m = readFileSync(`/proc/${pid}/status`, "utf8").match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** A port that was free a moment ago on 127.0.0.1 (for a child that must be told its port). */
export function freePort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

export function goal(met: boolean): string {
  return met ? "met" : "NOT met";
}

/**
 * Drops a file's pages from the page cache (fdatasync, then posix_fadvise DONTNEED), so a binary
 * started next is read from disk the way a fresh download or a reboot gives it. A file `bun build`
 * has just written sits in the cache in large pages, and a process mapping it was seen counting
 * ~18 MiB more resident than the same binary after a drop; both sides of a comparison are read
 * this way. Linux only; false where it could not be done (the figure is then taken as it is).
 */
export function dropPageCache(path: string): boolean {
  if (process.platform !== "linux") return false;
  let fd = -1;
  try {
    const { dlopen, FFIType } = require("bun:ffi") as typeof import("bun:ffi");
    const libc = dlopen("libc.so.6", { posix_fadvise: { args: [FFIType.i32, FFIType.i64, FFIType.i64, FFIType.i32], returns: FFIType.i32 } });
    fd = openSync(path, "r");
    fdatasyncSync(fd);
    const POSIX_FADV_DONTNEED = 4;
    const rc = libc.symbols.posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    libc.close();
    return rc === 0;
  } catch {
    return false;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}
