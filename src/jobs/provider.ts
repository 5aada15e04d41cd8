// The provider as the dashboard sees it (online or not, why not, prices, the schedule's state) and
// GO ONLINE / GO OFFLINE. The facts come from the running parts through getters: the engine exists
// only while unlocked, the pool and payments likewise.
import type { Config } from "../config.ts";
import type { Router } from "../inference/router.ts";
import type { SentinelView } from "../service/sentinel.ts";
import { AppError } from "../errors.ts";
import { blockers, inferenceDown, notSellingNowError, UNLOCK_FIRST, type BlockerFacts } from "./blockers.ts";
import type { Engine } from "./engine.ts";
import type { OnlineKeeper } from "./online.ts";
import type { ProviderView } from "./provider-events.ts";

export interface ProviderDeps {
  config: () => Config;
  engine: () => Pick<Engine, "view" | "goOnline" | "goOffline"> | null;
  inference: () => Pick<Router, "view" | "servedModels" | "backends" | "refresh">;
  /** The schedule, limits and busy probes; null before they start. */
  sentinel: () => { view(): SentinelView; offline(): string | null } | null;
  identity: () => BlockerFacts["identity"];
  wallet: () => BlockerFacts["wallet"];
  relays: () => BlockerFacts["relays"];
  online: Pick<OnlineKeeper, "release">;
  /** The view changed: tell the UI. */
  changed: () => void;
}

export class ProviderControl {
  constructor(private readonly deps: ProviderDeps) {}

  view(): ProviderView {
    const s = this.deps.sentinel()?.view();
    return { ...this.base(), ...(s && { paused: s.paused, offline: s.offline, offlineUntil: s.until, today: s.today }) };
  }

  private base(): ProviderView {
    const { online, announcementId } = this.deps.engine()?.view() ?? { online: false, announcementId: null };
    const { pricing } = this.deps.config();
    return { online, blockers: online ? [] : this.blockers(), paymentMode: pricing.mode, perJobMsats: pricing.perJobMsats, per1kTokensMsats: pricing.per1kTokensMsats, announcementId };
  }

  blockers(): string[] {
    return blockers({
      notSelling: this.deps.sentinel()?.offline() ?? null,
      identity: this.deps.identity(),
      inference: this.inferenceFacts(),
      paymentMode: this.deps.config().pricing.mode,
      wallet: this.deps.wallet(),
      relays: this.deps.relays(),
    });
  }

  private inferenceFacts() {
    const inference = this.deps.inference();
    const { reachable, url } = inference.view();
    return { reachable, url, servedModels: inference.servedModels().length, backends: inference.backends() };
  }

  async setOnline(online: boolean): Promise<void> {
    const engine = this.deps.engine();
    if (!online) {
      // The person's choice wins over --online for the rest of this run.
      this.deps.online.release();
      await engine?.goOffline();
      this.deps.changed();
      return;
    }
    if (!engine) throw new AppError("locked", this.blockers()[0] ?? UNLOCK_FIRST);
    const gate = this.deps.sentinel()?.offline();
    if (gate) throw new AppError("unavailable", notSellingNowError(gate));
    const inference = this.deps.inference();
    if (inference.servedModels().length === 0) {
      await inference.refresh();
      // "No model to serve" would send the person to pull a model when Ollama isn't even running.
      if (!inference.view().reachable) throw new AppError("unavailable", inferenceDown(this.inferenceFacts()));
    }
    // Read again after the wait: a lock meanwhile must not go unnoticed. Going online tells the
    // dashboards itself (EngineDeps.onChanged).
    await this.deps.engine()!.goOnline();
    // The signer compiled before the first burst, in slices that wait while jobs sign: the first
    // jobs don't pay for compiling it.
    // The pool has loaded the module already: this import costs nothing.
    void import("../nostr/signer.ts").then((m) => m.warmUpSigner());
  }
}
