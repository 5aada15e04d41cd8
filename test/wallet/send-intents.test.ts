// SendIntents (src/wallet/send-intents.ts) with the Lightning test double as the wallet (a send
// can't settle offline): the file of unresolved sends, read back by a new run, and a damaged file.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SendIntents } from "../../src/wallet/send-intents.ts";
import { LightningDouble } from "../fixtures/lightning-double.ts";

const dir = mkdtempSync(join(tmpdir(), "send-intents-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("an unresolved send is written (0600) before the money moves, read back by a new run, and removed once resolved (Lightning test double)", async () => {
  const file = join(dir, "a.json");
  const wallet = new LightningDouble({ balanceSats: 1_000 });
  await wallet.connect();
  const first = new SendIntents(wallet, { file });
  const q = await first.prepare({ destination: "amy@example.com", amountSats: 10 });
  wallet.failNextSend("network-before-paying");
  await expect(first.send(q.id)).rejects.toThrow("may or may not have gone through");
  expect(JSON.parse(readFileSync(file, "utf8")).intents.map((i: { id: string }) => i.id)).toEqual([q.id]);
  expect(statSync(file).mode & 0o777).toBe(0o600);
  // A new run (new wallet object too): the same intent gets a quote under the first key.
  const second = new SendIntents(wallet, { file });
  const again = await second.prepare({ destination: "amy@example.com", amountSats: 10 });
  expect(again).toMatchObject({ id: q.id, retry: true });
  expect((await second.send(again.id)).status).toBe("completed");
  expect(JSON.parse(readFileSync(file, "utf8")).intents).toEqual([]);
  expect(wallet.sent).toHaveLength(1);
});

test("a damaged file is ignored (logged), and sending still works", async () => {
  const file = join(dir, "b.json");
  writeFileSync(file, "{not json");
  const wallet = new LightningDouble({ balanceSats: 1_000 });
  await wallet.connect();
  const intents = new SendIntents(wallet, { file });
  const q = await intents.prepare({ destination: "ben@example.com", amountSats: 5 });
  expect(q.retry).toBe(false);
  expect((await intents.send(q.id)).status).toBe("completed");
});
