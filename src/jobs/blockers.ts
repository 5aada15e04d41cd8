// Why GO ONLINE can't work right now: one sentence per reason, from facts the app gathers (pure).
// The dashboard lists them (ProviderView.blockers); GO ONLINE and --online's report say the first.

export interface BlockerFacts {
  /** Why the schedule or a daily limit keeps us offline (src/service/sentinel.ts), or null. */
  notSelling: string | null;
  identity: "unlocked" | "locked" | "none";
  inference: InferenceFacts;
  paymentMode: string;
  /** The wallet as paid mode needs it (Payments.ready()); null when there is none (locked). */
  wallet: { ok: true } | { ok: false; reason: string } | null;
  /** The relays' states; null when no pool runs (locked). */
  relays: ReadonlyArray<{ state: string; error: string | null }> | null;
}

export interface InferenceFacts {
  reachable: boolean;
  /** The one Ollama's address (the router's view). */
  url: string;
  servedModels: number;
  backends: ReadonlyArray<{ name: string; error: string | null }>;
}

export const UNLOCK_FIRST = "Unlock your identity first.";

/** The schedule or a limit: "Not selling now: outside the schedule." */
export function notSellingNow(gate: string): string {
  return `Not selling now: ${gate}`;
}

/** GO ONLINE refused by the schedule or a limit: the reason, and where to change it. */
export function notSellingNowError(gate: string): string {
  return `${notSellingNow(gate)}; change the schedule or the daily limits under SETTINGS to sell now.`;
}

/** No backend answers: with several, which are down and why (some may not be Ollama at all). */
export function inferenceDown(inf: Pick<InferenceFacts, "url" | "backends">): string {
  if (inf.backends.length > 1) return `No inference backend is reachable: ${inf.backends.map((b) => `${b.name}: ${b.error ?? "not answering"}`).join("; ")}.`;
  return `Ollama is not running at ${inf.url}: install it from ollama.com, then \`ollama pull llama3.2\`.`;
}

export function blockers(f: BlockerFacts): string[] {
  const out: string[] = [];
  if (f.notSelling) out.push(`${notSellingNow(f.notSelling)}.`);
  if (f.identity !== "unlocked") out.push(f.identity === "locked" ? UNLOCK_FIRST : "Create or import your seed phrase first.");
  if (!f.inference.reachable) out.push(inferenceDown(f.inference));
  else if (f.inference.servedModels === 0) out.push("No model is served: pull one (`ollama pull llama3.2`) or switch one on under MODELS.");
  if (f.paymentMode !== "free") {
    const ready = f.wallet ?? { ok: false as const, reason: "the wallet is not set up" };
    if (!ready.ok) out.push(`Paid mode needs a working wallet (${ready.reason}); set it up, or use payment mode free.`);
  }
  if (f.relays && !f.relays.some((r) => r.state === "connected")) {
    // A relay whose socket is open but that has not answered yet (RelayPool's AWAITING_ANSWER).
    const waiting = f.relays.some((r) => r.state === "connecting" && r.error !== null);
    out.push(waiting ? "Waiting for your relays to answer: a relay that stays silent is marked failed within 10 s." : "No relay is connected: check your network or add a relay under NETWORK.");
  }
  return out;
}
