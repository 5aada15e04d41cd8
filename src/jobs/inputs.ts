// Turns a request's inputs into the prompt text (PROTOCOL.md): text as is; `event` = that event's
// content, fetched from the relays; `job` = the result of an earlier job (chaining), waited for
// within a bound; `url` = http(s) only, size and time capped, private addresses refused unless
// allowed. Several inputs are joined in order.
import { isIP } from "node:net";
import { AppError } from "../errors.ts";
import { Slots, checkHost, systemResolve } from "../util/net-guard.ts";
import { JOB_RESULT_TEXT } from "../nostr/kinds.ts";
import type { JobInput } from "../nostr/nip90.ts";
import type { Filter } from "nostr-tools/filter";

export interface InputFetcher {
  /** One-shot query across the relays (+ optional extra relay hint). */
  fetch(filters: Filter[], opts: { timeoutMs?: number; extraRelays?: string[] }): Promise<Array<{ id: string; kind: number; content: string; tags: string[][] }>>;
}

export interface ResolveOptions {
  fetcher: InputFetcher;
  maxBytes: number;
  allowPrivateUrls: boolean;
  signal?: AbortSignal;
  eventTimeoutMs?: number;
  jobTimeoutMs?: number;
  urlTimeoutMs?: number;
  /** Time between looks for a chained job's result. */
  jobPollMs?: number;
  /** The addresses a host name resolves to (default: the system resolver); tests replace it. */
  resolveHost?: (host: string) => Promise<string[]>;
}

export { isPrivateAddress } from "../util/net-guard.ts";

/**
 * Outbound url fetches in flight at once, for the whole provider (every job together): a burst of
 * requests can't turn the provider into a request amplifier against third parties.
 */
export const MAX_CONCURRENT_FETCHES = 8;
const fetchSlots = new Slots(MAX_CONCURRENT_FETCHES);

/**
 * The request to make for a url whose host resolved to the checked address `ip`. Plain http goes
 * to that very address (with the original Host header), so a name that resolves elsewhere by the
 * time we connect (DNS rebinding) can't steer us to a private address. https keeps the name: the
 * TLS certificate must match it, which a private host answering for someone else's name can't do.
 */
export function pinnedRequest(url: URL, ip: string): { url: string; headers: Record<string, string> } {
  if (url.protocol !== "http:" || isIP(url.hostname.replace(/^\[|\]$/g, ""))) return { url: url.href, headers: {} };
  const pinned = new URL(url.href);
  pinned.hostname = isIP(ip) === 6 ? `[${ip}]` : ip;
  return { url: pinned.href, headers: { host: url.host } };
}

/** Waits ms, or less if the signal aborts (then throws its reason). */
async function pause(ms: number, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted();
  await new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
  signal?.throwIfAborted();
}

/** Content types a prompt can be made of; anything else (images, archives …) is refused. */
const TEXTUAL = /^(text\/|application\/(json|xml|xhtml\+xml|javascript|x-ndjson|ld\+json|rss\+xml|atom\+xml)\b)/i;

/**
 * Fetches one url input, reading at most `budget` bytes (what is left of the job's maxBytes after
 * the inputs before it): the stream stops as soon as the budget is spent.
 */
async function fetchUrl(raw: string, opts: ResolveOptions, budget: number): Promise<string> {
  const release = await fetchSlots.acquire(opts.signal);
  try {
    return await fetchUrlNow(raw, opts, budget);
  } finally {
    release();
  }
}

async function fetchUrlNow(raw: string, opts: ResolveOptions, budget: number): Promise<string> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new AppError("invalid_input", `input url ${raw.slice(0, 100)} is not a valid URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new AppError("invalid_input", "url inputs must be http:// or https://");
  const timeoutMs = opts.urlTimeoutMs ?? 10_000;
  let request: { url: string; headers: Record<string, string> } = { url: url.href, headers: {} };
  if (!opts.allowPrivateUrls) {
    // A customer must not make us fetch from the operator's own network (Ollama, router, …).
    // Redirects are refused below so the check can't be sidestepped by one, and plain http
    // connects to the address that was checked (pinnedRequest), so a second resolution can't.
    const checked = await checkHost(url.hostname, { resolve: opts.resolveHost ?? systemResolve, timeoutMs });
    if (!checked.ok) {
      throw new AppError("invalid_input", checked.reason.startsWith("cannot") ? checked.reason : `url ${url.hostname} points at a private address; this provider does not fetch those`);
    }
    request = pinnedRequest(url, checked.addresses[0]!);
  }
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(new AppError("invalid_input", `fetching ${url.hostname} took longer than ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
  const onAbort = () => ctl.abort(opts.signal!.reason);
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    opts.signal?.throwIfAborted();
    const res = await fetch(request.url, { signal: ctl.signal, redirect: "error", headers: request.headers }).catch((err) => {
      if (ctl.signal.aborted) throw ctl.signal.reason;
      throw new AppError("invalid_input", `could not fetch ${url.hostname}: ${(err as Error).message}`);
    });
    if (!res.ok) throw new AppError("invalid_input", `fetching ${url.hostname} gave HTTP ${res.status}`);
    const type = res.headers.get("content-type");
    if (type && !TEXTUAL.test(type.trim())) throw new AppError("invalid_input", `the url gives ${type.split(";")[0]}, not text`);
    const reader = res.body?.getReader();
    if (!reader) return "";
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read().catch((err) => {
        if (ctl.signal.aborted) throw ctl.signal.reason;
        throw new AppError("invalid_input", `reading ${url.hostname} failed: ${(err as Error).message}`);
      });
      if (done) break;
      size += value.length;
      if (size > budget) {
        await reader.cancel().catch(() => {});
        throw new AppError(
          "invalid_input",
          budget === opts.maxBytes
            ? `the url's content is larger than ${opts.maxBytes} bytes`
            : `the url's content is larger than the ${Math.max(0, budget)} bytes left of this provider's ${opts.maxBytes}-byte input limit`,
        );
      }
      chunks.push(value);
    }
    return new TextDecoder().decode(Buffer.concat(chunks));
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener("abort", onAbort);
    ctl.abort(); // release the connection if we stopped early
  }
}

export async function resolveInputs(inputs: JobInput[], opts: ResolveOptions): Promise<string> {
  const parts: string[] = [];
  // One byte budget for the whole prompt: what the inputs so far take (and the blank lines that
  // join them) is not there for the next url's content.
  const left = () => opts.maxBytes - parts.reduce((n, p) => n + Buffer.byteLength(p), 0) - 2 * parts.length;
  for (const input of inputs) {
    switch (input.type) {
      case "text":
        parts.push(input.data);
        break;
      case "event": {
        if (!/^[0-9a-f]{64}$/.test(input.data)) throw new AppError("invalid_input", "an event input must be a 64-hex event id");
        const found = await opts.fetcher.fetch([{ ids: [input.data], limit: 1 }], { timeoutMs: opts.eventTimeoutMs ?? 5000, extraRelays: input.relay ? [input.relay] : undefined });
        const ev = found.find((e) => e.id === input.data);
        if (!ev) throw new AppError("invalid_input", `input event ${input.data.slice(0, 12)}… was not found on the relays`);
        parts.push(ev.content);
        break;
      }
      case "job": {
        if (!/^[0-9a-f]{64}$/.test(input.data)) throw new AppError("invalid_input", "a job input must be a 64-hex job request id");
        // Chaining: wait (bounded) for a result of that job to appear on the relays.
        const deadline = Date.now() + (opts.jobTimeoutMs ?? 30_000);
        let text: string | null = null;
        for (;;) {
          opts.signal?.throwIfAborted();
          const found = await opts.fetcher.fetch([{ kinds: [JOB_RESULT_TEXT], "#e": [input.data], limit: 5 }], {
            timeoutMs: Math.min(3000, Math.max(100, deadline - Date.now())),
            extraRelays: input.relay ? [input.relay] : undefined,
          });
          // An encrypted result is only readable by its customer; it can't feed another job.
          const res = found.find((e) => e.kind === JOB_RESULT_TEXT && e.tags.some((t) => t[0] === "e" && t[1] === input.data) && !e.tags.some((t) => t[0] === "encrypted"));
          if (res) {
            text = res.content;
            break;
          }
          if (Date.now() + (opts.jobPollMs ?? 500) >= deadline) break;
          await pause(opts.jobPollMs ?? 500, opts.signal);
        }
        if (text === null) throw new AppError("invalid_input", `no result of job ${input.data.slice(0, 12)}… appeared in time`);
        parts.push(text);
        break;
      }
      case "url": {
        const budget = left();
        if (budget < 0) throw new AppError("invalid_input", `input is over ${opts.maxBytes} bytes before its url inputs; this provider accepts at most ${opts.maxBytes}`);
        parts.push(await fetchUrl(input.data, opts, budget));
        break;
      }
    }
  }
  const prompt = parts.join("\n\n");
  if (Buffer.byteLength(prompt) > opts.maxBytes) throw new AppError("invalid_input", `input is ${Buffer.byteLength(prompt)} bytes; this provider accepts at most ${opts.maxBytes}`);
  if (!prompt.trim()) throw new AppError("invalid_input", "the request has no prompt");
  return prompt;
}
