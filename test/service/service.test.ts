// `compute service`: the generated files as text, the systemd unit checked by systemd-analyze, and
// the unit's own ExecStart run for real (headless, online against the test relay and the Ollama
// test server) and stopped by SIGTERM. systemd's user manager and the Secret Service can't run in
// this container: `systemctl` and `secret-tool` are fake scripts on PATH, and the tests say so.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Vault } from "../../src/identity/vault.ts";
import { paths } from "../../src/paths.ts";
import { launchdPlist, systemdQuote, systemdUnit, windowsQuote, windowsTaskXml } from "../../src/service/units.ts";
import { checkPasswordFile } from "../../src/service/secrets.ts";
import { startOllamaServer, type FakeOllama } from "../fixtures/ollama-server.ts";
import { startRelay, type TestRelay } from "../fixtures/relay.ts";
import { until } from "../jobs/harness.ts";

const REPO = resolve(import.meta.dir, "../..");
const MNEMONIC = "leader monkey parrot ring guide accident before fence cannon height naive bean";
const PASSWORD = "service test password";
const root = mkdtempSync(join(tmpdir(), "compute-service-"));
const bin = join(root, "bin");
const procs: Bun.Subprocess[] = [];
let relay: TestRelay;
let fake: FakeOllama;

beforeAll(async () => {
  mkdirSync(bin);
  // Secret Service stand-in: keeps the secret in a file, records each call's arguments (never stdin).
  writeFileSync(
    join(bin, "secret-tool"),
    `#!/bin/sh\necho "$@" >> "$FAKE_DIR/secret-tool.calls"\ncase "$1" in\n  store) cat > "$FAKE_DIR/secret";;\n  lookup) [ -f "$FAKE_DIR/secret" ] || exit 1; cat "$FAKE_DIR/secret";;\n  clear) rm -f "$FAKE_DIR/secret";;\nesac\n`,
    { mode: 0o755 },
  );
  // systemd user manager stand-in: records what would be asked of it.
  writeFileSync(join(bin, "systemctl"), `#!/bin/sh\necho "$@" >> "$FAKE_DIR/systemctl.calls"\ncase "$*" in *is-enabled*) echo enabled;; *is-active*) echo active;; esac\n`, { mode: 0o755 });
  relay = await startRelay();
  fake = await startOllamaServer({ models: [{ name: "llama3.2" }], instant: true });
});
afterAll(async () => {
  for (const p of procs) p.kill("SIGKILL");
  await relay?.stop();
  await fake?.stop();
  rmSync(root, { recursive: true, force: true });
});

let n = 0;
async function newHome(opts: { secretTool?: boolean } = {}) {
  const home = join(root, `h${++n}`);
  const dataDir = join(home, "data");
  mkdirSync(dataDir, { recursive: true });
  await Vault.create(paths(dataDir).vault, { mnemonic: MNEMONIC, passphrase: "" }, PASSWORD, { scrypt: { N: 1024, r: 8, p: 1 } });
  writeFileSync(join(dataDir, "config.json"), JSON.stringify({ relays: [relay.url], ollamaUrl: fake.url, port: 0, network: "regtest", pricing: { mode: "free" } }));
  // PATH: the fakes first; without the secret-tool fake, a bin dir holding only systemctl.
  const fakes = opts.secretTool === false ? join(home, "bin") : bin;
  if (opts.secretTool === false) {
    mkdirSync(fakes);
    writeFileSync(join(fakes, "systemctl"), readFileSync(join(bin, "systemctl")), { mode: 0o755 });
  }
  const env: Record<string, string> = {
    PATH: `${fakes}:/usr/bin:/bin`,
    HOME: home,
    XDG_CONFIG_HOME: join(home, ".config"),
    FAKE_DIR: home,
    COMPUTE_DATA_DIR: dataDir,
    COMPUTE_LOG_LEVEL: "error",
  };
  return { home, dataDir, env, unit: join(home, ".config", "systemd", "user", "compute.service") };
}

async function cli(args: string[], env: Record<string, string>) {
  const p = Bun.spawn([process.execPath, "src/index.ts", ...args], { cwd: REPO, env, stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: 30_000 });
  procs.push(p);
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

/** ExecStart= split back into argv the way systemd does (quotes, backslashes, %% and $$). */
function execStart(unit: string): string[] {
  const line = unit.split("\n").find((l) => l.startsWith("ExecStart="))!.slice("ExecStart=".length);
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (const m of line.matchAll(re)) out.push((m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2]!).replace(/%%/g, "%").replace(/\$\$/g, "$"));
  return out;
}

async function verify(unitText: string, user: boolean): Promise<{ code: number; out: string }> {
  const dir = mkdtempSync(join(root, "verify-"));
  const file = join(dir, "compute.service");
  writeFileSync(file, unitText);
  const runtime = join(dir, "run");
  mkdirSync(runtime, { mode: 0o700 });
  // --user needs a runtime dir (there is no user session in a container); nothing else is faked.
  const p = Bun.spawn(["systemd-analyze", ...(user ? ["--user"] : []), "verify", file], { env: { ...process.env, XDG_RUNTIME_DIR: runtime }, stdout: "pipe", stderr: "pipe" });
  const [o, e, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out: (o + e).trim() };
}

describe("generated files (text)", () => {
  const spec = { exec: ["/opt/my apps/compute"], dataDir: "/home/a b/100%$HOME", password: { kind: "file" as const, path: "/home/a/pw \"x\"" } };

  test("systemd quoting: spaces, quotes, % and $ survive systemd's own splitting", () => {
    expect(systemdQuote("/usr/bin/compute")).toBe("/usr/bin/compute");
    expect(systemdQuote("a b")).toBe('"a b"');
    expect(systemdQuote("100%")).toBe("100%%");
    expect(execStart(systemdUnit(spec))).toEqual(["/opt/my apps/compute", "--headless", "--online", "--data-dir", "/home/a b/100%$HOME", "--password-from", 'file:/home/a/pw "x"']);
  });

  test("a path with a line break is refused (it would add a line to the unit)", () => {
    expect(() => systemdUnit({ ...spec, dataDir: "/x\nExecStartPre=/bin/rm -rf /" })).toThrow(/line break/);
  });

  test("systemd user unit: restart on failure with backoff, no Environment, default.target", () => {
    const u = systemdUnit(spec);
    expect(u).toMatch(/^Restart=on-failure$/m);
    expect(u).toMatch(/^RestartSec=\d+$/m);
    expect(u).toMatch(/^StartLimitBurst=\d+$/m);
    expect(u).toMatch(/^StartLimitIntervalSec=\d+$/m);
    expect(u).toMatch(/^WantedBy=default\.target$/m);
    expect(u).not.toMatch(/^Environment/m);
    expect(u).not.toMatch(/^User=/m);
  });

  test("launchd plist: arguments one per <string>, XML-escaped; restart when it fails", () => {
    const p = launchdPlist({ ...spec, logFile: "/Users/a/Library/Logs/compute/compute.log" });
    expect(p).toContain("<string>/opt/my apps/compute</string>");
    expect(p).toContain("<string>file:/home/a/pw &quot;x&quot;</string>");
    expect(p).toMatch(/<key>KeepAlive<\/key>\s*<dict>\s*<key>SuccessfulExit<\/key>\s*<false\/>/);
    expect(p).toMatch(/<key>RunAtLoad<\/key>\s*<true\/>/);
    expect(p).not.toContain("EnvironmentVariables");
  });

  test("Windows task: at log-on of the user, restart on failure, quoted command line, XML-escaped", () => {
    expect(windowsQuote("C:\\Program Files\\compute.exe")).toBe('"C:\\Program Files\\compute.exe"');
    expect(windowsQuote('a"b')).toBe('"a\\"b"');
    expect(windowsQuote("C:\\dir with space\\")).toBe('"C:\\dir with space\\\\"');
    const x = windowsTaskXml({ exec: ["C:\\Program Files\\compute\\compute.exe"], dataDir: "C:\\Users\\a b\\AppData\\Roaming\\compute", password: { kind: "secret-store" }, userId: "PC\\a&b", logFile: "C:\\Users\\a b\\AppData\\Local\\compute\\compute.log" });
    expect(x).toMatch(/<LogonTrigger>[\s\S]*<UserId>PC\\a&amp;b<\/UserId>/);
    expect(x).toContain("<RestartOnFailure>");
    expect(x).toContain("<ExecutionTimeLimit>PT0S</ExecutionTimeLimit>");
    expect(x).toContain(
      "<Arguments>/d /c &quot;&quot;C:\\Program Files\\compute\\compute.exe&quot; --headless --online --data-dir &quot;C:\\Users\\a b\\AppData\\Roaming\\compute&quot; --password-from secret-store &gt;&gt; &quot;C:\\Users\\a b\\AppData\\Local\\compute\\compute.log&quot; 2&gt;&amp;1&quot;</Arguments>",
    );
  });
});

describe("systemd-analyze verify", () => {
  test("the user unit and the system unit pass; a unit whose program is missing does not", async () => {
    const exec = [process.execPath, join(REPO, "src/index.ts")];
    const user = await verify(systemdUnit({ exec, dataDir: "/tmp/d", password: { kind: "secret-store" } }), true);
    expect(user).toEqual({ code: 0, out: "" });
    const system = await verify(systemdUnit({ exec, dataDir: "/var/lib/compute", password: { kind: "file", path: "/etc/compute/pw" }, system: { user: "compute" } }), false);
    expect(system).toEqual({ code: 0, out: "" });
    const broken = await verify(systemdUnit({ exec: ["/nonexistent/compute"], dataDir: "/tmp/d", password: { kind: "secret-store" } }), true);
    expect(broken.code).not.toBe(0);
    expect(broken.out).toContain("/nonexistent/compute");
  });
});

describe("password file", () => {
  test("0600 and ours: accepted; readable by group or others: refused naming chmod 600", () => {
    const f = join(root, "pw-mode");
    writeFileSync(f, PASSWORD + "\n", { mode: 0o600 });
    expect(() => checkPasswordFile(f)).not.toThrow();
    chmodSync(f, 0o640);
    expect(() => checkPasswordFile(f)).toThrow(/chmod 600/);
    chmodSync(f, 0o604);
    expect(() => checkPasswordFile(f)).toThrow(/can be read by others/);
  });

  test.skipIf(process.getuid?.() !== 0)("owned by another user (chowned to nobody): refused", () => {
    const f = join(root, "pw-owner");
    writeFileSync(f, PASSWORD, { mode: 0o600 });
    chownSync(f, 65534, 65534);
    expect(() => checkPasswordFile(f)).toThrow(/belongs to another user/);
  });
});

/** Runs the unit's ExecStart as systemd would (same argv, the unit has no environment of its own). */
function runExecStart(unitText: string, env: Record<string, string>) {
  const argv = execStart(unitText);
  const p = Bun.spawn(argv, { env, stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: 60_000 });
  procs.push(p);
  return p;
}

async function stateOf(dataDir: string): Promise<{ online: boolean } | null> {
  try {
    const lock = JSON.parse(readFileSync(join(dataDir, "compute.lock"), "utf8"));
    if (!lock.url || !lock.token) return null;
    const r = await fetch(`${lock.url}/api/state`, { headers: { authorization: `Bearer ${lock.token}` }, signal: AbortSignal.timeout(10_000) });
    return ((await r.json()) as { provider: { online: boolean } }).provider;
  } catch {
    return null;
  }
}

describe("compute service install (fake secret-tool and systemctl on PATH)", () => {
  test("secret store (fake secret-tool): password stored through stdin, unit names the store, ExecStart runs online for real and exits 0 on SIGTERM", async () => {
    const h = await newHome();
    const r = await cli(["service", "install"], { ...h.env, COMPUTE_PASSWORD: PASSWORD });
    expect(r.stderr).toContain("stored in the secret store");
    expect(r.code).toBe(0);
    const unit = readFileSync(h.unit, "utf8");
    expect(unit).not.toContain(PASSWORD);
    expect(unit).not.toMatch(/^Environment/m);
    expect(execStart(unit)).toEqual([process.execPath, join(REPO, "src/index.ts"), "--headless", "--online", "--data-dir", h.dataDir, "--password-from", "secret-store"]);
    expect(readFileSync(join(h.home, "secret"), "utf8")).toBe(PASSWORD);
    const calls = readFileSync(join(h.home, "secret-tool.calls"), "utf8");
    expect(calls).not.toContain(PASSWORD); // stdin only, never argv
    expect(calls).toContain(`store --label compute vault password service compute data-dir ${h.dataDir}`);
    expect(readFileSync(join(h.home, "systemctl.calls"), "utf8")).toBe("--user daemon-reload\n--user enable --now compute.service\n");
    expect(r.stdout).toContain("loginctl enable-linger");
    expect((await verify(unit, true)).code).toBe(0);

    // The unit's environment: none of its own; COMPUTE_PASSWORD is not there.
    const env = { PATH: h.env.PATH!, HOME: h.home, FAKE_DIR: h.home };
    const p = runExecStart(unit, env);
    await until(() => relay.events().some((e) => e.kind === 31990), 20_000, "the service's announcement on the relay");
    expect((await stateOf(h.dataDir))?.online).toBe(true);

    const st = await cli(["service", "status", "--json"], h.env);
    expect(st.code).toBe(0);
    expect(JSON.parse(st.stdout)).toMatchObject({ installed: true, enabled: "enabled", active: "active", running: true, pid: p.pid });
    expect(JSON.parse(st.stdout).dashboard).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{64}$/);

    p.kill("SIGTERM");
    expect(await p.exited).toBe(0);
    // Going offline withdrew the announcement (kind 5 naming it).
    expect(relay.events().some((e) => e.kind === 5)).toBe(true);

    const u = await cli(["service", "uninstall"], h.env);
    expect(u.code).toBe(0);
    expect(existsSync(h.unit)).toBe(false);
    expect(existsSync(join(h.home, "secret"))).toBe(false);
  }, 60_000);

  test("no secret store: refused without --password-file; a 0644 file is refused; 0600 runs for real and stops on SIGTERM", async () => {
    const h = await newHome({ secretTool: false });
    const none = await cli(["service", "install"], { ...h.env, COMPUTE_PASSWORD: PASSWORD });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("--password-file");
    expect(existsSync(h.unit)).toBe(false);

    const pw = join(h.home, "vault-password");
    writeFileSync(pw, PASSWORD + "\n", { mode: 0o644 });
    chmodSync(pw, 0o644);
    const loose = await cli(["service", "install", "--password-file", pw], h.env);
    expect(loose.code).toBe(1);
    expect(loose.stderr).toContain("chmod 600");
    expect(existsSync(h.unit)).toBe(false);

    chmodSync(pw, 0o600);
    const ok = await cli(["service", "install", "--password-file", pw, "--no-start"], h.env);
    expect(ok.code).toBe(0);
    const unit = readFileSync(h.unit, "utf8");
    expect(execStart(unit).slice(-2)).toEqual(["--password-from", `file:${pw}`]);
    expect(readFileSync(join(h.home, "systemctl.calls"), "utf8")).toBe("--user daemon-reload\n--user enable compute.service\n");

    // At start the file is checked again: loosened since the install, compute refuses it.
    chmodSync(pw, 0o644);
    const refused = runExecStart(unit, { PATH: h.env.PATH!, HOME: h.home });
    expect(await refused.exited).toBe(1);
    expect(await new Response(refused.stderr).text()).toContain("chmod 600");

    chmodSync(pw, 0o600);
    const before = relay.events().filter((e) => e.kind === 31990).length;
    const p = runExecStart(unit, { PATH: h.env.PATH!, HOME: h.home });
    await until(() => relay.events().filter((e) => e.kind === 31990).length > before, 20_000, "announcement");
    p.kill("SIGTERM");
    expect(await p.exited).toBe(0);
  }, 60_000);

  test("a wrong password in the file: refused at install (the service would fail at every start)", async () => {
    const h = await newHome({ secretTool: false });
    const pw = join(h.home, "pw");
    writeFileSync(pw, "not the password", { mode: 0o600 });
    const r = await cli(["service", "install", "--password-file", pw], h.env);
    expect(r.code).toBe(1);
    expect(existsSync(h.unit)).toBe(false);
  });
});

describe("compute service logs / --print on the other systems (COMPUTE_SERVICE_PLATFORM picks the system's paths)", () => {
  test("macOS: logs prints the last lines of ~/Library/Logs/compute/compute.log; --print shows the plist and writes nothing", async () => {
    const h = await newHome();
    const dir = join(h.home, "Library", "Logs", "compute");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "compute.log"), Array.from({ length: 50 }, (_, i) => `line ${i + 1}`).join("\n") + "\n");
    const env = { ...h.env, COMPUTE_SERVICE_PLATFORM: "darwin" };
    const r = await cli(["service", "logs", "-n", "3", "--no-follow"], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("line 48\nline 49\nline 50\n");
    // No `security` here: without --password-file install says so; with it the plist is printed.
    const none = await cli(["service", "install", "--print"], env);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("security not found");
    const p = await cli(["service", "install", "--print", "--password-file", "/Users/a/pw"], env);
    expect(p.code).toBe(0);
    expect(p.stdout).toContain("<string>file:/Users/a/pw</string>");
    expect(existsSync(join(h.home, "Library", "LaunchAgents"))).toBe(false);
  });
});
