// How the provider is found and seen alive: the NIP-89 announcement (re-sent when what it says
// changes, withdrawn on going offline), the kind 0 profile, and the heartbeat. Relays keep one
// version of a replaceable event by created_at in whole seconds, so every event here is dated by
// the ordering rules below, never simply "now".
import type { Config } from "../config.ts";
import { createLogger } from "../log.ts";
import { buildAnnouncement, buildHeartbeat, buildProfile, buildWithdrawal, defaultParamRanges, HEARTBEAT_INTERVAL_SECS } from "../nostr/nip89.ts";
import type { EventTemplate, NostrEvent } from "../nostr/nip90.ts";
import type { EngineInference, EngineLedger, EnginePool, PublishOutcome } from "./ports.ts";

const log = createLogger("jobs");

export interface AnnouncerDeps {
  pool: Pick<EnginePool, "publish">;
  ledger: Pick<EngineLedger, "announcementTag" | "setAnnouncementTag" | "lastAnnouncementAt" | "setLastAnnouncementAt">;
  inference: Pick<EngineInference, "servedModels">;
  config: () => Config;
  pubkey: string;
  now: () => number;
  sign(template: EventTemplate): NostrEvent;
  /** Signs and publishes to our relays. */
  publish(template: EventTemplate): Promise<PublishOutcome[]>;
  /** Everything in flight is tracked so the engine's stop() can drain it. */
  track<T>(p: Promise<T>): Promise<T>;
  isOnline(): boolean;
  /** Tests shorten the heartbeat; default NIP-89 convention of 300 s. */
  heartbeatMs?: number;
  /** The heartbeat says "paused" while this gives a reason. */
  pausedReason?: () => string | null;
  /** A new announcement went out (the provider view shows its id). */
  onAnnounced(): void;
  /** Each heartbeat, before it is sent (housekeeping rides on it, no timer of its own). */
  onBeat(): void;
}

export class Announcer {
  private announcementId: string | null = null;
  private announcedModels = "";
  /** What our last kind 0 profile said (profileKey), so an unchanged profile is not sent again. */
  private publishedProfile: string | null = null;
  /** created_at (s) of our last kind 0 profile. */
  private profileSecs = 0;
  private heartbeat: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly deps: AnnouncerDeps) {}

  /** The id of the announcement out now; null when none is. */
  get id(): string | null {
    return this.announcementId;
  }

  /**
   * Going online: announcement, profile and first beat go out in the background (a relay that is
   * down would otherwise hold GO ONLINE until its publish deadline), then a beat every interval.
   * announce() sets the announcement's id at once.
   */
  start(): void {
    this.deps.track(this.announce());
    this.publishedProfile = null; // going online always (re)publishes the profile
    void this.publishProfile();
    this.deps.track(this.beat());
    this.heartbeat = setInterval(() => void this.deps.track(this.beat()), this.deps.heartbeatMs ?? HEARTBEAT_INTERVAL_SECS * 1000);
  }

  stopBeating(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  /** Going offline: withdraws the announcement (NIP-09), in the background; the engine's stop() waits (bounded) for it. */
  withdraw(): void {
    if (!this.announcementId) return;
    const d = this.announcementD();
    const now = this.nip89Time(false);
    this.deps.track(this.deps.publish(buildWithdrawal({ announcementId: this.announcementId, pubkey: this.deps.pubkey, d, now })).catch(() => {}));
    this.announcementId = null;
    this.announcedModels = "";
  }

  /** The served set or the settings changed: re-announce if the announcement would differ. */
  async modelsChanged(): Promise<void> {
    if (!this.deps.isOnline()) return;
    const models = this.deps.inference.servedModels();
    // Ollama briefly unreachable empties the list; announcing "no models" would only churn the
    // listing. Jobs meanwhile get an error feedback; the old announcement stays until models return.
    if (models.length === 0) return;
    if (this.announcementKey(models) !== this.announcedModels) await this.announce();
  }

  /** What our kind 0 profile would say; null when none is to be published (off, or no name). */
  private profileKey(): string | null {
    const p = this.deps.config().provider;
    return p.publishProfile && p.name ? JSON.stringify([p.name, p.about, p.picture]) : null;
  }

  /** Publishes the kind 0 profile unless it is off or says what the last one said. Never rejects. */
  publishProfile(): Promise<void> {
    const key = this.profileKey();
    if (key === null) this.publishedProfile = null;
    if (key === null || key === this.publishedProfile) return Promise.resolve();
    this.publishedProfile = key;
    const p = this.deps.config().provider;
    // Kind 0 is replaceable: of two with the same created_at relays keep the lowest id (NIP-01), so
    // a profile saved within the second of the previous one must be dated strictly later.
    this.profileSecs = Math.max(Math.floor(this.deps.now() / 1000), this.profileSecs + 1);
    const template = buildProfile({ name: p.name, about: p.about, picture: p.picture, now: this.profileSecs * 1000 });
    const sent = this.deps.publish(template).then(() => undefined, (err) => log.warn("profile not published", { err }));
    return this.deps.track(sent);
  }

  /** What the announcement says, to tell whether a new one is needed. */
  private announcementKey(models: string[]): string {
    const cfg = this.deps.config();
    const p = cfg.provider;
    return JSON.stringify([models, p.name, p.about, p.picture, cfg.pricing, cfg.limits.maxTokensCap]);
  }

  private announcementD(): string {
    let d = this.deps.ledger.announcementTag();
    if (!d) {
      d = Buffer.from(crypto.getRandomValues(new Uint8Array(8))).toString("hex");
      this.deps.ledger.setAnnouncementTag(d);
    }
    return d;
  }

  /**
   * The time (unix ms, whole seconds) for our next announcement (`after`) or withdrawal. Relays
   * compare created_at in seconds: of two versions of a replaceable event with the same created_at
   * they keep the lowest id (NIP-01), and a NIP-09 deletion by `a` tag removes every version up to
   * its own created_at, so a re-announcement in the same second as the previous announcement or
   * withdrawal could be dropped (going offline and online again within a second left no
   * announcement). Each announcement is therefore strictly later than the last NIP-89 event, a
   * withdrawal no earlier than the announcement it withdraws. Kept in the ledger so a quick
   * restart follows the same rule.
   */
  private nip89Time(after: boolean): number {
    const now = Math.floor(this.deps.now() / 1000);
    try {
      const raw = this.deps.ledger.lastAnnouncementAt() ?? 0;
      const last = Number.isSafeInteger(raw) && raw > 0 ? raw : 0;
      const t = Math.max(now, after ? last + 1 : last);
      this.deps.ledger.setLastAnnouncementAt(t);
      return t * 1000;
    } catch (err) {
      log.warn("could not read or keep the last announcement time", { err });
      return now * 1000;
    }
  }

  private async announce(): Promise<void> {
    const cfg = this.deps.config();
    const models = this.deps.inference.servedModels();
    const event = this.deps.sign(
      buildAnnouncement({
        d: this.announcementD(),
        name: cfg.provider.name,
        about: cfg.provider.about,
        picture: cfg.provider.picture || undefined,
        models,
        paramRanges: defaultParamRanges(cfg.limits.maxTokensCap),
        pricing: cfg.pricing,
        encryption: true,
        pubkey: this.deps.pubkey,
        relays: cfg.relays,
        now: this.nip89Time(true),
      }),
    );
    this.announcementId = event.id;
    this.announcedModels = this.announcementKey(models);
    await this.deps.pool.publish(event).catch((err) => log.warn("announcement failed", { err }));
    this.deps.onAnnounced();
  }

  private async beat(): Promise<void> {
    if (!this.deps.isOnline()) return;
    this.deps.onBeat();
    await this.deps.publish(buildHeartbeat({ d: this.announcementD(), now: this.deps.now(), paused: this.deps.pausedReason?.() != null })).catch((err) => log.warn("heartbeat failed", { err }));
  }
}
