// The customer side of NIP-90, used by `compute ask` and `compute selftest`: build a 5050 request
// (optionally encrypted to one provider), publish it, and follow its feedback and result.
import { finalizeEvent, getPublicKey } from "nostr-tools/pure";
import { Relay } from "nostr-tools/relay";
import { AppError, errorMessage } from "../errors.ts";
import { decryptFrom, encryptFor, type EncryptionScheme } from "./crypto.ts";
import { JOB_FEEDBACK, JOB_REQUEST_TEXT, JOB_RESULT_TEXT } from "./kinds.ts";
import { NostrEvent } from "./nip90.ts";

export interface AskRequest {
  prompt: string;
  model?: string;
  maxTokens?: number;
  provider?: string; // hex pubkey
  encrypt?: EncryptionScheme;
  relays: string[];
  bidMsats?: number;
}

export interface FeedbackSeen {
  provider: string;
  status: string;
  extra: string | null;
  amountMsats: number | null;
  bolt11: string | null;
  content: string;
  relay: string;
  ms: number;
}

export interface AskResult {
  requestId: string;
  provider: string;
  content: string;
  relay: string;
  ms: number;
  feedback: FeedbackSeen[];
  amountMsats: number | null;
  bolt11: string | null;
}

export function buildRequest(req: AskRequest, secretKey: Uint8Array, now = Date.now()) {
  const inner: string[][] = [["i", req.prompt, "text"]];
  if (req.model) inner.push(["param", "model", req.model]);
  if (req.maxTokens) inner.push(["param", "max_tokens", String(req.maxTokens)]);
  const tags: string[][] = [];
  if (req.encrypt) {
    if (!req.provider) throw new AppError("usage", "--encrypt needs --provider: a request is encrypted to one provider.");
    tags.push(["p", req.provider], ["encrypted"]);
  } else {
    tags.push(...inner);
    if (req.provider) tags.push(["p", req.provider]);
  }
  tags.push(["output", "text/plain"], ["relays", ...req.relays]);
  if (req.bidMsats !== undefined) tags.push(["bid", String(req.bidMsats)]);
  const content = req.encrypt ? encryptFor(req.encrypt, secretKey, req.provider!, JSON.stringify(inner)) : "";
  return finalizeEvent({ kind: JOB_REQUEST_TEXT, created_at: Math.floor(now / 1000), tags, content }, secretKey);
}

function tag(tags: string[][], name: string): string[] | undefined {
  return tags.find((t) => t[0] === name);
}

/** Reads feedback/result tags, decrypting them when the provider encrypted its answer. */
function openEvent(ev: NostrEvent, secretKey: Uint8Array, scheme: EncryptionScheme | undefined): { tags: string[][]; content: string } {
  if (!scheme || !tag(ev.tags, "encrypted")) return { tags: ev.tags, content: ev.content };
  const plain = decryptFrom(scheme, secretKey, ev.pubkey, ev.content);
  if (ev.kind === JOB_RESULT_TEXT) return { tags: ev.tags, content: plain };
  const inner = JSON.parse(plain) as string[][];
  const content = inner.find((t) => t[0] === "content")?.[1] ?? "";
  return { tags: [...ev.tags, ...inner.filter((t) => Array.isArray(t) && t[0] !== "content")], content };
}

export interface FollowOptions {
  timeoutMs: number;
  onFeedback?: (f: FeedbackSeen) => void;
  /** With a provider named, its error feedback ends the wait. */
  stopOnProviderError?: boolean;
  connectTimeoutMs?: number;
}

/**
 * Publishes the request on every relay and resolves with the first result. Rejects with
 * AppError("unavailable") when no relay can be reached or takes the request, on timeout, or (with
 * a provider named and stopOnProviderError) on that provider's error feedback. Every connection
 * opened is closed before it settles, including ones that connect after it settled.
 */
export async function ask(req: AskRequest, secretKey: Uint8Array, opts: FollowOptions): Promise<AskResult> {
  if (req.relays.length === 0) throw new AppError("usage", "No relay to ask on: give at least one relay.");
  const event = buildRequest(req, secretKey);
  const me = getPublicKey(secretKey);
  const started = performance.now();
  const relays = new Set<Relay>();
  const feedback: FeedbackSeen[] = [];
  let settled = false;
  const closeRelay = (r: Relay) => {
    try {
      r.close();
    } catch {}
  };
  try {
    return await new Promise<AskResult>((resolve, reject) => {
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn();
      };
      const timer = setTimeout(() => {
        const last = feedback.at(-1);
        finish(() => reject(new AppError("unavailable", `No result within ${Math.round(opts.timeoutMs / 1000)} s${last ? ` (last feedback: ${last.status}${last.extra ? `: ${last.extra}` : ""})` : "; no provider answered"}.`)));
      }, opts.timeoutMs);
      const failures: string[] = [];
      const onEvent = (raw: unknown, relayUrl: string) => {
        if (settled) return;
        const parsed = NostrEvent.safeParse(raw);
        if (!parsed.success) return;
        const ev = parsed.data;
        if (req.provider && ev.pubkey !== req.provider) return;
        let opened: { tags: string[][]; content: string };
        try {
          opened = openEvent(ev, secretKey, req.encrypt);
        } catch {
          return;
        }
        const ms = Math.round(performance.now() - started);
        const amount = tag(opened.tags, "amount");
        if (ev.kind === JOB_FEEDBACK) {
          const st = tag(opened.tags, "status");
          if (!st?.[1]) return;
          const f: FeedbackSeen = { provider: ev.pubkey, status: st[1], extra: st[2] ?? null, amountMsats: amount?.[1] ? Number(amount[1]) : null, bolt11: amount?.[2] ?? null, content: opened.content, relay: relayUrl, ms };
          if (feedback.some((x) => x.provider === f.provider && x.status === f.status && x.content === f.content && x.extra === f.extra)) return;
          feedback.push(f);
          opts.onFeedback?.(f);
          if (f.status === "error" && opts.stopOnProviderError && req.provider) {
            finish(() => reject(new AppError("unavailable", `The provider answered with an error: ${f.extra ?? "no reason given"}.`)));
          }
        } else if (ev.kind === JOB_RESULT_TEXT) {
          finish(() => resolve({ requestId: event.id, provider: ev.pubkey, content: opened.content, relay: relayUrl, ms, feedback, amountMsats: amount?.[1] ? Number(amount[1]) : null, bolt11: amount?.[2] ?? null }));
        }
      };
      const failed = (url: string, why: string) => {
        failures.push(`${url}: ${why}`);
        if (failures.length === req.relays.length) {
          finish(() => reject(new AppError("unavailable", `No relay took the request (${failures.join("; ")}).`)));
        }
      };
      for (const url of req.relays) {
        Relay.connect(url, { timeout: opts.connectTimeoutMs ?? 10_000 })
          .then(async (relay) => {
            // Connected after the answer came: nothing to do there.
            if (settled) return closeRelay(relay);
            relays.add(relay);
            relay.subscribe([{ kinds: [JOB_FEEDBACK, JOB_RESULT_TEXT], "#e": [event.id], "#p": [me] }], { onevent: (e) => onEvent(e, url) });
            try {
              await relay.publish(event);
            } catch (err) {
              failed(url, `refused the request: ${errorMessage(err)}`);
            }
          })
          .catch((err) => failed(url, `unreachable (${errorMessage(err)})`));
      }
    });
  } finally {
    settled = true;
    for (const r of relays) closeRelay(r);
    relays.clear();
  }
}
