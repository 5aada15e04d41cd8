// A full disk and a read-only data dir, for real: a tiny tmpfs (1 MiB) mounted for the test (needs
// root; skipped with a message otherwise). On a full disk, writing the vault (create, change
// password) and the ledger fails with a sentence saying so, and what was there stays exactly as it
// was; once space is back, writes work again without a restart. On a read-only data dir, App.start
// and `compute init` refuse with a sentence instead of a stack of errno codes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync, closeSync, openSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App } from "../../src/app.ts";
import { AppError } from "../../src/errors.ts";
import { generateMnemonic } from "../../src/identity/mnemonic.ts";
import { Vault } from "../../src/identity/vault.ts";
import { Ledger } from "../../src/ledger/ledger.ts";
import { paths } from "../../src/paths.ts";
import { CHEAP_SCRYPT, STRESS_PASSWORD, prepareDataDir } from "../fixtures/stress-app.ts";
import { unclearMessage } from "../fixtures/stress-fc.ts";

const mounts: string[] = [];
const root = mkdtempSync(join(tmpdir(), "compute-disk-"));

function sh(cmd: string[]): { ok: boolean; err: string } {
  const r = Bun.spawnSync(cmd, { stdout: "ignore", stderr: "pipe" });
  return { ok: r.exitCode === 0, err: r.stderr.toString().trim() };
}

/** Mounts a small tmpfs at a fresh folder, or says why it can't. */
function mountTiny(name: string, size = "256k"): string | null {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const r = sh(["mount", "-t", "tmpfs", "-o", `size=${size},mode=0700`, "tmpfs", dir]);
  if (!r.ok) return null;
  mounts.push(dir);
  return dir;
}

const canMount = (() => {
  if (process.platform !== "linux" || process.getuid?.() !== 0) return "not root on Linux";
  const probe = mountTiny("probe");
  if (!probe) return "mount -t tmpfs failed (no CAP_SYS_ADMIN?)";
  return null;
})();
if (canMount) console.log(`disk tests skipped: ${canMount}; run them as root to mount a tiny tmpfs`);

afterAll(() => {
  if (seen.size) console.log(`disk: messages seen:\n  ${[...seen].join("\n  ")}`);
  for (const m of mounts.reverse()) sh(["umount", "-l", m]);
  rmSync(root, { recursive: true, force: true });
});

/** Fills the file system holding `dir` to the last byte; returns the filler's path. */
function fill(dir: string): string {
  const filler = join(dir, "filler");
  const fd = openSync(filler, "w");
  try {
    for (const size of [65_536, 4096, 512, 64, 8, 1]) {
      const chunk = Buffer.alloc(size, 0x61);
      for (;;) {
        try {
          writeSync(fd, chunk);
        } catch {
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return filler;
}

function expectClearRefusal(err: unknown, about: RegExp): void {
  expect(err).toBeInstanceOf(AppError);
  const msg = (err as Error).message;
  expect(unclearMessage(msg)).toBeNull();
  expect(msg).toMatch(about);
  expect(msg).not.toMatch(/^E[A-Z]+:/);
  seen.add(msg.replace(/\/tmp\/\S+/g, "<dir>"));
}
const seen = new Set<string>();

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection");
}

describe.skipIf(canMount !== null)("full disk (1 MiB tmpfs, filled)", () => {
  let dir = "";
  let filler = "";
  const vaultPath = () => join(dir, "vault.json");
  const ledgerPath = () => join(dir, "ledger.sqlite");
  const mnemonic = generateMnemonic(12);
  let ledger: Ledger;
  let vaultBytes: Buffer;
  let jobsBefore: unknown;
  let paymentsBefore: unknown;

  beforeAll(async () => {
    dir = mountTiny("full", "1m")!;
    await Vault.create(vaultPath(), { mnemonic, passphrase: "" }, STRESS_PASSWORD, { scrypt: CHEAP_SCRYPT });
    ledger = Ledger.open(ledgerPath());
    for (let i = 0; i < 5; i++) {
      const id = i.toString(16).padStart(64, "0");
      ledger.insertJob({ id, kind: 5050, customer: "c".repeat(64), requestJson: "{}", status: "success", createdAt: 1_000 + i });
      ledger.creditPayment({ id: `pay-${i}`, jobId: id, amountMsats: 1000 * (i + 1), paymentHash: i.toString(16).padStart(64, "a"), receivedAt: 2_000 + i });
    }
    vaultBytes = readFileSync(vaultPath());
    jobsBefore = ledger.listJobs({ limit: 1000 });
    paymentsBefore = ledger.payments({ limit: 1000 });
    filler = fill(dir);
  });
  afterAll(() => ledger?.close());

  test("writing a new vault fails with a sentence saying the disk is full; the old vault is byte for byte intact", async () => {
    const err = await rejection(Vault.create(vaultPath(), { mnemonic: generateMnemonic(24), passphrase: "x" }, "another password", { force: true, scrypt: CHEAP_SCRYPT }));
    expectClearRefusal(err, /full|no space/i);
    expect(readFileSync(vaultPath()).equals(vaultBytes)).toBe(true);
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    expect((await Vault.open(vaultPath(), STRESS_PASSWORD)).mnemonic).toBe(mnemonic);
  });

  test("changing the vault password fails the same way; the old password still opens it", async () => {
    const err = await rejection(Vault.changePassword(vaultPath(), STRESS_PASSWORD, "a new password", { scrypt: CHEAP_SCRYPT }));
    expectClearRefusal(err, /full|no space/i);
    expect(readFileSync(vaultPath()).equals(vaultBytes)).toBe(true);
    expect((await Vault.open(vaultPath(), STRESS_PASSWORD)).mnemonic).toBe(mnemonic);
    expect(await rejection(Vault.open(vaultPath(), "a new password"))).toBeInstanceOf(AppError);
  });

  test("ledger writes fail with a sentence saying the disk is full; every row stays as it was", () => {
    const big = JSON.stringify({ content: "x".repeat(200_000) });
    const attempts: Array<() => unknown> = [
      () => ledger.insertJob({ id: "f".repeat(64), kind: 5050, customer: "c".repeat(64), requestJson: big, status: "received", createdAt: 9_000 }),
      () => ledger.updateJob("0".repeat(64), { error: big }),
      () => ledger.keepPendingResult("f".repeat(64), { id: "e".repeat(64), pubkey: "p".repeat(64), created_at: 1, kind: 6050, tags: [], content: big, sig: "s".repeat(128) }),
      () => {
        for (let i = 0; i < 5_000; i++) ledger.markSeen(`${i}`.padStart(64, "e"), 5050);
      },
    ];
    let failures = 0;
    for (const attempt of attempts) {
      try {
        attempt();
      } catch (err) {
        failures++;
        expectClearRefusal(err, /full|no space/i);
      }
    }
    expect(failures).toBeGreaterThanOrEqual(3);
    expect(ledger.listJobs({ limit: 1000 })).toEqual(jobsBefore as never);
    expect(ledger.payments({ limit: 1000 })).toEqual(paymentsBefore as never);
    expect(ledger.pendingResults()).toEqual([]);
  });

  test("space back: the vault and the ledger take writes again, no restart", async () => {
    unlinkSync(filler);
    await Vault.changePassword(vaultPath(), STRESS_PASSWORD, "a new password", { scrypt: CHEAP_SCRYPT });
    expect((await Vault.open(vaultPath(), "a new password")).mnemonic).toBe(mnemonic);
    expect(ledger.insertJob({ id: "f".repeat(64), kind: 5050, customer: "c".repeat(64), requestJson: "{}", status: "received", createdAt: 9_000 })).toBe(true);
    ledger.close();
    const again = Ledger.open(ledgerPath());
    expect(again.listJobs({ limit: 1000 })).toHaveLength(6);
    expect(again.payments({ limit: 1000 })).toEqual(paymentsBefore as never);
    again.close();
  });
});

describe.skipIf(canMount !== null)("read-only data dir", () => {
  let dir = "";
  let before: Map<string, Buffer>;

  beforeAll(async () => {
    dir = mountTiny("ro", "1m")!;
    await prepareDataDir({ relays: ["ws://127.0.0.1:1"], ollamaUrl: "http://127.0.0.1:1", pricing: { mode: "free" } }, dir);
    const l = Ledger.open(paths(dir).ledger);
    l.countFreeJob("marker");
    l.close();
    before = new Map(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f))]));
    const r = sh(["mount", "-o", "remount,ro", dir]);
    if (!r.ok) throw new Error(`remount ro failed: ${r.err}`);
  });

  const unchanged = () => {
    expect(readdirSync(dir).sort()).toEqual([...before.keys()].sort());
    for (const [f, bytes] of before) expect(readFileSync(join(dir, f)).equals(bytes)).toBe(true);
  };

  test("App.start refuses with a sentence naming the data dir as read-only; nothing changes", async () => {
    const err = await rejection(App.start({ dataDir: dir, password: STRESS_PASSWORD, walletFactory: () => { throw new Error("unused"); } }));
    expectClearRefusal(err, /read-only|not writable/i);
    expect((err as Error).message).toContain(dir);
    unchanged();
  });

  test("`compute init` exits 1 with a sentence saying the data dir is read-only; nothing changes", async () => {
    const pw = join(root, "pw.txt");
    writeFileSync(pw, "a fine password\n");
    const fresh = join(dir, "sub");
    for (const [args, what] of [
      [["init", "--data-dir", dir, "--password-file", pw, "--force"], "existing dir"],
      [["init", "--data-dir", fresh, "--password-file", pw], "new dir inside"],
    ] as const) {
      const proc = Bun.spawn([process.execPath, new URL("../../src/index.ts", import.meta.url).pathname, ...args], {
        env: { ...process.env, COMPUTE_LOG_LEVEL: "error" },
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
      });
      const [err, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
      expect({ what, code }).toEqual({ what, code: 1 });
      const line = err.trim().split("\n").at(-1)!;
      expect(line).toStartWith("compute: ");
      expect(unclearMessage(line.slice(9))).toBeNull();
      expect(line).toMatch(/read-only|not writable/i);
      expect(line).not.toMatch(/\bE[A-Z]{3,}:/);
      seen.add(line.replace(/\/tmp\/\S+/g, "<dir>"));
    }
    expect(existsSync(fresh)).toBe(false);
    unchanged();
  });
});
