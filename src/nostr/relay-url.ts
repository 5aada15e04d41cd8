// Relay URL policy: the canonical form of a relay URL, and which relays a customer may make us
// contact (NIP-90 `relays` tag: only wss:// to public hosts). No I/O; a name that is not an IP
// literal is resolved and checked by the pool (net-guard's checkHost) before it connects.
import { isIP } from "node:net";
import { AppError, errorMessage } from "../errors.ts";
import { isLocalName, isPrivateAddress } from "../util/net-guard.ts";

/** Canonical relay URL: lower-case scheme and host, no default port, no trailing slash, no hash. */
export function normalizeRelayUrl(input: string): string {
  let u: URL;
  try {
    u = new URL(input.trim());
  } catch {
    throw new AppError("invalid_input", `not a relay URL: ${JSON.stringify(input.slice(0, 200))}`);
  }
  if (u.protocol !== "ws:" && u.protocol !== "wss:") {
    throw new AppError("invalid_input", `relay URL must start with ws:// or wss://: ${u.protocol}`);
  }
  if (u.username || u.password) throw new AppError("invalid_input", "relay URL must not carry credentials");
  u.hash = "";
  const path = u.pathname.replace(/\/+$/, "");
  return `${u.protocol}//${u.host}${path}${u.search}`;
}

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Local names and IP literals that are not public addresses (the url guard's rules: NAT64, 6to4,
 * mapped forms, documentation ranges …). Other names are resolved and checked before connecting.
 */
function isPrivateHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "");
  if (isIP(bare)) return isPrivateAddress(bare);
  return isLocalName(bare);
}

export type ExtraRelayCheck = { ok: true; url: string } | { ok: false; reason: string };

/**
 * Policy for relays named by a customer (NIP-90 `relays` tag): only wss:// to public hosts, so a
 * request can't make us talk plain text or reach the operator's own network. ws:// (and wss://)
 * to loopback is allowed only with allowInsecureLocal, which exists for tests.
 */
export function checkExtraRelayUrl(input: unknown, allowInsecureLocal: boolean): ExtraRelayCheck {
  if (typeof input !== "string" || input.length === 0 || input.length > 512) return { ok: false, reason: "not a relay URL" };
  let url: string;
  try {
    url = normalizeRelayUrl(input);
  } catch (err) {
    return { ok: false, reason: errorMessage(err) };
  }
  const u = new URL(url);
  const loopback = isLoopbackHost(u.hostname);
  if (loopback && allowInsecureLocal) return { ok: true, url };
  if (u.protocol !== "wss:") return { ok: false, reason: "only wss:// relays are accepted" };
  if (isPrivateHost(u.hostname)) return { ok: false, reason: "local and private addresses are not accepted" };
  return { ok: true, url };
}

/** Normalized, first occurrence kept, in order. Throws on a URL that is not a relay URL. */
export function dedupeUrls(urls: string[]): string[] {
  const out: string[] = [];
  for (const u of urls) {
    const n = normalizeRelayUrl(u);
    if (!out.includes(n)) out.push(n);
  }
  return out;
}
