// `compute wallet balance | receive | send | history | address`: the Lightning wallet from the
// command line. When compute runs on this data dir the command asks it over its API (the lock file
// gives the address and token), so the wallet is never opened twice; otherwise it opens the wallet
// itself (the vault password unlocks the seed) and holds the data dir's lock while it does.
import { z } from "zod";
import { existsSync } from "node:fs";
import { loadConfig } from "../config.ts";
import { AppError } from "../errors.ts";
import { Vault } from "../identity/vault.ts";
import { Ledger } from "../ledger/ledger.ts";
import { paths } from "../paths.ts";
import type { SendPreview, SendResult, WalletPayment } from "../server/controller.ts";
import { InstanceLock, readLock } from "../util/lock.ts";
import { checkDestination, newestReceived } from "../wallet/payments.ts";
import { DEPOSIT_DESCRIPTION, SentRecord, isDeposit, type Wallet } from "../wallet/wallet.ts";
import { resolveBreezApiKey } from "../wallet/breez-key.ts";
import { COMMON_HELP, applyLogLevel, configFlagsFrom, dataDirFrom, intFlag, parse, printJson, readPassword, runningApi } from "./common.ts";

const HELP = `Usage: compute wallet COMMAND [options]

The Lightning wallet (Breez Spark) that jobs are paid into.

Commands:
  balance                       the balance in sats
  receive [--amount SATS]       a Lightning invoice for SATS (valid 1 hour); without --amount,
                                the wallet's Spark address
  send DESTINATION [--amount SATS] [--yes]
                                pay a Lightning invoice, Lightning address, LNURL, Spark address or
                                bitcoin address; shows the amount and the fee and asks before paying
  history [--limit N]           payments received and sent, newest first: for a receive the job
                                it paid and how it came (invoice or zap), for a send its fee and
                                whether it is still pending or failed
  address [NAME] [--delete]     show the Lightning address (customers' zaps reach you through it),
                                register NAME@<domain>, or delete it

Asks the compute running on this data dir when there is one (a send then needs the vault password
too: its access token alone can't move money); otherwise opens the wallet itself, which needs the
vault password. The password comes from COMPUTE_PASSWORD, --password-file, or a prompt on a terminal.
A send whose outcome is unknown (a timeout, a network error) can be run again as it was: it reuses
the first try's payment key and can't pay twice. A send still pending is said so, not "Sent.".

Options:
  --amount SATS     the amount in sats
  --yes             send without asking (required when not on a terminal)
  --limit N         how many payments history lists (default 50)
  --delete          with address: delete the Lightning address
${COMMON_HELP}

Exit codes: 0 done, 1 failed, 2 bad usage.`;

const SUBCOMMANDS = ["balance", "receive", "send", "history", "address"] as const;
type Sub = (typeof SUBCOMMANDS)[number];

/**
 * A payment received, as the CLI shows it: `source` says how (a job's "invoice", a "zap", or the
 * owner's own "deposit", which is not earnings); `source`/`jobId` null: not booked by compute yet.
 */
export interface ReceivedEntry {
  direction: "received";
  id: string;
  amountSats: number;
  /** Unix ms. */
  at: number;
  source: "invoice" | "zap" | "deposit" | null;
  jobId: string | null;
  /** "paid late: not served" (the job was over and could not be run), with the customer who paid. */
  note?: string;
  customer?: string;
}

/** A payment sent (the amount the payee got; the fee on top). */
export interface SentEntry {
  direction: "sent";
  id: string;
  amountSats: number;
  feeSats: number;
  at: number;
  status: SentRecord["status"];
  method: SentRecord["method"];
  description: string | null;
}

export type HistoryEntry = ReceivedEntry | SentEntry;

/** Newest first, at most `limit`; `sentError` says why sent payments are missing, if they are. */
export interface History {
  entries: HistoryEntry[];
  sentError: string | null;
}

const sentEntry = (r: SentRecord): SentEntry => ({ direction: "sent", id: r.id, amountSats: r.amountSats, feeSats: r.feeSats, at: r.sentAt, status: r.status, method: r.method, description: r.description });

function mergeHistory(received: ReceivedEntry[], sent: SentRecord[] | null, limit: number, sentError: string | null): History {
  const entries: HistoryEntry[] = [...received, ...(sent ?? []).map(sentEntry)].sort((a, b) => b.at - a.at).slice(0, limit);
  return { entries, sentError };
}

interface Backend {
  balance(): Promise<{ sats: number; network: string }>;
  receive(amountSats?: number): Promise<{ bolt11: string | null; address: string | null }>;
  prepareSend(destination: string, amountSats?: number): Promise<SendPreview>;
  /** The API backend needs the vault password to send (the direct one opened the vault with it). */
  confirmSend(id: string, password: () => Promise<string>): Promise<SendResult>;
  history(limit: number): Promise<History>;
  lightningAddress(): Promise<{ address: string; lnurl: string | null } | null>;
  setLightningAddress(username: string): Promise<{ address: string; lnurl: string | null }>;
  deleteLightningAddress(): Promise<void>;
  close(): Promise<void>;
}

const toEntry = (p: { id: string; amountMsats: number; receivedAt: number; source: WalletPayment["source"] | "deposit" | null; jobId: string | null; note?: unknown; customer?: unknown }): ReceivedEntry => ({
  direction: "received",
  id: p.id,
  amountSats: p.amountMsats / 1000,
  at: p.receivedAt,
  // The ledger books the owner's deposits as "other".
  source: p.source === "other" ? "deposit" : p.source,
  jobId: p.jobId,
  ...(typeof p.note === "string" ? { note: p.note, ...(typeof p.customer === "string" ? { customer: p.customer } : {}) } : {}),
});

// ---- the running compute, over its API ----

function apiBackend(running: { url: string; token: string }): Backend {
  const { call, expect } = runningApi(running);
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;
  return {
    async balance() {
      return expect(await call("GET", "/wallet/balance"), (v) => isObj(v) && typeof v.sats === "number" && typeof v.network === "string");
    },
    async receive(amountSats) {
      return expect(await call("POST", "/wallet/receive", amountSats ? { amountSats } : {}), (v) => isObj(v) && "bolt11" in v && "address" in v);
    },
    async prepareSend(destination, amountSats) {
      return expect(await call("POST", "/wallet/send/prepare", { destination, ...(amountSats ? { amountSats } : {}) }), (v) => isObj(v) && typeof v.id === "string" && typeof v.feeSats === "number" && typeof v.amountSats === "number");
    },
    async confirmSend(id, password) {
      const r = await call("POST", "/wallet/send/confirm", { id, password: await password() }, 90_000);
      return expect<SendResult>(r, (v) => isObj(v) && typeof v.id === "string" && ["completed", "pending", "failed"].includes(v.status as string) && typeof v.amountSats === "number" && typeof v.feeSats === "number");
    },
    async history(limit) {
      const r = expect<{ payments: WalletPayment[]; sent?: unknown; sentError?: unknown }>(await call("GET", `/wallet/payments?limit=${limit}`), (v) => isObj(v) && Array.isArray(v.payments));
      // The running compute's answer is outside input too: a sent list that doesn't parse is named, not trusted.
      const sent = r.sent === null || r.sent === undefined ? null : z.array(SentRecord).safeParse(r.sent);
      const sentError = sent && !sent.success ? "the running compute sent a malformed list of sent payments" : typeof r.sentError === "string" ? r.sentError : null;
      return mergeHistory(r.payments.map(toEntry), sent?.success ? sent.data : null, limit, sentError);
    },
    async lightningAddress() {
      return expect<{ lightningAddress: { address: string; lnurl: string | null } | null }>(await call("GET", "/wallet/lightning-address"), (v) => isObj(v) && "lightningAddress" in v).lightningAddress;
    },
    async setLightningAddress(username) {
      return expect<{ lightningAddress: { address: string; lnurl: string | null } }>(await call("PUT", "/wallet/lightning-address", { username }), (v) => isObj(v) && isObj(v.lightningAddress)).lightningAddress;
    },
    async deleteLightningAddress() {
      await call("DELETE", "/wallet/lightning-address");
    },
    async close() {},
  };
}

// ---- the wallet itself, when nothing runs on the data dir ----

async function directBackend(dataDir: string, values: Record<string, unknown>): Promise<Backend> {
  const config = loadConfig({ dataDir, flags: configFlagsFrom(values) });
  const p = paths(dataDir);
  if (!Vault.exists(p.vault)) throw new AppError("not_found", "No identity yet: run `compute init` first; the wallet comes from its seed phrase.");
  const password = await readPassword(values as { "password-file"?: string }, { prompt: "Vault password: ", required: true });
  const seed = await Vault.open(p.vault, password!);
  // The wallet's storage is the running compute's too: hold the data dir while we use it.
  const lock = InstanceLock.acquire(dataDir);
  let wallet: Wallet | null = null;
  try {
    const { SparkWallet } = await import("../wallet/spark.ts");
    wallet = new SparkWallet({ mnemonic: seed.mnemonic, passphrase: seed.passphrase, network: config.network, apiKey: resolveBreezApiKey(config.breezApiKey)?.key, dataDir: p.wallet });
    await wallet.connect();
    const view = wallet.view();
    if (view.state !== "ready") {
      const msg = view.message ?? `The wallet is ${view.state.replace("_", " ")}`;
      throw new AppError("unavailable", /[.!?]$/.test(msg) ? msg : `${msg}.`);
    }
  } catch (err) {
    await wallet?.disconnect().catch(() => {});
    lock.release();
    throw err;
  }
  const w = wallet;
  return {
    async balance() {
      return { sats: (await w.balance()).sats, network: w.network };
    },
    async receive(amountSats) {
      if (amountSats) return { bolt11: (await w.createInvoice({ amountMsats: amountSats * 1000, description: DEPOSIT_DESCRIPTION, expirySecs: 3600 })).bolt11, address: null };
      return { bolt11: null, address: (await w.receiveAddress("spark")).address };
    },
    async prepareSend(destination, amountSats) {
      await checkDestination(destination);
      const q = await w.prepareSend({ destination, amountSats });
      return { id: q.id, feeSats: q.feeSats, amountSats: q.amountSats, destinationType: q.destinationType };
    },
    async confirmSend(id) {
      const r = await w.send(id);
      return { id: r.id, status: r.status, amountSats: r.amountSats, feeSats: r.feeSats };
    },
    async history(limit) {
      const received = await newestReceived(w, limit);
      const sent = await w.listSent({ limit });
      // What compute booked (job, invoice or zap) is in its ledger; anything else isn't booked yet.
      const ledger = existsSync(p.ledger) ? Ledger.open(p.ledger) : null;
      try {
        const entries = received.map((r) => {
          const booked = ledger ? (ledger.getPayment(r.id) ?? (r.paymentHash ? ledger.findPaymentByHash(r.paymentHash) : null)) : null;
          const source = booked?.source ?? (isDeposit(r) ? "deposit" : null);
          return toEntry({ id: r.id, amountMsats: r.amountMsats, receivedAt: r.receivedAt, source, jobId: booked?.jobId ?? null, note: booked?.note, customer: booked?.customer });
        });
        return mergeHistory(entries, sent, limit, null);
      } finally {
        ledger?.close();
      }
    },
    async lightningAddress() {
      const la = await w.getLightningAddress();
      return la ? { address: la.address, lnurl: la.lnurl } : null;
    },
    async setLightningAddress(username) {
      const la = await w.registerLightningAddress(username);
      return { address: la.address, lnurl: la.lnurl };
    },
    async deleteLightningAddress() {
      await w.deleteLightningAddress();
    },
    async close() {
      await w.disconnect().catch(() => {});
      lock.release();
    },
  };
}

// ---- the command ----

const sats = (n: number) => `${n.toLocaleString("en-US", { maximumFractionDigits: 3 })} sat${n === 1 ? "" : "s"}`;
const KIND: Record<string, string> = {
  bolt11: "Lightning invoice",
  lightning_address: "Lightning address",
  lnurl_pay: "LNURL",
  bitcoin_address: "bitcoin address",
  spark_address: "Spark address",
};

const SENT_BY: Record<SentRecord["method"], string> = { lightning: "over Lightning", spark: "to a Spark address", bitcoin: "on-chain" };

/** One answer line from the terminal (echoed: it's a yes/no, not a secret). */
async function askLine(question: string): Promise<string> {
  process.stderr.write(question);
  const stdin = process.stdin;
  stdin.resume();
  try {
    return await new Promise<string>((resolve) => {
      let got = "";
      const onData = (chunk: Buffer) => {
        got += chunk.toString("utf8");
        const nl = got.indexOf("\n");
        if (nl >= 0) {
          stdin.off("data", onData);
          stdin.off("end", onEnd);
          resolve(got.slice(0, nl));
        }
      };
      const onEnd = () => resolve(got);
      stdin.on("data", onData);
      stdin.once("end", onEnd);
    });
  } finally {
    stdin.pause();
  }
}

export async function wallet(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      amount: { type: "string" },
      yes: { type: "boolean", short: "y" },
      limit: { type: "string" },
      delete: { type: "boolean" },
    },
    true,
  );
  if (values.help) {
    process.stdout.write(HELP + "\n");
    return 0;
  }
  const [first, ...rest] = positionals;
  if (!first) throw new AppError("usage", `Say what to do: compute wallet ${SUBCOMMANDS.join("|")}; see --help.`);
  if (!(SUBCOMMANDS as readonly string[]).includes(first)) throw new AppError("usage", `Unknown wallet command '${first}'; use one of ${SUBCOMMANDS.join(", ")}.`);
  const sub = first as Sub;
  const wantArgs = sub === "send" ? 1 : sub === "address" ? (values.delete ? 0 : rest.length > 0 ? 1 : 0) : 0;
  if (sub === "send" && rest.length === 0) throw new AppError("usage", "Say where to send: compute wallet send DESTINATION [--amount SATS].");
  if (rest.length !== wantArgs) throw new AppError("usage", `Unexpected argument '${rest[wantArgs]}'; see --help.`);
  const amount = intFlag(values.amount, "amount", 1, 2_100_000_000_000_000);
  if (amount !== undefined && sub !== "receive" && sub !== "send") throw new AppError("usage", `--amount goes with receive or send, not ${sub}.`);
  const limit = intFlag(values.limit, "limit", 1, 1000) ?? 50;
  if (values.limit !== undefined && sub !== "history") throw new AppError("usage", "--limit goes with history.");
  if (values.yes && sub !== "send") throw new AppError("usage", "--yes goes with send.");
  if (values.delete && sub !== "address") throw new AppError("usage", "--delete goes with address.");
  // Money leaves only after a person said yes: off a terminal nobody can, unless --yes says so.
  if (sub === "send" && !values.yes && !process.stdin.isTTY) {
    throw new AppError("usage", "Not on a terminal, so nobody can confirm the payment: pass --yes to send without asking.");
  }
  applyLogLevel(values);

  const dataDir = dataDirFrom(values);
  const running = readLock(dataDir);
  let backend: Backend;
  if (running?.url && running.token) backend = apiBackend({ url: running.url, token: running.token });
  else if (running) throw new AppError("conflict", `compute (pid ${running.pid}) is using this data dir and isn't serving its API yet; try again in a moment.`);
  else backend = await directBackend(dataDir, values);

  try {
    switch (sub) {
      case "balance": {
        const b = await backend.balance();
        if (values.json) printJson(b);
        else process.stdout.write(`${sats(b.sats)}${b.network === "mainnet" ? "" : ` (${b.network})`}\n`);
        return 0;
      }
      case "receive": {
        const r = await backend.receive(amount);
        if (values.json) printJson(r);
        else if (r.bolt11) {
          process.stdout.write(`${r.bolt11}\n`);
          process.stderr.write(`A Lightning invoice for ${sats(amount!)}, valid for 1 hour.\n`);
        } else {
          process.stdout.write(`${r.address}\n`);
          process.stderr.write("The wallet's Spark address (for Spark wallets). For a Lightning invoice, pass --amount SATS.\n");
        }
        return 0;
      }
      case "send": {
        const destination = rest[0]!;
        const q = await backend.prepareSend(destination, amount);
        const shown = destination.length > 60 ? `${destination.slice(0, 57)}...` : destination;
        const summary = `Send ${sats(q.amountSats)} to ${shown} (${KIND[q.destinationType] ?? q.destinationType}); fee ${sats(q.feeSats)}; total ${sats(q.amountSats + q.feeSats)}.`;
        if (!values.json) process.stdout.write(summary + "\n");
        if (q.retry && !values.json) {
          process.stderr.write("An earlier send of this (same destination and amount) may have gone through: sending again reuses its payment key, so it can't pay twice.\n");
        }
        if (!values.yes) {
          const answer = await askLine("Send it? [y/N] ");
          if (!/^\s*y(es)?\s*$/i.test(answer)) {
            process.stderr.write("Not sent.\n");
            return 1;
          }
        }
        // A running compute asks for the vault password before money leaves (its token alone is not enough).
        const r = await backend.confirmSend(q.id, async () => (await readPassword(values as { "password-file"?: string }, { prompt: "Vault password (to send): ", required: true }))!);
        if (values.json) printJson({ sent: r.status === "completed", status: r.status, id: r.id, amountSats: r.amountSats, feeSats: r.feeSats, destinationType: q.destinationType });
        else if (r.status === "completed") process.stdout.write("Sent.\n");
        else if (r.status === "pending") process.stdout.write("Pending: the payment is on its way but not settled yet; `compute wallet history` shows when it completes or fails.\n");
        else process.stderr.write("compute: The payment failed: the wallet reports it did not go through, so nothing was paid.\n");
        return r.status === "failed" ? 1 : 0;
      }
      case "history": {
        const { entries, sentError } = await backend.history(limit);
        if (sentError) process.stderr.write(`compute: sent payments are not listed: ${sentError}\n`);
        if (values.json) {
          printJson(entries);
          return 0;
        }
        if (entries.length === 0) {
          process.stdout.write("No payments yet.\n");
          return 0;
        }
        for (const p of entries) {
          const when = new Date(p.at).toISOString().replace("T", " ").slice(0, 16);
          if (p.direction === "received") {
            const how = p.source ?? "not booked yet";
            const late = p.note ? `  ${p.note.toUpperCase()}${p.customer ? ` (customer ${p.customer})` : ""}` : "";
            process.stdout.write(`${when}  ${`+${sats(p.amountSats)}`.padStart(14)}  ${how.padEnd(7)}${p.jobId ? `  job ${p.jobId.slice(0, 12)}` : ""}${late}\n`);
          } else {
            const state = p.status === "completed" ? "" : `  ${p.status.toUpperCase()}`;
            process.stdout.write(`${when}  ${`-${sats(p.amountSats)}`.padStart(14)}  sent     ${SENT_BY[p.method]}, fee ${sats(p.feeSats)}${p.description ? `: ${p.description.slice(0, 40)}` : ""}${state}\n`);
          }
        }
        return 0;
      }
      case "address": {
        if (values.delete) {
          await backend.deleteLightningAddress();
          if (values.json) printJson({ lightningAddress: null });
          else process.stdout.write("Lightning address deleted.\n");
          return 0;
        }
        const la = rest[0] ? await backend.setLightningAddress(rest[0]) : await backend.lightningAddress();
        if (values.json) printJson({ lightningAddress: la });
        else process.stdout.write(la ? `${la.address}\n` : "No Lightning address yet: `compute wallet address NAME` registers one.\n");
        return 0;
      }
    }
  } finally {
    await backend.close();
  }
}
