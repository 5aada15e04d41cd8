// Shared set-up of the adversarial end-to-end tests: the real App (App.start on a data dir with an
// identity), a real relay, the fake Ollama and NIP-90 customers built from nostr-tools alone. The
// wallet is the Lightning test double (test/fixtures/lightning-double.ts: real, decodable BOLT #11
// invoices; the test plays the payer), because Lightning settlement can't happen offline.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll } from "bun:test";
import { finalizeEvent, generateSecretKey, type Event } from "nostr-tools/pure";
import { App } from "../../src/app.ts";
import { Vault } from "../../src/identity/vault.ts";
import { paths, readPublicIdentity } from "../../src/paths.ts";
import type { CreateInvoiceRequest, Wallet } from "../../src/wallet/wallet.ts";
import { startCustomer, type Customer, type Reply } from "../fixtures/customer.ts";
import { LightningDouble } from "../fixtures/lightning-double.ts";
import { startOllamaServer, type FakeOllama } from "../fixtures/ollama-server.ts";
import { startRelay, type TestRelay } from "../fixtures/relay.ts";
import { until } from "../jobs/harness.ts";

export { until };

/** Call at the top of a test file: the fake Ollama (llama3.2, instant) starts before the file's
 * tests (`onFake` gets it) and stops after them; after each test `cleanups` run newest first, then
 * the fake forgets the requests it saw. */
export function fakeOllamaPerFile(cleanups: Array<() => unknown>, onFake: (fake: FakeOllama) => void): void {
  let fake: FakeOllama | undefined;
  beforeAll(async () => {
    fake = await startOllamaServer({ models: [{ name: "llama3.2" }], instant: true });
    onFake(fake);
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    fake?.clearRequests();
  });
  afterAll(async () => {
    await fake?.stop();
  });
}
const MNEMONIC = "leader monkey parrot ring guide accident before fence cannon height naive bean";
const PASSWORD = "correct horse battery";

/** The Lightning test double with invoices that expire after `secs`, whatever the app asks. */
export class ShortInvoiceDouble extends LightningDouble {
  constructor(private readonly secs: number) {
    super();
  }
  override createInvoice(req: CreateInvoiceRequest) {
    return super.createInvoice({ ...req, expirySecs: this.secs });
  }
}

export interface World {
  relay: TestRelay;
  dataDir: string;
  customer: Customer;
  pubkey: string;
  app: App;
  start(opts?: { online?: boolean }): Promise<App>;
  newCustomer(): Promise<Customer>;
  prompts(): string[];
}

export async function world(
  fake: FakeOllama,
  cleanups: Array<() => unknown>,
  wallet: Wallet,
  opts: { mode: "upfront" | "after" | "free"; priceMsats?: number; per1k?: number; config?: Record<string, unknown>; walletCallMs?: number },
): Promise<World> {
  const relay = await startRelay();
  cleanups.push(() => relay.stop());
  const dataDir = mkdtempSync(join(tmpdir(), "compute-adversarial-"));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  await Vault.create(paths(dataDir).vault, { mnemonic: MNEMONIC, passphrase: "" }, PASSWORD, { scrypt: { N: 1024, r: 8, p: 1 } });
  const { limits, ...rest } = (opts.config ?? {}) as { limits?: Record<string, unknown> };
  writeFileSync(join(dataDir, "config.json"), JSON.stringify({ limits: { perCustomerPerMinute: 1000, partialIntervalMs: 100_000, allowPrivateUrls: true, ...limits }, ...rest }));
  const customer = await startCustomer([relay.url]);
  cleanups.push(() => customer.close());
  const w: World = {
    relay,
    dataDir,
    customer,
    pubkey: "",
    app: null as unknown as App,
    async start(o = {}) {
      const app = await App.start({
        dataDir,
        env: {},
        password: PASSWORD,
        flags: { port: 0, relays: [relay.url], ollamaUrl: fake.url, paymentMode: opts.mode, priceMsats: opts.priceMsats, pricePer1kTokensMsats: opts.per1k, logLevel: "error" },
        walletFactory: () => wallet,
        reconcileMs: 250,
        walletCallMs: opts.walletCallMs ?? 400,
        zapGraceMs: 1_500,
        ollamaProbeMs: 200,
      });
      cleanups.push(() => app.stop());
      w.app = app;
      w.pubkey = readPublicIdentity(dataDir)!.pubkey;
      await until(() => app.controller.snapshot().wallet.state === "ready", 3000, "wallet ready");
      if (o.online !== false) await app.controller.setOnline(true);
      return app;
    },
    async newCustomer() {
      const c = await startCustomer([relay.url]);
      cleanups.push(() => c.close());
      return c;
    },
    prompts: () => fake.requests("/api/generate").map((r) => r.body?.prompt as string).filter(Boolean),
  };
  return w;
}

export const amountTag = (r: Reply) => r.tags.find((t) => t[0] === "amount");

/** What a zapper's wallet and the LNURL server do (NIP-57): a signed zap request, an invoice from our wallet made for it. */
export async function zap(wallet: LightningDouble, opts: { customer: Customer; provider: string; eventId: string; msats: number }) {
  const request = opts.customer.sign({ kind: 9734, tags: [["p", opts.provider], ["e", opts.eventId], ["amount", String(opts.msats)], ["relays", ...opts.customer.relays]], content: "" });
  const invoice = await wallet.createInvoice({ amountMsats: opts.msats, description: JSON.stringify(request), expirySecs: 600 });
  return { request, invoice };
}

/** The receipt the LNURL server publishes (signed by its own key). */
export function receiptFor(request: Event, bolt11: string, provider: string, serverKey: Uint8Array = generateSecretKey()): Event {
  const e = request.tags.find((t) => t[0] === "e")![1]!;
  return finalizeEvent(
    { kind: 9735, created_at: Math.floor(Date.now() / 1000), tags: [["p", provider], ["e", e], ["bolt11", bolt11], ["description", JSON.stringify(request)]], content: "" },
    serverKey,
  );
}
