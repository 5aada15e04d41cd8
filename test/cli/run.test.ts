// `compute --headless` as a real subprocess: start, serve, report through status, refuse a second
// instance, stop on SIGTERM. Ollama and relays point at closed local ports: nothing leaves 127.0.0.1.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { closedPort } from "../fixtures/common.ts";

const REPO = resolve(import.meta.dir, "../..");
const root = mkdtempSync(join(tmpdir(), "compute-cli-run-"));
const procs: Bun.Subprocess[] = [];
afterAll(() => {
  for (const p of procs) p.kill("SIGKILL");
  rmSync(root, { recursive: true, force: true });
});
let n = 0;
const newDir = () => join(root, `d${++n}`);

const MNEMONIC = "leader monkey parrot ring guide accident before fence cannon height naive bean";
const NPUB = "npub1zutzeysacnf9rru6zqwmxd54mud0k44tst6l70ja5mhv8jjumytsd2x7nu";
const PASSWORD = "correct horse battery";

const DEAD = closedPort();
const OFFLINE = ["--ollama-url", `http://127.0.0.1:${DEAD}`, "--relay", `ws://127.0.0.1:${DEAD}`];

function env(dataDir: string, password?: string): Record<string, string | undefined> {
  const e: Record<string, string | undefined> = { ...process.env, COMPUTE_DATA_DIR: dataDir, COMPUTE_LOG_LEVEL: "error" };
  delete e.COMPUTE_PASSWORD;
  if (password !== undefined) e.COMPUTE_PASSWORD = password;
  return e;
}

function spawn(args: string[], dataDir: string, password?: string, stdin?: string) {
  const p = Bun.spawn(["bun", "src/index.ts", ...args], {
    cwd: REPO,
    env: env(dataDir, password),
    stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin),
    stdout: "pipe",
    stderr: "pipe",
    timeout: 15_000,
  });
  procs.push(p);
  return p;
}

async function cli(args: string[], dataDir: string, password?: string, stdin?: string) {
  const p = spawn(args, dataDir, password, stdin);
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

/** Reads stdout until `re` matches; fails with stderr if the process exits first. */
async function waitFor(p: Bun.Subprocess<"ignore" | Uint8Array, "pipe", "pipe">, re: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
  const reader = p.stdout.getReader();
  const dec = new TextDecoder();
  let out = "";
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const m = out.match(re);
      if (m) return m;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${re}; stdout: ${out}`);
      const r = await Promise.race([reader.read(), Bun.sleep(left).then(() => null)]);
      if (r === null) continue;
      if (r.done) throw new Error(`exited (${await p.exited}) before ${re}; stdout: ${out}; stderr: ${await new Response(p.stderr).text()}`);
      out += dec.decode(r.value, { stream: true });
    }
  } finally {
    reader.releaseLock();
  }
}

describe("compute --headless", () => {
  test("without an identity: exit 1 saying to run compute init", async () => {
    const r = await cli(["--headless", "--port", "0", ...OFFLINE], newDir(), PASSWORD);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^compute: .*run `compute init`.*\.$/);
    expect(r.stderr.trim().split("\n").length).toBe(1);
  });

  describe("with an identity", () => {
    const d = newDir();
    beforeAll(async () => {
      const r = await cli(["init", "--import"], d, PASSWORD, MNEMONIC);
      expect(r.code).toBe(0);
    });

    test("--host other than loopback: a warning on stderr, and it still serves", async () => {
      const p = spawn(["--headless", "--host", "0.0.0.0", "--port", "0", ...OFFLINE], d, PASSWORD);
      const [, url] = await waitFor(p, /Dashboard: (http:\/\/\S+)/);
      expect((await fetch(url!.replace(/\/\?token=.*$/, "/healthz"))).status).toBe(200);
      p.kill("SIGTERM");
      expect(await p.exited).toBe(0);
      expect(await new Response(p.stderr).text()).toContain("WARNING: the dashboard and API listen on 0.0.0.0");
    });

    test("no password and no terminal: exit 2", async () => {
      const r = await cli(["--headless", "--port", "0", ...OFFLINE], d);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("COMPUTE_PASSWORD");
    });

    test("a wrong password: exit 1, nothing left running", async () => {
      const r = await cli(["--headless", "--port", "0", ...OFFLINE], d, "not the password");
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toMatch(/^compute: .*password/);
      expect(existsSync(join(d, "compute.lock"))).toBe(false);
    });

    test("runs, serves, shows in status, refuses a second instance, stops on SIGTERM", async () => {
      const status0 = await cli(["status", "--json", ...OFFLINE], d);
      expect(status0.code).toBe(0);
      expect(JSON.parse(status0.stdout)).toMatchObject({ running: false, identity: "locked", npub: NPUB, ollama: { reachable: false } });

      const p = spawn(["--headless", "--port", "0", ...OFFLINE], d, PASSWORD);
      const m = await waitFor(p, /Dashboard: (http:\/\/127\.0\.0\.1:(\d+))\/\?token=([0-9a-f]{64})/);
      const [, base, , token] = m;

      const health = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(5000) });
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ ok: true });
      expect((await fetch(`${base}/api/state`, { signal: AbortSignal.timeout(5000) })).status).toBe(401);
      const state = await fetch(`${base}/api/state`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5000) });
      expect(state.status).toBe(200);
      const snap = (await state.json()) as { identity: { state: string; npub: string }; relays: Array<{ url: string }>; ollama: { url: string } };
      expect(snap.identity).toEqual({ state: "unlocked", npub: NPUB });
      expect(snap.relays.map((r) => r.url)).toEqual([`ws://127.0.0.1:${DEAD}`]);
      expect(snap.ollama.url).toBe(`http://127.0.0.1:${DEAD}`);
      // The page trades the token for the cookie.
      const page = await fetch(`${base}/?token=${token}`, { redirect: "manual", signal: AbortSignal.timeout(5000) });
      expect(page.status).toBe(302);
      expect(page.headers.get("set-cookie")).toContain("HttpOnly");

      const st = await cli(["status", "--json"], d);
      expect(st.code).toBe(0);
      const s = JSON.parse(st.stdout);
      expect(s).toMatchObject({ running: true, pid: p.pid, dashboard: base, identity: "unlocked", npub: NPUB });
      expect(st.stdout).not.toContain(token);

      const plain = await cli(["status"], d);
      expect(plain.stdout).toContain(`running (pid ${p.pid})`);

      // A second instance on the same data dir names the running pid.
      const second = await cli(["--headless", "--port", "0", ...OFFLINE], d, PASSWORD);
      expect(second.code).toBe(1);
      expect(second.stderr.trim()).toMatch(new RegExp(`^compute: .*pid ${p.pid}.*\\.$`));
      // init refuses to touch the identity while it runs.
      const init = await cli(["init", "--force"], d, PASSWORD);
      expect(init.code).toBe(1);
      expect(init.stderr).toContain(`pid ${p.pid}`);

      const t0 = Date.now();
      p.kill("SIGTERM");
      expect(await p.exited).toBe(0);
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(existsSync(join(d, "compute.lock"))).toBe(false);
      const after = await cli(["status", "--json", ...OFFLINE], d);
      expect(JSON.parse(after.stdout)).toMatchObject({ running: false, identity: "locked" });
    }, 20_000);

    test("a port in use is an error naming the port", async () => {
      const busy = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
      try {
        const r = await cli(["--headless", "--port", String(busy.port), ...OFFLINE], d, PASSWORD);
        expect(r.code).toBe(1);
        expect(r.stderr.trim()).toMatch(new RegExp(`^compute: .*${busy.port}.*\\.$`));
        expect(existsSync(join(d, "compute.lock"))).toBe(false);
      } finally {
        busy.stop(true);
      }
    });
  });
});
