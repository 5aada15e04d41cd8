// The wallet's history as the dashboard shows it: payments received (booked in the ledger, with the
// job each paid) and payments sent (listed by the wallet), merged newest first. Pure, unit-tested.
import type { WalletPayment } from "../src/server/controller.ts";
import type { SentRecord } from "../src/wallet/wallet.ts";

/** A received payment as GET /api/wallet/payments lists it (the ledger's row). */
export type ReceivedPayment = Pick<WalletPayment, "id" | "jobId" | "amountMsats" | "source" | "receivedAt" | "note" | "customer">;
export type SentPayment = SentRecord;

export interface WalletHistory {
  payments: ReceivedPayment[];
  /** null when the wallet could not list them; `sentError` says why. */
  sent: SentPayment[] | null;
  sentError: string | null;
}

export interface HistoryRow {
  key: string;
  at: number;
  /** Signed: what came in (+) or went out including the fee (-), in msats. */
  deltaMsats: number;
  what: string;
  /** "pending" / "failed" for a send not (yet) through; null otherwise. */
  flag: "pending" | "failed" | null;
  jobId: string | null;
}

// "other" is how the ledger books the owner's own deposits (not earnings).
const SOURCE: Record<ReceivedPayment["source"], string> = { invoice: "invoice", zap: "zap", other: "deposit" };
const METHOD: Record<SentPayment["method"], string> = { lightning: "sent over Lightning", spark: "sent to a Spark address", bitcoin: "sent on-chain" };

export function historyRows(h: WalletHistory, limit = 50): HistoryRow[] {
  const rows: HistoryRow[] = [
    ...h.payments.map((p) => ({
      key: `r:${p.id}`,
      at: p.receivedAt,
      deltaMsats: p.amountMsats,
      // A payment for a job already over that could not be run: the owner settles it with the customer.
      what: `${SOURCE[p.source] ?? "received"}${p.note ? ` — ${p.note}${p.customer ? ` (customer ${p.customer})` : ""}` : ""}`,
      flag: null,
      jobId: p.jobId,
    })),
    ...(h.sent ?? []).map((s) => ({
      key: `s:${s.id}`,
      at: s.sentAt,
      // A failed send took nothing; a pending one is on its way out.
      deltaMsats: s.status === "failed" ? 0 : -(s.amountSats + s.feeSats) * 1000,
      what: `${METHOD[s.method] ?? "sent"}${s.feeSats ? `, fee ${s.feeSats} sat${s.feeSats === 1 ? "" : "s"}` : ""}${s.description ? `: ${s.description}` : ""}`,
      flag: s.status === "completed" ? null : s.status,
      jobId: null,
    })),
  ];
  return rows.sort((a, b) => b.at - a.at).slice(0, limit);
}
