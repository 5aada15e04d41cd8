// Discoverability, as a customer's client sees it: does this relay return our announcement for the
// query clients use ({kinds:[31990], "#k":["5050"]}), and is our heartbeat (kind 11998) fresh?
import { generateSecretKey } from "nostr-tools/pure";
import { Bus } from "../bus.ts";
import { errorMessage } from "../errors.ts";
import { HANDLER_INFO, HEARTBEAT, JOB_REQUEST_TEXT } from "../nostr/kinds.ts";
import { RelayPool } from "../nostr/pool.ts";
import { ALIVE_SECS } from "./aggregate.ts";

export interface Discoverability {
  relay: string;
  /** Our announcement came back for the #k=5050 query. */
  announcement: boolean;
  /** Seconds since our latest heartbeat there; null when there is none. */
  heartbeatAgeSecs: number | null;
  /** A beat at most ALIVE_SECS old: clients count us alive. */
  heartbeatFresh: boolean;
  error: string | null;
}

export async function checkDiscoverable(relay: string, pubkey: string, timeoutMs: number, now = Date.now): Promise<Discoverability> {
  const pool = new RelayPool({ relays: [relay], bus: new Bus(), signer: { secretKey: generateSecretKey() }, timeouts: { connectMs: timeoutMs, fetchMs: timeoutMs } });
  pool.start();
  try {
    // The same query a client runs (no author filter), then ours among the answers: a relay that
    // only answers author queries would not list us to a client browsing providers.
    const [announcements, beats] = await Promise.all([
      pool.fetch([{ kinds: [HANDLER_INFO], "#k": [String(JOB_REQUEST_TEXT)], limit: 500 }], { timeoutMs }),
      pool.fetch([{ kinds: [HEARTBEAT], authors: [pubkey], limit: 5 }], { timeoutMs }),
    ]);
    const announced = announcements.some((e) => e.pubkey === pubkey);
    const ours = beats.filter((e) => e.pubkey === pubkey);
    const latest = ours.length ? Math.max(...ours.map((e) => e.created_at)) : null;
    const age = latest === null ? null : Math.max(0, Math.floor(now() / 1000) - latest);
    const reached = pool.views()[0]?.state === "connected" || announcements.length > 0 || beats.length > 0;
    return { relay, announcement: announced, heartbeatAgeSecs: age, heartbeatFresh: age !== null && age <= ALIVE_SECS, error: reached ? null : (pool.views()[0]?.error ?? "the relay did not answer") };
  } catch (err) {
    return { relay, announcement: false, heartbeatAgeSecs: null, heartbeatFresh: false, error: errorMessage(err) };
  } finally {
    await pool.stop();
  }
}
