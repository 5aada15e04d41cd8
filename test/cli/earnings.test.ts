// `compute earnings` offline (issue 16): the figures of Ledger.earnings from the quick read-only
// path, the full path for a ledger of an older schema (migrated, as before), the text output, and
// none of the big modules loaded by the command's own code (they made it slow to start).
import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { groupThousands } from "../../src/cli/earnings.ts";
import { LEDGER_SCHEMA_VERSION } from "../../src/ledger/earnings-offline.ts";
import { Ledger } from "../../src/ledger/ledger.ts";
import { migrate, MIGRATIONS } from "../../src/ledger/migrations.ts";

const REPO = resolve(import.meta.dir, "../..");
const root = mkdtempSync(join(tmpdir(), "compute-cli-earnings-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

const hex = (i: number) => i.toString(16).padStart(64, "0");

/** A data dir whose ledger has paid jobs of two models, all older than two weeks (stable figures). */
function dataDir(): { dir: string; ledgerPath: string } {
  const dir = join(root, `d${++n}`);
  mkdirSync(dir, { recursive: true });
  const ledgerPath = join(dir, "ledger.sqlite");
  const ledger = Ledger.open(ledgerPath);
  const at = Date.now() - 30 * 86_400_000;
  for (let i = 1; i <= 40; i++) {
    ledger.admitJob({ id: hex(i), kind: 5050, customer: hex(0), requestJson: "{}", status: "success", model: i % 4 ? "llama3.2:latest" : "qwen2.5:7b", createdAt: at + i, finishedAt: at + i, amountMsats: 1_234_567 }, 5050, at);
    ledger.creditPayment({ id: `p${i}`, jobId: hex(i), amountMsats: 1_234_567, source: "invoice", receivedAt: at + i, paymentHash: hex(1000 + i) });
  }
  ledger.close();
  return { dir, ledgerPath };
}

async function earnings(dir: string, args: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: Record<string, string | undefined> = { ...process.env, COMPUTE_DATA_DIR: dir, COMPUTE_LOG_LEVEL: "error" };
  const p = Bun.spawn(["bun", "src/index.ts", "earnings", ...args], { cwd: REPO, env, stdout: "pipe", stderr: "pipe", timeout: 10_000 });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

const userVersion = (path: string) => {
  const db = new Database(path);
  try {
    return (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
  } finally {
    db.close();
  }
};

describe("compute earnings offline", () => {
  test("--json prints Ledger.earnings' figures; the ledger file is left as it was", async () => {
    const { dir, ledgerPath } = dataDir();
    const before = readFileSync(ledgerPath);
    const r = await earnings(dir, ["--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const ledger = Ledger.open(ledgerPath);
    const expected = ledger.earnings();
    ledger.close();
    expect(r.stdout).toBe(JSON.stringify(expected, null, 2) + "\n");
    expect(expected.allSats).toBe(40 * 1234.567);
    expect(before.length).toBeGreaterThan(0);
  });

  test("a ledger of an older schema takes the full path: migrated, then read", async () => {
    const dir = join(root, `d${++n}`);
    mkdirSync(dir, { recursive: true });
    const ledgerPath = join(dir, "ledger.sqlite");
    const db = new Database(ledgerPath);
    migrate(db, MIGRATIONS.slice(0, LEDGER_SCHEMA_VERSION - 1));
    db.close();
    const r = await earnings(dir, ["--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ allJobs: 0, allSats: 0, unpaidJobs: 0 });
    expect(userVersion(ledgerPath)).toBe(LEDGER_SCHEMA_VERSION);
  });

  test("a ledger newer than this build: the Ledger's own error", async () => {
    const { dir, ledgerPath } = dataDir();
    const db = new Database(ledgerPath);
    db.run(`PRAGMA user_version = ${LEDGER_SCHEMA_VERSION + 1}`);
    db.close();
    const r = await earnings(dir, ["--json"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`has schema version ${LEDGER_SCHEMA_VERSION + 1}, newer than this build knows`);
  });

  test("the text lines, sats grouped by thousands", async () => {
    const { dir } = dataDir();
    const r = await earnings(dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`all time  ${"49,382".padStart(12)} sats  40 jobs`);
    expect(r.stdout).toContain(`${"llama3.2:latest".padEnd(24)} ${"37,037".padStart(10)} sats  30 jobs`);
  });
});

describe("compute earnings' own code", () => {
  test("groups thousands as toLocaleString('en-US') does, without Intl", () => {
    for (const n of [0, 1, 12, 999, 1000, 1001, 12_345, 999_999, 1_000_000, 687_802, 21_000_000_00_000_000, -5, -1234, -1_000_000]) {
      expect(groupThousands(n)).toBe(n.toLocaleString("en-US"));
    }
    for (let i = 0; i < 2000; i++) {
      const n = Math.floor(Math.random() * 10 ** Math.floor(Math.random() * 16));
      expect(groupThousands(n)).toBe(n.toLocaleString("en-US"));
    }
  });

  test("statically loads neither zod, the config schema, the Ledger class nor the migrations", () => {
    const SRC = resolve(import.meta.dir, "../../src");
    const transpiler = new Bun.Transpiler({ loader: "ts" });
    const seen = new Set<string>();
    const packages = new Set<string>();
    const walk = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      // scanImports leaves out type-only imports and lists dynamic ones with their kind.
      for (const i of transpiler.scanImports(readFileSync(file, "utf8"))) {
        if (i.kind === "dynamic-import") continue;
        if (i.path.startsWith(".")) walk(resolve(dirname(file), i.path));
        else packages.add(i.path);
      }
    };
    walk(join(SRC, "cli/earnings.ts"));
    const files = [...seen].map((f) => f.slice(SRC.length + 1)).sort();
    expect(files).toContain("ledger/earnings-offline.ts");
    for (const heavy of ["config.ts", "paths.ts", "util/lock.ts", "ledger/ledger.ts", "ledger/migrations.ts", "ledger/rows.ts", "ledger/events.ts"]) expect(files).not.toContain(heavy);
    expect([...packages].filter((p) => !p.startsWith("node:") && !p.startsWith("bun:"))).toEqual([]);
  });
});
