// The app's side of the window process (src/window/window.ts) with real child processes standing
// in for the webview, and `compute window` refusing what it must refuse. The real window, under
// Xvfb with the compiled binary, is in test/build/binary.test.ts.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnWindow, superviseWindow, windowEnv, MAX_REOPENS } from "../../src/window/window.ts";

const INDEX = join(import.meta.dir, "../../src/index.ts");
const URL_WITH_TOKEN = "http://127.0.0.1:1/?token=0123456789abcdef0123456789abcdef";

function computeWindow(stdin: string, args: string[] = []) {
  const r = Bun.spawnSync(["bun", INDEX, "window", ...args], { stdin: Buffer.from(stdin), env: { ...process.env, DISPLAY: ":9999" } });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

describe("compute window (the command)", () => {
  test("is not in the main help but has its own", () => {
    const help = Bun.spawnSync(["bun", INDEX, "--help"]).stdout.toString();
    expect(help).not.toMatch(/^\s+compute window/m);
    expect(computeWindow("", ["--help"]).out).toContain("Internal: compute starts this itself");
  });

  test("an attacker feeding it a file: URL gets a refusal, not a window on a local file", () => {
    const r = computeWindow(JSON.stringify({ url: "file:///etc/passwd", title: "x", width: 800, height: 600 }) + "\n");
    expect(r.code).toBe(1);
    expect(r.err).toContain("must be http(s)");
  });

  test("garbage, an empty stdin or arguments are refused with a clear sentence", () => {
    expect(computeWindow("{not json\n").err).toContain("not JSON");
    expect(computeWindow("").err).toContain("no request on stdin");
    expect(computeWindow(JSON.stringify({ url: "http://127.0.0.1:1/", title: "x", width: 5, height: 600 }) + "\n").err).toContain("width");
    const withArg = computeWindow("", [URL_WITH_TOKEN]);
    expect(withArg.code).toBe(2);
    expect(withArg.err).toContain("takes no arguments");
  });
});

describe("the window process from the app's side", () => {
  test("the URL with its token goes over stdin as one JSON line, not argv", async () => {
    const dir = mkdtempSync(join(tmpdir(), "compute-win-"));
    const win = spawnWindow(URL_WITH_TOKEN, ["sh", "-c", `read line; printf '%s' "$line" > "${dir}/got"; exit 0`]);
    expect(await win.exited).toEqual({ code: 0, signal: null });
    expect(JSON.parse(readFileSync(join(dir, "got"), "utf8"))).toEqual({ url: URL_WITH_TOKEN, title: "Compute", width: 1100, height: 760 });
  });

  test("close() ends the pipe (the window exits by itself), or kills a window that ignores it", async () => {
    const polite = spawnWindow(URL_WITH_TOKEN, ["sh", "-c", "cat > /dev/null; exit 0"]);
    expect(await polite.close()).toEqual({ code: 0, signal: null });
    const stubborn = spawnWindow(URL_WITH_TOKEN, ["sh", "-c", "trap '' TERM; cat > /dev/null; exec sleep 30"]);
    const t0 = Date.now();
    expect(await stubborn.close()).toEqual({ code: null, signal: "SIGKILL" });
    expect(Date.now() - t0).toBeLessThan(6000);
  });

  test("the window's environment loses the app's secrets and keeps the display", () => {
    const env = windowEnv({ DISPLAY: ":1", LANG: "C", COMPUTE_PASSWORD: "pw", BREEZ_API_KEY: "k", COMPUTE_DATA_DIR: "/d", SOME_TOKEN: "t" });
    expect(env).toEqual({ DISPLAY: ":1", LANG: "C", COMPUTE_DATA_DIR: "/d" });
  });

  test("closing the window (exit 0) ends supervision as 'closed'", async () => {
    const said: string[] = [];
    const how = await superviseWindow(URL_WITH_TOKEN, { stop: new Promise(() => {}), say: (l) => said.push(l), spawn: (u) => spawnWindow(u, ["sh", "-c", "exit 0"]) });
    expect(how).toBe("closed");
    expect(said).toEqual([]);
  });

  test("a crashing window is reopened a bounded number of times, then the app serves on and says where", async () => {
    const said: string[] = [];
    let spawned = 0;
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    const supervision = superviseWindow(URL_WITH_TOKEN, {
      stop: stopped,
      say: (l) => said.push(l),
      spawn: (u) => (spawned++, spawnWindow(u, ["sh", "-c", "exit 3"])),
      maxReopens: 2,
    });
    for (let i = 0; i < 100 && said.length < 3; i++) await Bun.sleep(50);
    expect(spawned).toBe(3); // the first window and 2 reopens
    expect(said[0]).toBe("the window exited with code 3; the services keep running. Reopening it (1 of 2)…");
    expect(said[2]).toContain("again; the services keep running without it. Dashboard: " + URL_WITH_TOKEN);
    await Bun.sleep(700);
    expect(spawned).toBe(3); // no fourth
    stop();
    expect(await supervision).toBe("stopped");
    expect(MAX_REOPENS).toBe(3);
  });

  test("a signal while the window is open closes the window and ends supervision as 'stopped'", async () => {
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    let pid = 0;
    const supervision = superviseWindow(URL_WITH_TOKEN, {
      stop: stopped,
      say: () => {},
      spawn: (u) => {
        const w = spawnWindow(u, ["sh", "-c", "cat > /dev/null; exit 0"]);
        pid = w.pid;
        return w;
      },
    });
    await Bun.sleep(200);
    stop();
    expect(await supervision).toBe("stopped");
    expect(() => process.kill(pid, 0)).toThrow();
  });
});

describe("a window process that dies before reading its request", () => {
  test("the broken pipe (EPIPE) of the request never surfaces as an unhandled error; the exit is reported", async () => {
    const unhandled: unknown[] = [];
    const onRejection = (e: unknown) => unhandled.push(e);
    const onException = (e: unknown) => unhandled.push(e);
    process.on("unhandledRejection", onRejection);
    process.on("uncaughtException", onException);
    try {
      // The request is flushed asynchronously; a child that exits at once has often closed the
      // pipe by then (EPIPE). Many quick children make that happen in every run here.
      for (let i = 0; i < 150; i++) {
        const w = spawnWindow(URL_WITH_TOKEN, ["false"]);
        expect(await w.exited).toEqual({ code: 1, signal: null });
        await w.close();
      }
      await Bun.sleep(100);
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onRejection);
      process.off("uncaughtException", onException);
    }
  });
});
