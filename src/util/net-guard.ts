// Where a customer may make this provider connect: url inputs and customer-named relays (the
// `relays` tag, relay hints of event/job inputs) must not reach the operator's own network
// (Ollama on 127.0.0.1, the router, a NAS) or addresses that are not the public internet.
// Host names are resolved and every address they give is checked.
import { isIP } from "node:net";
import { lookup } from "node:dns/promises";
import { withTimeout } from "./timeout.ts";

function v4Private(b: number[]): boolean {
  const [a, c, d] = b as [number, number, number];
  return (
    a === 0 || // "this" network
    a === 10 ||
    a === 127 ||
    (a === 100 && c >= 64 && c <= 127) || // shared address space (CGNAT)
    (a === 169 && c === 254) || // link-local
    (a === 172 && c >= 16 && c <= 31) ||
    (a === 192 && c === 168) ||
    (a === 192 && c === 0 && d === 0) || // IETF protocol assignments
    (a === 192 && c === 0 && d === 2) || // TEST-NET-1 (documentation)
    (a === 192 && c === 88 && d === 99) || // 6to4 relay anycast (deprecated)
    (a === 198 && (c === 18 || c === 19)) || // benchmarking
    (a === 198 && c === 51 && d === 100) || // TEST-NET-2
    (a === 203 && c === 0 && d === 113) || // TEST-NET-3
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
 * Whether an IP literal is anything but a public unicast address: loopback, private, link-local,
 * shared, multicast, unspecified, benchmarking or documentation ranges. IPv6 forms that embed an
 * IPv4 address (mapped ::ffff:a.b.c.d, SIIT ::ffff:0:a.b.c.d, compatible ::a.b.c.d, NAT64
 * 64:ff9b::/96, 6to4 2002::/16) are judged by that address; the NAT64 local-use prefix
 * 64:ff9b:1::/48 and Teredo (2001::/32, its client address is hidden) are refused whole.
 * Anything unreadable counts as private.
 */
export function isPrivateAddress(ip: string): boolean {
  if (isIP(ip) === 4) return v4Private(ip.split(".").map(Number));
  if (isIP(ip.replace(/%.*$/, "")) !== 6) return true;
  const b = v6Bytes(ip);
  if (!b || b.length !== 16) return true;
  const zero = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  const is = (...prefix: number[]) => prefix.every((x, i) => b[i] === x);
  if (zero(0, 16)) return true; // ::
  if (zero(0, 15) && b[15] === 1) return true; // ::1
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) return v4Private(b.slice(12)); // ::ffff:a.b.c.d
  if (zero(0, 8) && b[8] === 0xff && b[9] === 0xff && zero(10, 12)) return v4Private(b.slice(12)); // ::ffff:0:a.b.c.d (SIIT)
  if (zero(0, 12)) return v4Private(b.slice(12)); // ::a.b.c.d (deprecated compatible form)
  if (is(0x00, 0x64, 0xff, 0x9b) && zero(4, 12)) return v4Private(b.slice(12)); // NAT64 64:ff9b::/96
  if (is(0x00, 0x64, 0xff, 0x9b, 0x00, 0x01)) return true; // NAT64 local-use 64:ff9b:1::/48
  if (is(0x01, 0x00) && zero(2, 8)) return true; // 100::/64 discard-only
  if (is(0x20, 0x01, 0x00, 0x00)) return true; // Teredo 2001::/32
  if (is(0x20, 0x01, 0x0d, 0xb8)) return true; // 2001:db8::/32 documentation
  if (b[0] === 0x3f && b[1] === 0xff && (b[2]! & 0xf0) === 0) return true; // 3fff::/20 documentation
  if (is(0x20, 0x02)) return v4Private(b.slice(2, 6)); // 6to4
  if ((b[0]! & 0xfe) === 0xfc) return true; // fc00::/7 unique local
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) return true; // fe80::/10 link-local
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0xc0) return true; // fec0::/10 old site-local
  if (b[0] === 0xff) return true; // multicast
  return false;
}

/** Names that mean this machine whatever DNS says (a trailing dot is the same name). */
export function isLocalName(host: string): boolean {
  const h = host.toLowerCase().replace(/\.+$/, "");
  return h === "localhost" || h.endsWith(".localhost") || h === "";
}

export type HostResolver = (host: string) => Promise<string[]>;
export const systemResolve: HostResolver = async (host) => (await lookup(host, { all: true })).map((a) => a.address);

export type HostCheck = { ok: true; addresses: string[] } | { ok: false; reason: string };

/**
 * Resolves `host` (a name or an IP literal, brackets allowed) and checks every address it gives:
 * one private address is enough to refuse (a name with a public and a private address could be
 * steered to the private one). Never throws.
 */
export async function checkHost(host: string, opts: { resolve?: HostResolver; timeoutMs?: number } = {}): Promise<HostCheck> {
  const h = host.replace(/^\[|\]$/g, "");
  if (isLocalName(h)) return { ok: false, reason: `${host} is a local name` };
  let addrs: string[];
  if (isIP(h)) addrs = [h];
  else {
    try {
      addrs = await withTimeout((opts.resolve ?? systemResolve)(h), opts.timeoutMs ?? 5000, "timeout");
    } catch {
      addrs = [];
    }
  }
  if (addrs.length === 0) return { ok: false, reason: `cannot resolve ${host}` };
  if (addrs.some(isPrivateAddress)) return { ok: false, reason: `${host} points at a private address` };
  return { ok: true, addresses: addrs };
}

/**
 * At most `max` holders at once; acquire() waits its turn (first come, first served) or, with
 * tryAcquire(), says no at once. Each returns a release function (calling it twice is harmless).
 */
export class Slots {
  private used = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(public max: number) {}

  get inUse(): number {
    return this.used;
  }

  tryAcquire(): (() => void) | null {
    if (this.used >= this.max) return null;
    this.used++;
    return this.releaser();
  }

  async acquire(signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    if (this.used < this.max) {
      this.used++;
      return this.releaser();
    }
    await new Promise<void>((resolve, reject) => {
      const go = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(go);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal!.reason);
      };
      this.waiting.push(go);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
    return this.releaser();
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter (used stays the same).
      if (next) next();
      else this.used--;
    };
  }
}
