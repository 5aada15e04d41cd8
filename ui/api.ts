// The dashboard's only channel to the app: same-origin fetch for the snapshot and commands, and one
// EventSource for the live stream. The session is an HttpOnly cookie set by the server when the page
// is opened with ?token=…, so nothing here handles secrets beyond passing user input through.
import type { Limits, Pause, Pricing, Schedule } from "../src/config.ts";
import type { BackendInput, BreezKeyView, IdentityApi, ProfileSettings, SendPreview, SendResult as ServerSendResult, Settings as ServerSettings, WalletApi } from "../src/server/controller.ts";
import type { Snapshot } from "./state.ts";
import { parseStreamData, type StreamEvent } from "./state.ts";
import { STREAM_TYPES } from "./events.ts";
import type { WalletHistory } from "./history.ts";

export class ApiError extends Error {
  constructor(
    public readonly name: string,
    message: string,
    public readonly status: number,
    public readonly data: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

const DEFAULT_TIMEOUT_MS = 15_000;

/** Calls the API; a 4xx/5xx answer becomes an ApiError carrying the server's own message. */
export async function api<T>(method: string, path: string, body?: unknown, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: body === undefined ? { accept: "application/json" } : { accept: "application/json", "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const timedOut = err instanceof DOMException && err.name === "TimeoutError";
    throw new ApiError(
      timedOut ? "timeout" : "network",
      timedOut ? "The app took too long to answer. Try again." : "Can't reach the compute app. Is it still running?",
      0,
    );
  }
  const text = await res.text();
  let json: unknown = null;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
  }
  if (!res.ok) {
    const e = (json as { error?: { name?: unknown; message?: unknown } } | null)?.error;
    const message = typeof e?.message === "string" && e.message ? e.message : `The app answered ${res.status} ${res.statusText}.`;
    const name = typeof e?.name === "string" ? e.name : res.status === 401 ? "unauthorized" : "http_error";
    throw new ApiError(name, message, res.status, (e as Record<string, unknown>) ?? {});
  }
  return json as T;
}

export const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

// ---- commands ------------------------------------------------------------------------------------

export type { BackendInput, BreezKeyView, ProfileSettings, SendPreview };
/**
 * GET /api/settings. The server types pricing, limits, schedule and pause loosely (records); they
 * are the config's own shapes, which the form reads field by field.
 */
export type Settings = Omit<ServerSettings, "pricing" | "limits" | "schedule" | "pause"> & {
  pricing: Pricing;
  limits: Limits;
  schedule?: Schedule;
  pause?: Pause;
};
export type ValidateResult = ReturnType<IdentityApi["validateMnemonic"]>;
export type ReceiveResult = Awaited<ReturnType<WalletApi["walletReceive"]>>;
/** What a send did (only "completed" has certainly paid), with the route's `ok`: not failed. */
export type SendResult = ServerSendResult & { ok: boolean };

export const getState = () => api<Snapshot>("GET", "/api/state");
export const setOnline = (online: boolean) => api<unknown>("POST", "/api/provider/online", { online });
export const setServedModels = (models: string[] | null) => api<unknown>("PUT", "/api/models/served", { models });
// A pull answers when it starts; progress comes over the stream (ollama.pull.progress).
export const pullModel = (model: string) => api<unknown>("POST", "/api/models/pull", { model });
export const addRelay = (url: string) => api<unknown>("POST", "/api/relays", { url });
export const removeRelay = (url: string) => api<unknown>("DELETE", "/api/relays", { url });
/** Checks the backend answers as its type, then saves and starts it (can take a few seconds). */
export const addBackend = (b: BackendInput) => api<unknown>("POST", "/api/backends", b, 15_000);
export const removeBackend = (name: string) => api<unknown>("DELETE", "/api/backends", { name });
export const getSettings = () => api<Settings>("GET", "/api/settings");
export const putSettings = (patch: { pricing?: Record<string, unknown>; limits?: Partial<Limits>; provider?: Partial<ProfileSettings>; schedule?: Record<string, unknown>; pause?: Record<string, unknown> }) =>
  api<unknown>("PUT", "/api/settings", patch);
export const generateMnemonic = (words: 12 | 24) => api<{ mnemonic: string }>("POST", "/api/onboarding/generate", { words });
export const validateMnemonic = (mnemonic: string) => api<ValidateResult>("POST", "/api/onboarding/validate", { mnemonic });
export const suggestWords = (prefix: string) =>
  api<{ words: string[] }>("GET", `/api/onboarding/suggest?prefix=${encodeURIComponent(prefix)}`, undefined, 5_000);
// Creating the vault runs a slow password hash on purpose: allow it more time.
export const createIdentity = (mnemonic: string, password: string, passphrase?: string) =>
  api<{ npub: string }>("POST", "/api/onboarding/create", passphrase ? { mnemonic, passphrase, password } : { mnemonic, password }, 60_000);
export const unlock = (password: string) => api<unknown>("POST", "/api/unlock", { password }, 60_000);
export const lock = () => api<unknown>("POST", "/api/lock");
export const revealMnemonic = (password: string) => api<{ mnemonic: string }>("POST", "/api/identity/reveal", { password }, 60_000);
export const walletReceive = (amountSats?: number) =>
  api<ReceiveResult>("POST", "/api/wallet/receive", amountSats === undefined ? {} : { amountSats }, 30_000);
export const walletSendPrepare = (destination: string, amountSats?: number) =>
  api<SendPreview>("POST", "/api/wallet/send/prepare", amountSats === undefined ? { destination } : { destination, amountSats }, 30_000);
// Money leaves only with the vault password (checked slowly on purpose, then the send itself).
export const walletSendConfirm = (id: string, password: string) => api<SendResult>("POST", "/api/wallet/send/confirm", { id, password }, 90_000);
export const walletSetBreezKey = (apiKey: string) => api<BreezKeyView>("PUT", "/api/wallet/breez-key", { apiKey }, 30_000);
export const walletSetLightningAddress = (username: string) =>
  api<{ lightningAddress: { address: string; lnurl: string | null } }>("PUT", "/api/wallet/lightning-address", { username }, 30_000);
export const walletDeleteLightningAddress = () => api<{ ok: true }>("DELETE", "/api/wallet/lightning-address", undefined, 30_000);
export const walletHistory = (limit = 50) => api<WalletHistory>("GET", `/api/wallet/payments?limit=${limit}`, undefined, 30_000);
export const cancelJob = (id: string) => api<unknown>("POST", `/api/jobs/${encodeURIComponent(id)}/cancel`);

// ---- the live stream -----------------------------------------------------------------------------

export interface StreamHandlers {
  onEvent: (ev: StreamEvent) => void;
  onStatus: (status: "live" | "reconnecting" | "unauthorized") => void;
}

/** A heartbeat comes every 10 s; three missed means the connection is dead even if not closed. */
const STALE_MS = 30_000;

/**
 * Opens /api/events and keeps it open: EventSource retries by itself after a network drop, but gives
 * up for good on an HTTP error (e.g. 401 after the app restarted), so that case is retried here with
 * a growing delay, after asking /api/state whether the session is still valid.
 */
export function connectStream(h: StreamHandlers, url = "/api/events"): () => void {
  let es: EventSource | null = null;
  let stopped = false;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let staleTimer: ReturnType<typeof setInterval> | undefined;
  let lastSeen = Date.now();
  let delay = 1_000;

  const deliver = (data: unknown) => {
    lastSeen = Date.now();
    const ev = parseStreamData(data);
    if (!ev) return;
    if (ev.type === "server.connected") {
      delay = 1_000;
      h.onStatus("live");
    }
    h.onEvent(ev);
  };

  const open = () => {
    if (stopped) return;
    es?.close();
    const source = new EventSource(url, { withCredentials: true });
    es = source;
    lastSeen = Date.now();
    source.onmessage = (m) => deliver(m.data);
    // If the server names its events (`event: job.status.changed`) onmessage never fires for them.
    for (const t of STREAM_TYPES) source.addEventListener(t, (m) => deliver((m as MessageEvent).data));
    source.onerror = () => {
      if (stopped || es !== source) return;
      if (source.readyState === EventSource.CLOSED) {
        void retry();
      } else {
        h.onStatus("reconnecting");
      }
    };
  };

  const retry = async () => {
    es?.close();
    es = null;
    h.onStatus("reconnecting");
    try {
      await getState();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        h.onStatus("unauthorized");
        return; // only a fresh link from the app can fix this
      }
    }
    clearTimeout(retryTimer);
    retryTimer = setTimeout(open, delay);
    delay = Math.min(delay * 2, 15_000);
  };

  staleTimer = setInterval(() => {
    if (es && Date.now() - lastSeen > STALE_MS) void retry();
  }, 5_000);
  open();

  return () => {
    stopped = true;
    clearTimeout(retryTimer);
    clearInterval(staleTimer);
    es?.close();
    es = null;
  };
}
