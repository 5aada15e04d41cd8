import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { AppError } from "../../src/errors.ts";
import { InstanceLock, lockPath, readLock } from "../../src/util/lock.ts";

const root = mkdtempSync(join(tmpdir(), "compute-lock-"));
const children: Bun.Subprocess[] = [];
afterAll(() => {
  for (const c of children) c.kill("SIGKILL");
  rmSync(root, { recursive: true, force: true });
});
let n = 0;
const dir = () => join(root, `d${++n}`);
const LOCK_TS = resolve(import.meta.dir, "../../src/util/lock.ts");

function conflictOf(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe("conflict");
    return err as AppError;
  }
  throw new Error("expected a conflict");
}

/** The pid of a process that has exited: spawn one and wait for it. */
async function deadPid(): Promise<number> {
  const p = Bun.spawn(["bun", "-e", ""], { stdout: "ignore", stderr: "ignore" });
  await p.exited;
  return p.pid;
}

/**
 * Starts `bun -e` that acquires the lock on `d`, prints "held" and holds it until killed. With
 * `dropHandle` it lets go of its InstanceLock and collects garbage twice before saying "held".
 */
async function holder(d: string, opts: { dropHandle?: boolean } = {}): Promise<Bun.Subprocess<"ignore", "pipe", "pipe">> {
  const take = opts.dropHandle
    ? `(() => { InstanceLock.acquire(${JSON.stringify(d)}).publish("http://127.0.0.1:1", "tok"); })();
       Bun.gc(true); await Bun.sleep(50); Bun.gc(true);`
    : `const lock = InstanceLock.acquire(${JSON.stringify(d)});
       lock.publish("http://127.0.0.1:1", "tok");`;
  const script = `
    import { InstanceLock } from ${JSON.stringify(LOCK_TS)};
    ${take}
    console.log("held");
    setInterval(() => {}, 1000);
  `;
  const p = Bun.spawn(["bun", "-e", script], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  children.push(p);
  const reader = p.stdout.getReader();
  const timeout = setTimeout(() => p.kill("SIGKILL"), 10_000);
  let out = "";
  while (!out.includes("held")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`holder exited: ${await new Response(p.stderr).text()}`);
    out += new TextDecoder().decode(value);
  }
  clearTimeout(timeout);
  reader.releaseLock();
  return p;
}

describe("InstanceLock", () => {
  test("acquire writes our pid, 0600; readLock sees it; release removes it", () => {
    const d = dir();
    const lock = InstanceLock.acquire(d);
    const info = readLock(d);
    expect(info).toMatchObject({ pid: process.pid, url: null, token: null });
    expect(typeof info!.startedAt).toBe("number");
    if (process.platform !== "win32") expect(statSync(lockPath(d)).mode & 0o777).toBe(0o600);
    expect(lock.isHeld).toBe(true);
    lock.release();
    expect(existsSync(lockPath(d))).toBe(false);
    expect(readLock(d)).toBeNull();
    lock.release(); // idempotent
    expect(readdirSync(d).filter((f) => !f.startsWith("compute.lock.db"))).toEqual([]);
  });

  test("publish records url and token; after release publish does nothing", () => {
    const d = dir();
    const lock = InstanceLock.acquire(d);
    lock.publish("http://127.0.0.1:4567", "secret-token");
    expect(readLock(d)).toMatchObject({ pid: process.pid, url: "http://127.0.0.1:4567", token: "secret-token" });
    if (process.platform !== "win32") expect(statSync(lockPath(d)).mode & 0o777).toBe(0o600);
    lock.release();
    lock.publish("http://127.0.0.1:4567", "secret-token");
    expect(existsSync(lockPath(d))).toBe(false);
    expect(readdirSync(d).filter((f) => !f.startsWith("compute.lock.db"))).toEqual([]);
  });

  test("a second acquire in the same process is a conflict until release", () => {
    const d = dir();
    const lock = InstanceLock.acquire(d);
    const e = conflictOf(() => InstanceLock.acquire(d));
    expect(e.data.pid).toBe(process.pid);
    // Same dir through a different spelling of the path.
    conflictOf(() => InstanceLock.acquire(relative(process.cwd(), d)));
    lock.release();
    InstanceLock.acquire(d).release();
  });

  test("a lock held by another live process is a conflict naming its pid and url", async () => {
    const d = dir();
    const child = await holder(d);
    const e = conflictOf(() => InstanceLock.acquire(d));
    expect(e.message).toContain(`pid ${child.pid}`);
    expect(e.message).toContain("http://127.0.0.1:1");
    expect(e.data).toEqual({ pid: child.pid, url: "http://127.0.0.1:1" });
    expect(readLock(d)).toMatchObject({ pid: child.pid, url: "http://127.0.0.1:1", token: "tok" });
    // The refused acquire left the holder's lock alone.
    expect(JSON.parse(readFileSync(lockPath(d), "utf8")).pid).toBe(child.pid);

    // Kill it without cleanup: its lock is now stale and is taken over.
    child.kill("SIGKILL");
    await child.exited;
    expect(existsSync(lockPath(d))).toBe(true);
    expect(readLock(d)).toBeNull();
    const lock = InstanceLock.acquire(d);
    expect(readLock(d)?.pid).toBe(process.pid);
    lock.release();
  });

  test("a process that lets go of its InstanceLock still holds the lock (garbage collection doesn't release it)", async () => {
    // Found by the racing test below: a collected SQLite handle closed itself and let a second
    // process in while the first still ran.
    const d = dir();
    const p = await holder(d, { dropHandle: true });
    const err = conflictOf(() => InstanceLock.acquire(d));
    expect(err.message).toContain(`pid ${p.pid}`);
    p.kill("SIGKILL");
    await p.exited;
    InstanceLock.acquire(d).release();
  });

  test("a stale lock from a dead pid is taken over", async () => {
    const d = dir();
    mkdirSync(d, { recursive: true });
    const pid = await deadPid();
    writeFileSync(lockPath(d), JSON.stringify({ pid, startedAt: 1, url: "http://127.0.0.1:9", token: "old" }));
    expect(readLock(d)).toBeNull();
    const lock = InstanceLock.acquire(d);
    expect(readLock(d)).toMatchObject({ pid: process.pid, url: null, token: null });
    lock.release();
    expect(readdirSync(d).filter((f) => !f.startsWith("compute.lock.db"))).toEqual([]);
  });

  test("garbage and impossible pids in the lock file count as stale", () => {
    for (const body of ["", "{", "null", JSON.stringify({ pid: 0, startedAt: 1, url: null, token: null }), JSON.stringify({ pid: -1, startedAt: 1, url: null, token: null }), JSON.stringify({ pid: "1" })]) {
      const d = dir();
      mkdirSync(d, { recursive: true });
      writeFileSync(lockPath(d), body);
      expect(readLock(d)).toBeNull();
      const lock = InstanceLock.acquire(d);
      expect(readLock(d)?.pid).toBe(process.pid);
      lock.release();
    }
  });

  test("release leaves a lock that is no longer ours", async () => {
    const d = dir();
    const lock = InstanceLock.acquire(d);
    const child = await (async () => {
      // Simulate a takeover by another process: rewrite the file with a live foreign pid.
      const p = Bun.spawn(["bun", "-e", "setInterval(() => {}, 1000)"], { stdout: "ignore", stderr: "ignore" });
      children.push(p);
      return p;
    })();
    writeFileSync(lockPath(d), JSON.stringify({ pid: child.pid, startedAt: 1, url: null, token: null }));
    lock.release();
    expect(readLock(d)?.pid).toBe(child.pid);
    child.kill("SIGKILL");
    await child.exited;
  });

  test("processes racing for one stale lock: exactly one wins", async () => {
    const d = dir();
    mkdirSync(d, { recursive: true });
    writeFileSync(lockPath(d), JSON.stringify({ pid: await deadPid(), startedAt: 1, url: null, token: null }));
    const go = join(root, `go-${n}`);
    // Each child says "ready", waits for the go file, tries once, reports, and then holds on
    // (winner included) until killed, so a slow starter can't find the winner already gone.
    const script = `
      import { existsSync } from "node:fs";
      import { InstanceLock } from ${JSON.stringify(LOCK_TS)};
      console.log("ready");
      while (!existsSync(${JSON.stringify(go)})) await Bun.sleep(1);
      try {
        InstanceLock.acquire(${JSON.stringify(d)});
        console.log("won");
      } catch (e) {
        console.log(e.code === "conflict" ? "lost" : "error " + e.message);
        console.error(e.message);
      }
      setInterval(() => {}, 1000);
    `;
    const procs = Array.from({ length: 5 }, () => Bun.spawn(["bun", "-e", script], { stdout: "pipe", stderr: "pipe" }));
    children.push(...procs);
    const readers = procs.map((p) => ({ reader: p.stdout.getReader(), text: "" }));
    const until = async (word: RegExp) =>
      Promise.all(
        readers.map(async (r) => {
          const deadline = Date.now() + 12_000;
          while (!word.test(r.text)) {
            if (Date.now() > deadline) throw new Error(`child said only ${JSON.stringify(r.text)}`);
            const { value, done } = await r.reader.read();
            if (done) throw new Error(`child exited after ${JSON.stringify(r.text)}`);
            r.text += new TextDecoder().decode(value);
          }
        }),
      );
    await until(/ready/);
    writeFileSync(go, "");
    await until(/won|lost|error/);
    const outs = readers.map((r) => r.text.replace("ready", "").trim());
    for (const p of procs) p.kill("SIGKILL");
    await Promise.all(procs.map((p) => p.exited));
    expect(outs.sort()).toEqual(["lost", "lost", "lost", "lost", "won"]);
    // The winner was killed without releasing: its lock is stale now, and no temp files were left.
    expect(readdirSync(d).filter((f) => !f.startsWith("compute.lock.db"))).toEqual(["compute.lock"]);
    expect(readLock(d)).toBeNull();
  }, 15_000);
});
