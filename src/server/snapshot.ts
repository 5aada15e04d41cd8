// The contract between the server and the UI: GET /api/state returns a Snapshot; every event on
// /api/events is {type, properties} and the UI folds it into the snapshot.
import { z } from "zod";
import { IdentityView } from "../identity/events.ts";
import { JobView } from "../jobs/events.ts";
import { ProviderView } from "../jobs/provider-events.ts";
import { BackendView, ModelView, OllamaView } from "../inference/events.ts";
import { RelayView } from "../nostr/events.ts";
import { WalletView } from "../wallet/events.ts";
import { Earnings } from "../ledger/events.ts";

export const Snapshot = z.object({
  version: z.string(),
  identity: IdentityView,
  provider: ProviderView,
  wallet: WalletView,
  earnings: Earnings,
  /** Active jobs first, then the most recent finished ones (at most 50). */
  jobs: z.array(JobView),
  ollama: OllamaView,
  models: z.array(ModelView),
  /** Each inference backend's health (one entry for the one-Ollama shorthand). */
  backends: z.array(BackendView).optional(),
  relays: z.array(RelayView),
});
export type Snapshot = z.infer<typeof Snapshot>;
