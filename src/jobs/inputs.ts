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

export function isPrivateAddress(ip: string): boolean {
  if (isIP(ip) === 4) {
    const [a, b] = ip.split(".").map(Number) as [number, number];
    return a === 10 || a === 127 || a === 0 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254) || (a === 100 && b >= 64 && b <= 127) || a >= 224;
  }
  const v6 = ip.toLowerCase();
  if (v6.startsWith("::ffff:")) return isPrivateAddress(v6.slice(7));
  return v6 === "::1" || v6 === "::" || v6.startsWith("fc") || v6.startsWith("fd") || v6.startsWith("fe80");
}

async function fetchUrl(raw: string, opts: ResolveOptions): Promise<string> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new AppError("invalid_input", `input url ${raw.slice(0, 100)} is not a valid URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new AppError("invalid_input", "url inputs must be http:// or https://");
  if (!opts.allowPrivateUrls) {
    const host = url.hostname.replace(/^\[|\]$/g, "");
    const addrs = isIP(host) ? [host] : (await lookup(host, { all: true }).catch(() => [])).map((a) => a.address);
    if (addrs.length === 0) throw new AppError("invalid_input", `cannot resolve ${url.hostname}`);
    if (addrs.some(isPrivateAddress)) throw new AppError("invalid_input", `url ${url.hostname} points at a private address; this provider does not fetch those`);
  }
  const signal = AbortSignal.any([AbortSignal.timeout(opts.urlTimeoutMs ?? 10_000), ...(opts.signal ? [opts.signal] : [])]);
  const res = await fetch(url, { signal, redirect: "error" }).catch((err) => {
    throw new AppError("invalid_input", `could not fetch ${url.hostname}: ${(err as Error).message}`);
  });
  if (!res.ok) throw new AppError("invalid_input", `fetching ${url.hostname} gave HTTP ${res.status}`);
  const reader = res.body?.getReader();
  if (!reader) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > opts.maxBytes) {
      await reader.cancel();
      throw new AppError("invalid_input", `the url's content is larger than ${opts.maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
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
