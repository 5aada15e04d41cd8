// `compute wallet` as a real subprocess, three ways:
//  - against a running `compute --headless --network regtest` (the real Breez Spark wallet, which
//    connects offline on regtest; anything needing the network fails, and must say so clearly);
//  - with nothing running: the command opens the wallet itself;
//  - against an app in this process whose wallet is the Lightning test double, to follow money:
//    a send with its fee, a receive that gets paid, the history.
// Outgoing HTTP(S) from the subprocesses goes to a dead local proxy: nothing leaves 127.0.0.1.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { App } from "../../src/app.ts";
import { Vault } from "../../src/identity/vault.ts";
import { paths } from "../../src/paths.ts";
import { decodeBolt11 } from "../../src/util/bolt11.ts";
import { LightningDouble } from "../fixtures/lightning-double.ts";
import { closedPort } from "../fixtures/common.ts";

const REPO = resolve(import.meta.dir, "../..");
const root = mkdtempSync(join(tmpdir(), "compute-cli-wallet-"));
const procs: Bun.Subprocess[] = [];
afterAll(() => {
  for (const p of procs) p.kill("SIGKILL");
  rmSync(root, { recursive: true, force: true });
});

const MNEMONIC = "leader monkey parrot ring guide accident before fence cannon height naive bean";
const PASSWORD = "correct horse battery";

const DEAD = closedPort();
const OFFLINE = ["--ollama-url", `http://127.0.0.1:${DEAD}`, "--relay", `ws://127.0.0.1:${DEAD}`];

let n = 0;
async function identityDir(): Promise<string> {
  const dir = join(root, `d${++n}`);
  await Vault.create(paths(dir).vault, { mnemonic: MNEMONIC, passphrase: "" }, PASSWORD, { scrypt: { N: 1024, r: 8, p: 1 } });
  return dir;
}

function env(dataDir: string, password: string | null = PASSWORD): Record<string, string | undefined> {
  const e: Record<string, string | undefined> = {
    ...process.env,
    COMPUTE_DATA_DIR: dataDir,
    COMPUTE_LOG_LEVEL: "error",
    HTTPS_PROXY: `http://127.0.0.1:${DEAD}`,
    HTTP_PROXY: `http://127.0.0.1:${DEAD}`,
    NO_PROXY: "127.0.0.1,localhost",
  };
  delete e.COMPUTE_PASSWORD;
  delete e.BREEZ_API_KEY;
  if (password !== null) e.COMPUTE_PASSWORD = password;
  return e;
}

function spawn(args: string[], dataDir: string, password?: string | null) {
  const p = Bun.spawn(["bun", "src/index.ts", ...args], { cwd: REPO, env: env(dataDir, password), stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: 15_000 });
  procs.push(p);
  return p;
}

async function cli(args: string[], dataDir: string, password?: string | null) {
  const p = spawn(args, dataDir, password);
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

/** Runs the command on a pseudo-terminal (util-linux `script`), typing `input`. */
async function onTerminal(args: string[], dataDir: string, input: string) {
  const cmd = ["bun", "src/index.ts", ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
  const p = Bun.spawn(["script", "-qec", cmd, "/dev/null"], { cwd: REPO, env: env(dataDir), stdin: "pipe", stdout: "pipe", stderr: "pipe", timeout: 15_000 });
  procs.push(p);
  // Answer once the question is on screen.
  const reader = p.stdout.getReader();
  let out = "";
  const dec = new TextDecoder();
  while (!out.includes("[y/N]")) {
    const r = await reader.read();
    if (r.done) break;
    out += dec.decode(r.value, { stream: true });
  }
  p.stdin.write(input);
  p.stdin.flush();
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    out += dec.decode(r.value, { stream: true });
  }
  return { code: await p.exited, out: out.replace(/\r/g, "") };
}

const oneLine = (s: string) => expect(s.trim().split("\n")).toHaveLength(1);

describe("usage", () => {
  test("--help: exit 0 with every command; a missing or unknown command, a stray flag: exit 2", async () => {
    const d = join(root, "usage");
    const help = await cli(["wallet", "--help"], d);
    expect(help.code).toBe(0);
    for (const word of ["balance", "receive [--amount SATS]", "send DESTINATION", "--yes", "history", "address", "Exit codes"]) expect(help.stdout).toContain(word);
    expect((await cli(["--help"], d)).stdout).toContain("compute wallet balance|receive|send|history");
    for (const args of [["wallet"], ["wallet", "spend"], ["wallet", "balance", "--amount", "5"], ["wallet", "send"], ["wallet", "receive", "--amount", "0"], ["wallet", "history", "extra"]]) {
      const r = await cli(args, d);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^compute: /);
      oneLine(r.stderr);
    }
  });

  test("send off a terminal without --yes is refused before anything is paid", async () => {
    const r = await cli(["wallet", "send", "lnbcrt10n1anything"], join(root, "noyes"));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("pass --yes");
  });
});

describe("against a running compute --headless --network regtest (the real Spark wallet, offline)", () => {
  let dir: string;
  let server: Bun.Subprocess<"ignore", "pipe", "pipe">;
  beforeAll(async () => {
    dir = await identityDir();
    server = spawn(["--headless", "--network", "regtest", "--port", "0", ...OFFLINE], dir);
    // Serving (the lock names the URL) and the wallet connected.
    const reader = server.stdout.getReader();
    let out = "";
    while (!/Dashboard: /.test(out)) {
      const r = await reader.read();
      if (r.done) throw new Error(`compute exited: ${await new Response(server.stderr).text()}`);
      out += new TextDecoder().decode(r.value);
    }
    reader.releaseLock();
  });
  afterAll(async () => {
    server?.kill("SIGTERM");
    await server?.exited;
  });

  test("balance 0 and an empty history, in words and as JSON", async () => {
    let b = await cli(["wallet", "balance"], dir, null);
    for (let i = 0; i < 50 && b.code !== 0; i++) {
      await Bun.sleep(100); // the wallet connects in the background
      b = await cli(["wallet", "balance"], dir, null);
    }
    expect(b).toMatchObject({ code: 0, stdout: "0 sats (regtest)\n" });
    expect(JSON.parse((await cli(["wallet", "balance", "--json"], dir, null)).stdout)).toEqual({ sats: 0, network: "regtest" });
    const empty = await cli(["wallet", "history"], dir, null);
    expect(empty).toMatchObject({ code: 0, stdout: "No payments yet.\n", stderr: "" });
    expect(JSON.parse((await cli(["wallet", "history", "--json"], dir, null)).stdout)).toEqual([]);
  });

  test("receive without a network fails with a clear message; a bad destination is named", async () => {
    const r = await cli(["wallet", "receive", "--amount", "100"], dir, null);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("compute: Creating an invoice failed: the Lightning service could not be reached; check the internet connection and try again.\n");
    const s = await cli(["wallet", "send", "not-a-destination", "--yes"], dir, null);
    expect(s.code).toBe(1);
    expect(s.stderr).toBe("compute: Can't pay 'not-a-destination': not a Lightning invoice, Lightning address, LNURL, Spark address or bitcoin address.\n");
    // A Lightning invoice whose checksum is broken.
    const t = await cli(["wallet", "send", "lnbcrt10n1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq", "--yes"], dir, null);
    expect(t.code).toBe(1);
    expect(t.stderr).toContain("Can't pay 'lnbcrt10n1");
  });
});

describe("with nothing running: the command opens the wallet itself", () => {
  test("regtest: balance with the vault password, and the data dir is free again afterwards", async () => {
    const dir = await identityDir();
    const r = await cli(["wallet", "balance", "--network", "regtest"], dir);
    expect(r).toMatchObject({ code: 0, stdout: "0 sats (regtest)\n" });
    expect(existsSync(join(dir, "compute.lock"))).toBe(false);
    expect(await cli(["wallet", "history", "--network", "regtest"], dir)).toMatchObject({ code: 0, stdout: "No payments yet.\n", stderr: "" });
  });

  test("no password off a terminal: exit 2; mainnet without a Breez API key: exit 1 saying how; no identity: exit 1", async () => {
    const dir = await identityDir();
    const np = await cli(["wallet", "balance", "--network", "regtest"], dir, null);
    expect(np.code).toBe(2);
    expect(np.stderr).toContain("COMPUTE_PASSWORD");
    const mainnet = await cli(["wallet", "balance"], dir);
    expect(mainnet.code).toBe(1);
    expect(mainnet.stderr).toContain("BREEZ_API_KEY");
    expect(mainnet.stderr).toContain("or use --network regtest.\n");
    const none = await cli(["wallet", "balance", "--network", "regtest"], join(root, "empty"));
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("compute init");
  });
});

describe("against a running app with the Lightning test double", () => {
  let app: App;
  let dir: string;
  const wallet = new LightningDouble({ balanceSats: 1_000, sendFeeSats: 2 });
  beforeAll(async () => {
    dir = await identityDir();
    writeFileSync(join(dir, "config.json"), "{}");
    app = await App.start({
      dataDir: dir,
      env: {},
      password: PASSWORD,
      flags: { port: 0, relays: [`ws://127.0.0.1:${DEAD}`], ollamaUrl: `http://127.0.0.1:${DEAD}`, paymentMode: "free", logLevel: "error" },
      walletFactory: () => wallet,
    });
    for (let i = 0; i < 100 && app.controller.snapshot().wallet.state !== "ready"; i++) await Bun.sleep(20);
  });
  afterAll(() => app?.stop());

  test("send: shows amount and fee; --yes pays once; the balance goes down by both", async () => {
    const payee = new LightningDouble();
    await payee.connect();
    const inv = await payee.createInvoice({ amountMsats: 100_000, description: "coffee", expirySecs: 600 });
    const r = await cli(["wallet", "send", inv.bolt11, "--yes"], dir);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`Send 100 sats to ${inv.bolt11.slice(0, 57)}... (Lightning invoice); fee 2 sats; total 102 sats.\nSent.\n`);
    expect(wallet.sent.map((s) => [s.destination, s.amountSats, s.feeSats])).toEqual([[inv.bolt11, 100, 2]]);
    expect((await cli(["wallet", "balance"], dir, null)).stdout).toBe("898 sats (regtest)\n");
    // An amountless destination needs --amount; a Lightning address gets one.
    const noAmount = await cli(["wallet", "send", "alice@example.com", "--yes"], dir);
    expect(noAmount.code).toBe(1);
    expect(noAmount.stderr).toContain("Enter an amount");
    const json = await cli(["wallet", "send", "alice@example.com", "--amount", "10", "--yes", "--json"], dir);
    expect(JSON.parse(json.stdout)).toMatchObject({ sent: true, status: "completed", amountSats: 10, feeSats: 2, destinationType: "lightning_address" });
  });

  test("send through the running compute needs the vault password: none (exit 2) or a wrong one (exit 1) sends nothing; --password-file works", async () => {
    const before = wallet.sent.length;
    const none = await cli(["wallet", "send", "alice@example.com", "--amount", "10", "--yes"], dir, null);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("No vault password");
    const wrong = await cli(["wallet", "send", "alice@example.com", "--amount", "10", "--yes"], dir, "not the password");
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("password is wrong");
    expect(wallet.sent.length).toBe(before);
    const file = join(root, "pw.txt");
    writeFileSync(file, PASSWORD + "\n");
    const ok = await cli(["wallet", "send", "alice@example.com", "--amount", "10", "--yes", "--password-file", file], dir, null);
    expect(ok).toMatchObject({ code: 0 });
    expect(ok.stdout).toEndWith("Sent.\n");
    expect(wallet.sent.length).toBe(before + 1);
  });

  test("a send that times out and is run again pays once (Lightning test double: it pays, then the call times out)", async () => {
    const before = wallet.sent.length;
    wallet.failNextSend("timeout-after-paying");
    const first = await cli(["wallet", "send", "erin@example.com", "--amount", "20", "--yes"], dir);
    expect(first.code).toBe(1);
    expect(first.stderr).toContain("may or may not have gone through");
    expect(first.stdout).not.toContain("Sent.");
    const again = await cli(["wallet", "send", "erin@example.com", "--amount", "20", "--yes"], dir);
    expect(again.stderr).toContain("can't pay twice");
    expect(again.code).toBe(0);
    expect(wallet.sent.length).toBe(before + 1);
  });

  test("a pending send is never reported as 'Sent.'; a failed one exits 1 and says so", async () => {
    wallet.failNextSend("pending");
    const p = await cli(["wallet", "send", "frank@example.com", "--amount", "3", "--yes"], dir);
    expect(p.code).toBe(0);
    expect(p.stdout).not.toContain("Sent.");
    expect(p.stdout).toContain("Pending: the payment is on its way");
    wallet.failNextSend("failed");
    const f = await cli(["wallet", "send", "grace@example.com", "--amount", "3", "--yes", "--json"], dir);
    expect(f.code).toBe(1);
    expect(JSON.parse(f.stdout)).toMatchObject({ sent: false, status: "failed", amountSats: 3 });
  });

  test("send on a terminal asks first: 'n' sends nothing (exit 1), 'y' sends", async () => {
    const payee = new LightningDouble();
    await payee.connect();
    const inv = await payee.createInvoice({ amountMsats: 5_000, description: "tea", expirySecs: 600 });
    const before = wallet.sent.length;
    const no = await onTerminal(["wallet", "send", inv.bolt11], dir, "n\n");
    expect(no.out).toContain("fee 2 sats; total 7 sats.");
    expect(no.out).toContain("Not sent.");
    expect(no.code).toBe(1);
    expect(wallet.sent.length).toBe(before);
    const yes = await onTerminal(["wallet", "send", inv.bolt11], dir, "y\n");
    expect(yes.out).toContain("Sent.");
    expect(yes.code).toBe(0);
    expect(wallet.sent.length).toBe(before + 1);
  });

  test("receive: an invoice for the amount; once paid it is in the history", async () => {
    const r = await cli(["wallet", "receive", "--amount", "21"], dir, null);
    expect(r.code).toBe(0);
    const bolt11 = r.stdout.trim();
    expect(decodeBolt11(bolt11)).toMatchObject({ amountMsats: 21_000, network: "regtest" });
    expect(r.stderr).toContain("valid for 1 hour");
    const paid = wallet.settle(bolt11);
    await Bun.sleep(50);
    const h = await cli(["wallet", "history", "--json"], dir, null);
    const entries = JSON.parse(h.stdout) as Record<string, unknown>[];
    // Newest first: this receive, then the sends of the tests above.
    // The owner's own deposit: money in, not earnings.
    expect(entries[0]).toEqual({ direction: "received", id: paid.id, amountSats: 21, at: paid.receivedAt, source: "deposit", jobId: null });
    expect(entries.filter((e) => e.direction === "received")).toHaveLength(1);
    expect((await cli(["wallet", "history"], dir, null)).stdout.split("\n")[0]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d +\+21 sats  deposit$/);
  });

  test("history lists sends too: amount, fee, how, a pending or failed one marked; --limit counts both kinds", async () => {
    wallet.recordSend({ amountSats: 7, feeSats: 1, status: "pending", destination: "bob@example.com" });
    const json = JSON.parse((await cli(["wallet", "history", "--json"], dir, null)).stdout) as any[];
    const sent = json.filter((e) => e.direction === "sent");
    expect(sent.map((e) => [e.amountSats, e.feeSats, e.status, e.method])).toEqual(
      wallet.sent.map((p) => [p.amountSats, p.feeSats, p.status, "lightning"]).reverse(),
    );
    expect(sent.find((e) => e.amountSats === 100)).toMatchObject({ description: "coffee", status: "completed" });
    for (let i = 1; i < json.length; i++) expect(json[i - 1].at).toBeGreaterThanOrEqual(json[i].at);
    const text = (await cli(["wallet", "history"], dir, null)).stdout;
    expect(text).toMatch(/ +-7 sats  sent     over Lightning, fee 1 sat  PENDING\n/);
    expect(text).toMatch(/ +-100 sats  sent     over Lightning, fee 2 sats: coffee\n/);
    expect(JSON.parse((await cli(["wallet", "history", "--limit", "2", "--json"], dir, null)).stdout)).toHaveLength(2);
  });

  test("address: none, register, show, delete", async () => {
    expect((await cli(["wallet", "address"], dir, null)).stdout).toContain("No Lightning address yet");
    expect((await cli(["wallet", "address", "Provider"], dir, null)).stdout).toBe("provider@double.invalid\n");
    expect(JSON.parse((await cli(["wallet", "address", "--json"], dir, null)).stdout)).toEqual({ lightningAddress: { address: "provider@double.invalid", lnurl: null } });
    expect((await cli(["wallet", "address", "--delete"], dir, null)).stdout).toBe("Lightning address deleted.\n");
    const bad = await cli(["wallet", "address", "no spaces"], dir, null);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe("compute: Bad Lightning address name 'no spaces': use 1–64 lowercase letters, digits, '.', '-' or '_'.\n");
  });
});
