// Turns a request's inputs into the prompt text (PROTOCOL.md): text as is; `event` = that event's
// content, fetched from the relays; `job` = the result of an earlier job (chaining), waited for
// within a bound; `url` = http(s) only, size and time capped, private addresses refused unless
// allowed. Several inputs are joined in order.
import { isIP } from "node:net";
import { lookup } from "node:dns/promises";
import { AppError } from "../errors.ts";
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

const systemResolve = async (host: string) => (await lookup(host, { all: true })).map((a) => a.address);

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

function v4Private(b: number[]): boolean {
  const [a, c] = b as [number, number];
  return (
    a === 0 || // "this" network
    a === 10 ||
    a === 127 ||
    (a === 100 && c >= 64 && c <= 127) || // shared address space (CGNAT)
    (a === 169 && c === 254) || // link-local
    (a === 172 && c >= 16 && c <= 31) ||
    (a === 192 && c === 168) ||
    (a === 192 && c === 0 && b[2] === 0) || // IETF protocol assignments
    (a === 198 && (c === 18 || c === 19)) || // benchmarking
    a >= 224 // multicast and reserved
  );
}

/** The 16 bytes of an IPv6 literal (a dotted IPv4 tail allowed), or null. */
function v6Bytes(ip: string): number[] | null {
  let text = ip.toLowerCase().replace(/%.*$/, ""); // drop a zone id
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    if (isIP(dotted[1]!) !== 4) return null;
    const [a, b, c, d] = dotted[1]!.split(".").map(Number) as [number, number, number, number];
    text = text.slice(0, -dotted[1]!.length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (h: string) => (h === "" ? [] : h.split(":"));
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  const words = halves.length === 2 ? [...head, ...Array(Math.max(0, 8 - head.length - rest.length)).fill("0"), ...rest] : head;
  if (words.length !== 8) return null;
  const bytes: number[] = [];
  for (const w of words) {
    if (!/^[0-9a-f]{1,4}$/.test(w)) return null;
    const n = parseInt(w, 16);
    bytes.push(n >> 8, n & 0xff);
  }
  return bytes;
}

/**
 * Whether an IP literal is loopback, private, link-local, shared, multicast or unspecified, so a
 * customer's url input can't reach the operator's own network (e.g. Ollama on 127.0.0.1). IPv6
 * forms that embed an IPv4 address (mapped ::ffff:a.b.c.d, compatible ::a.b.c.d, NAT64 64:ff9b::,
 * 6to4 2002::) are judged by that address. Anything unreadable counts as private.
 */
export function isPrivateAddress(ip: string): boolean {
  if (isIP(ip) === 4) return v4Private(ip.split(".").map(Number));
  if (isIP(ip.replace(/%.*$/, "")) !== 6) return true;
  const b = v6Bytes(ip);
  if (!b || b.length !== 16) return true;
  const zero = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  if (zero(0, 16)) return true; // ::
  if (zero(0, 15) && b[15] === 1) return true; // ::1
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) return v4Private(b.slice(12)); // ::ffff:a.b.c.d
  if (zero(0, 12)) return v4Private(b.slice(12)); // ::a.b.c.d (deprecated compatible form)
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(4, 12)) return v4Private(b.slice(12)); // NAT64
  if (b[0] === 0x20 && b[1] === 0x02) return v4Private(b.slice(2, 6)); // 6to4
  if ((b[0]! & 0xfe) === 0xfc) return true; // fc00::/7 unique local
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) return true; // fe80::/10 link-local
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0xc0) return true; // fec0::/10 old site-local
  if (b[0] === 0xff) return true; // multicast
  return false;
}

/** Rejects after ms (clearing its timer either way). */
async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new AppError("invalid_input", what)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Content types a prompt can be made of; anything else (images, archives …) is refused. */
const TEXTUAL = /^(text\/|application\/(json|xml|xhtml\+xml|javascript|x-ndjson|ld\+json|rss\+xml|atom\+xml)\b)/i;

async function fetchUrl(raw: string, opts: ResolveOptions): Promise<string> {
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
    const host = url.hostname.replace(/^\[|\]$/g, "");
    const resolve = opts.resolveHost ?? systemResolve;
    const addrs = isIP(host) ? [host] : await within(timeoutMs, `resolving ${url.hostname} took too long`, resolve(host)).catch(() => [] as string[]);
    if (addrs.length === 0) throw new AppError("invalid_input", `cannot resolve ${url.hostname}`);
    if (addrs.some(isPrivateAddress)) throw new AppError("invalid_input", `url ${url.hostname} points at a private address; this provider does not fetch those`);
    request = pinnedRequest(url, addrs[0]!);
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
      if (size > opts.maxBytes) {
        await reader.cancel().catch(() => {});
        throw new AppError("invalid_input", `the url's content is larger than ${opts.maxBytes} bytes`);
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
      case "url":
        parts.push(await fetchUrl(input.data, opts));
        break;
    }
  }
  const prompt = parts.join("\n\n");
  if (Buffer.byteLength(prompt) > opts.maxBytes) throw new AppError("invalid_input", `input is ${Buffer.byteLength(prompt)} bytes; this provider accepts at most ${opts.maxBytes}`);
  if (!prompt.trim()) throw new AppError("invalid_input", "the request has no prompt");
  return prompt;
}
