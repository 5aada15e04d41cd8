// What /api/events streams, typed by the server's own event definitions (each domain's events.ts).
// Type-only imports: nothing of src/ or zod reaches the bundle. The server is the same program as
// this page (it serves the bundle, and a restarted app ends the page's session), and its payloads
// are built by its services against these schemas, so the client folds them without re-checking
// their shape; only the frame itself (JSON with a string `type`) is checked where it arrives.
import type { z } from "zod";
import type { EventDef } from "../src/bus.ts";
import type { IdentityChanged } from "../src/identity/events.ts";
import type { BackendsChanged, ModelsChanged, OllamaStatusChanged, PullProgress } from "../src/inference/events.ts";
import type { JobProgress, JobStatusChanged } from "../src/jobs/events.ts";
import type { ProviderChanged } from "../src/jobs/provider-events.ts";
import type { EarningsChanged } from "../src/ledger/events.ts";
import type { RelayListChanged, RelayStatusChanged } from "../src/nostr/events.ts";
import type { PaymentReceived, WalletStatusChanged } from "../src/wallet/events.ts";

type Payload<D> = D extends EventDef<infer S> ? z.output<S> : never;

/** Each streamed type and its payload. The names are the `defineEvent` names (test/ui/events.test.ts checks they match). */
export interface StreamPayloads {
  "server.connected": Record<string, never>;
  "server.heartbeat": Record<string, never>;
  "job.status.changed": Payload<typeof JobStatusChanged>;
  "job.progress.updated": Payload<typeof JobProgress>;
  "relay.status.changed": Payload<typeof RelayStatusChanged>;
  "relay.list.changed": Payload<typeof RelayListChanged>;
  "ollama.status.changed": Payload<typeof OllamaStatusChanged>;
  "ollama.models.changed": Payload<typeof ModelsChanged>;
  "ollama.pull.progress": Payload<typeof PullProgress>;
  "inference.backends.changed": Payload<typeof BackendsChanged>;
  "wallet.status.changed": Payload<typeof WalletStatusChanged>;
  "wallet.payment.received": Payload<typeof PaymentReceived>;
  "earnings.totals.changed": Payload<typeof EarningsChanged>;
  "identity.state.changed": Payload<typeof IdentityChanged>;
  "provider.state.changed": Payload<typeof ProviderChanged>;
}

export type StreamType = keyof StreamPayloads;
/** One streamed event, narrowed by `type`. A type this page does not know is left to `default:`. */
export type StreamEvent = { [K in StreamType]: { type: K; properties: StreamPayloads[K] } }[StreamType];

// A record, not a list, so leaving a type out does not compile.
const TYPES: Record<StreamType, true> = {
  "server.connected": true,
  "server.heartbeat": true,
  "job.status.changed": true,
  "job.progress.updated": true,
  "relay.status.changed": true,
  "relay.list.changed": true,
  "ollama.status.changed": true,
  "ollama.models.changed": true,
  "ollama.pull.progress": true,
  "inference.backends.changed": true,
  "wallet.status.changed": true,
  "wallet.payment.received": true,
  "earnings.totals.changed": true,
  "identity.state.changed": true,
  "provider.state.changed": true,
};
/** Every event type the server streams, for servers that name their SSE events. */
export const STREAM_TYPES = Object.keys(TYPES) as StreamType[];
