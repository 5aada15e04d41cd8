// The market, computed from stored records: other kind-5050 providers (and us among them), the
// demand (requests, models, bids, answered or not) and the prices seen. Pure: records in, a report
// out. Robust by construction: prices are medians of per-provider medians (a provider flooding
// feedback counts once), a customer's requests count at most FLOOD_CAP_PER_HOUR per hour, amounts
// beyond plausibility never got into a record (records.ts), and every figure carries its count.
import { modelKey } from "../inference/model-name.ts";
import { HANDLER_INFO, HEARTBEAT, JOB_FEEDBACK, JOB_REQUEST_TEXT, JOB_RESULT_TEXT, PROFILE } from "../nostr/kinds.ts";
import { MAX_RESULT_SECS, normalizeModel, sizeClass, type MarketRecord, type SizeClass } from "./records.ts";
import { median, summarize, type Summary } from "./stats.ts";

/** Clients treat a provider as alive while its latest beat is at most 900 s old (PROTOCOL.md). */
export const ALIVE_SECS = 900;
/** A request with no result after this long is counted as unserved (before: pending). */
export const UNSERVED_AFTER_SECS = 600;
/** Requests one customer can add to the demand per hour of the window; beyond it, a flood. */
export const FLOOD_CAP_PER_HOUR = 20;
/** An event that arrived within this of its created_at came live: its arrival time is finer than created_at. */
const LIVE_SLACK_MS = 30_000;

export interface ProviderRow {
  pubkey: string;
  me: boolean;
  name: string | null;
  picture: string | null;
  about: string | null;
  models: string[];
  announced: boolean;
  /** Latest heartbeat, feedback or result they signed (unix s); null if never seen alive. */
  lastSeen: number | null;
  alive: boolean;
  paused: boolean;
  jobsAnswered: number;
  /** Median request → result time in seconds (from arrival times when both came live, else created_at). */
  medianResultSecs: number | null;
  resultTimes: number;
  /** Per-job prices seen (msats): `amount` of payment-required feedback and of results, one per job. */
  pricePerJob: Summary;
  /** Per-1k-token prices derived from results (amount ÷ estimated output tokens × 1000). */
  pricePer1kTokens: Summary;
  /** What the announcement states (msats), if it states anything. */
  listedPerJobMsats: number | null;
  listedPer1kTokensMsats: number | null;
  encryption: boolean;
  /** Per-model per-job price medians seen (model → msats). */
  modelPrices: Record<string, number>;
}

export interface ModelDemand {
  model: string;
  requests: number;
  customers: number;
  answered: number;
  medianBidMsats: number | null;
}

export interface UnservedDemand {
  requests: number;
  /** Of those, the ones this provider could have taken (a model it serves or none asked, not addressed to another). */
  forMe: number;
  forMeBids: Summary;
  forMeModels: Record<string, number>;
}

export interface Demand {
  requests: number;
  /** After the per-customer flood cap. */
  countedRequests: number;
  customers: number;
  /** Customers whose requests went over the flood cap. */
  floods: number;
  requestsPerHour: number;
  encrypted: number;
  models: ModelDemand[];
  /** Medians of per-customer medians (msats). */
  bids: Summary;
  answered: number;
  answeredBy: Record<string, number>;
  pending: number;
  unserved: UnservedDemand;
}

export interface ModelPrice {
  model: string;
  sizeClass: SizeClass | null;
  /** Providers with a per-job price for this model (seen or listed). */
  providers: number;
  medianPerJobMsats: number | null;
  medianPer1kTokensMsats: number | null;
  medianResultSecs: number | null;
}

export interface MarketReport {
  generatedAt: number;
  since: number;
  windowHours: number;
  records: number;
  providers: ProviderRow[];
  demand: Demand;
  prices: ModelPrice[];
  /** Our own rank by jobs answered (1-based) among providers seen, null when we are not among them. */
  myRank: number | null;
}

export interface AggregateOptions {
  /** unix ms */
  now: number;
  /** unix s: only traffic at or after this counts. */
  since: number;
  /** Our pubkey (hex): marks our row. */
  me?: string | null;
  /** The models we serve: for "unserved demand we could have taken". */
  myModels?: string[];
}

/** A model's key in the report: the name as records keep it (records.ts normalizeModel), keyed as model-name.ts does. */
export const reportModelKey = (m: string) => modelKey(normalizeModel(m));

export function aggregate(records: readonly MarketRecord[], opts: AggregateOptions): MarketReport {
  const nowSec = Math.floor(opts.now / 1000);
  const since = Math.min(opts.since, nowSec);
  const windowHours = Math.max((nowSec - since) / 3600, 1 / 60);
  const me = opts.me ?? null;
  const myModels = new Set((opts.myModels ?? []).map(reportModelKey));

  const requests = new Map<string, MarketRecord>();
  const results: MarketRecord[] = [];
  const feedback: MarketRecord[] = [];
  const announcements = new Map<string, MarketRecord>();
  const profiles = new Map<string, MarketRecord>();
  const lastAlive = new Map<string, { at: number; paused: boolean }>();
  const alive = (pk: string, at: number, paused = false) => {
    const cur = lastAlive.get(pk);
    if (!cur || at > cur.at) lastAlive.set(pk, { at, paused });
  };

  for (const r of records) {
    switch (r.kind) {
      case JOB_REQUEST_TEXT:
        if (r.createdAt >= since) requests.set(r.id, r);
        break;
      case JOB_RESULT_TEXT:
        results.push(r);
        break;
      case JOB_FEEDBACK:
        feedback.push(r);
        break;
      case HANDLER_INFO: {
        const cur = announcements.get(r.pubkey);
        if (!cur || r.createdAt > cur.createdAt) announcements.set(r.pubkey, r);
        break;
      }
      case HEARTBEAT:
        alive(r.pubkey, r.createdAt, r.status === "paused");
        break;
      case PROFILE: {
        const cur = profiles.get(r.pubkey);
        if (!cur || r.createdAt > cur.createdAt) profiles.set(r.pubkey, r);
        break;
      }
    }
  }

  // Providers: announced for 5050, or signed a result/feedback to a 5050 request we saw.
  const providerKeys = new Set<string>(announcements.keys());
  for (const r of results) if (requests.has(r.ref!)) providerKeys.add(r.pubkey);
  for (const f of feedback) if (requests.has(f.ref!)) providerKeys.add(f.pubkey);
  for (const r of [...results, ...feedback]) if (providerKeys.has(r.pubkey)) alive(r.pubkey, r.createdAt);

  // Who answered what (a result within the window answering a request within the window).
  const answeredBy = new Map<string, Set<string>>(); // request id → providers
  interface Acc {
    jobs: Set<string>;
    times: number[];
    jobPrice: Map<string, number>; // request id → msats (payment-required wins over the result's)
    per1k: number[];
    modelPrices: Map<string, number[]>;
    encryptedAnswered: boolean;
  }
  const acc = new Map<string, Acc>();
  const accOf = (pk: string): Acc => {
    let a = acc.get(pk);
    if (!a) acc.set(pk, (a = { jobs: new Set(), times: [], jobPrice: new Map(), per1k: [], modelPrices: new Map(), encryptedAnswered: false }));
    return a;
  };
  // Results first, then payment-required (which overrides the job's price), each sorted so the outcome does not depend on storage order.
  const byTime = (a: MarketRecord, b: MarketRecord) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1);
  for (const r of [...results].sort(byTime)) {
    const req = requests.get(r.ref!);
    if (!req) continue;
    const a = accOf(r.pubkey);
    if (a.jobs.has(req.id)) continue; // one result per provider per job counts
    a.jobs.add(req.id);
    let set = answeredBy.get(req.id);
    if (!set) answeredBy.set(req.id, (set = new Set()));
    set.add(r.pubkey);
    if (req.encrypted) a.encryptedAnswered = true;
    const live = Math.abs(r.receivedAt - r.createdAt * 1000) <= LIVE_SLACK_MS && Math.abs(req.receivedAt - req.createdAt * 1000) <= LIVE_SLACK_MS;
    const secs = live ? (r.receivedAt - req.receivedAt) / 1000 : r.createdAt - req.createdAt;
    if (secs >= 0 && secs <= MAX_RESULT_SECS) a.times.push(secs);
    if (r.amountMsats !== null) {
      if (!a.jobPrice.has(req.id)) a.jobPrice.set(req.id, r.amountMsats);
      if (r.tokens && r.tokens >= 20) a.per1k.push((r.amountMsats * 1000) / r.tokens);
    }
  }
  for (const f of [...feedback].sort(byTime)) {
    if (f.status !== "payment-required" || f.amountMsats === null) continue;
    const req = requests.get(f.ref!);
    if (!req) continue;
    accOf(f.pubkey).jobPrice.set(req.id, f.amountMsats);
  }
  for (const a of acc.values()) {
    for (const [reqId, price] of a.jobPrice) {
      const m = requests.get(reqId)?.model;
      if (!m) continue;
      const k = reportModelKey(m);
      let list = a.modelPrices.get(k);
      if (!list) a.modelPrices.set(k, (list = []));
      list.push(price);
    }
  }

  const providers: ProviderRow[] = [];
  for (const pk of providerKeys) {
    const ann = announcements.get(pk)?.info ?? null;
    const prof = profiles.get(pk)?.info ?? null;
    const a = acc.get(pk);
    const seen = lastAlive.get(pk) ?? null;
    const modelPrices: Record<string, number> = {};
    for (const [m, list] of a?.modelPrices ?? []) modelPrices[m] = median(list)!;
    for (const [m, p] of Object.entries(ann?.modelPrices ?? {})) if (!(reportModelKey(m) in modelPrices)) modelPrices[reportModelKey(m)] = p;
    providers.push({
      pubkey: pk,
      me: pk === me,
      name: prof?.name ?? ann?.name ?? null,
      picture: prof?.picture ?? ann?.picture ?? null,
      about: ann?.about ?? prof?.about ?? null,
      models: ann?.models ?? [],
      announced: announcements.has(pk),
      lastSeen: seen?.at ?? null,
      alive: seen !== null && nowSec - seen.at <= ALIVE_SECS,
      paused: seen?.paused ?? false,
      jobsAnswered: a?.jobs.size ?? 0,
      medianResultSecs: a ? median(a.times) : null,
      resultTimes: a?.times.length ?? 0,
      pricePerJob: summarize([...(a?.jobPrice.values() ?? [])]),
      pricePer1kTokens: summarize(a?.per1k ?? []),
      listedPerJobMsats: ann?.perJobMsats ?? null,
      listedPer1kTokensMsats: ann?.per1kTokensMsats ?? null,
      encryption: ann?.encryption ?? a?.encryptedAnswered ?? false,
      modelPrices,
    });
  }
  providers.sort((x, y) => y.jobsAnswered - x.jobsAnswered || Number(y.alive) - Number(x.alive) || (y.lastSeen ?? 0) - (x.lastSeen ?? 0) || (x.pubkey < y.pubkey ? -1 : 1));
  const myIndex = providers.findIndex((p) => p.me);

  return {
    generatedAt: opts.now,
    since,
    windowHours,
    records: records.length,
    providers,
    demand: demandOf([...requests.values()], answeredBy, { nowSec, windowHours, me, myModels }),
    prices: pricesOf(providers),
    myRank: myIndex >= 0 ? myIndex + 1 : null,
  };
}

function demandOf(
  reqs: MarketRecord[],
  answeredBy: Map<string, Set<string>>,
  o: { nowSec: number; windowHours: number; me: string | null; myModels: Set<string> },
): Demand {
  const byCustomer = new Map<string, MarketRecord[]>();
  for (const r of reqs) {
    let list = byCustomer.get(r.pubkey);
    if (!list) byCustomer.set(r.pubkey, (list = []));
    list.push(r);
  }
  const cap = Math.max(1, Math.ceil(FLOOD_CAP_PER_HOUR * o.windowHours));
  // A flooding customer's requests count up to the cap: the earliest ones (a stable choice).
  const counted: MarketRecord[] = [];
  let floods = 0;
  const bidMedians: number[] = [];
  for (const list of byCustomer.values()) {
    list.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
    if (list.length > cap) floods++;
    const kept = list.slice(0, cap);
    counted.push(...kept);
    const m = median(kept.map((r) => r.bidMsats).filter((b): b is number => b !== null));
    if (m !== null) bidMedians.push(m);
  }

  const models = new Map<string, { requests: number; customers: Set<string>; answered: number; bids: Map<string, number[]> }>();
  const answeredCount: Record<string, number> = {};
  let answered = 0;
  let pending = 0;
  let encrypted = 0;
  const unservedForMe: MarketRecord[] = [];
  let unserved = 0;
  for (const r of counted) {
    if (r.encrypted) encrypted++;
    const key = r.model ? reportModelKey(r.model) : r.encrypted ? "(encrypted)" : "(none)";
    let m = models.get(key);
    if (!m) models.set(key, (m = { requests: 0, customers: new Set(), answered: 0, bids: new Map() }));
    m.requests++;
    m.customers.add(r.pubkey);
    if (r.bidMsats !== null) {
      const l = m.bids.get(r.pubkey) ?? [];
      l.push(r.bidMsats);
      m.bids.set(r.pubkey, l);
    }
    const by = answeredBy.get(r.id);
    if (by && by.size) {
      answered++;
      m.answered++;
      for (const pk of by) answeredCount[pk] = (answeredCount[pk] ?? 0) + 1;
    } else if (o.nowSec - r.createdAt < UNSERVED_AFTER_SECS) {
      pending++;
    } else {
      unserved++;
      const forAnother = r.target !== null && r.target !== o.me;
      const takeable = !r.encrypted && (r.model === null || o.myModels.has(reportModelKey(r.model)));
      // Encrypted to us: we could have read it; encrypted to someone else: not ours.
      const encryptedToMe = r.encrypted && r.target !== null && r.target === o.me;
      if (!forAnother && (takeable || encryptedToMe) && o.myModels.size > 0) unservedForMe.push(r);
    }
  }
  const forMeModels: Record<string, number> = {};
  for (const r of unservedForMe) {
    const k = r.model ? reportModelKey(r.model) : "(none)";
    forMeModels[k] = (forMeModels[k] ?? 0) + 1;
  }
  return {
    requests: reqs.length,
    countedRequests: counted.length,
    customers: byCustomer.size,
    floods,
    requestsPerHour: Math.round((counted.length / o.windowHours) * 100) / 100,
    encrypted,
    models: [...models.entries()]
      .map(([model, m]) => ({
        model,
        requests: m.requests,
        customers: m.customers.size,
        answered: m.answered,
        medianBidMsats: median([...m.bids.values()].map((l) => median(l)!)),
      }))
      .sort((a, b) => b.requests - a.requests || (a.model < b.model ? -1 : 1)),
    bids: summarize(bidMedians),
    answered,
    answeredBy: answeredCount,
    pending,
    unserved: {
      requests: unserved,
      forMe: unservedForMe.length,
      forMeBids: summarize(unservedForMe.map((r) => r.bidMsats).filter((b): b is number => b !== null)),
      forMeModels,
    },
  };
}

function pricesOf(providers: ProviderRow[]): ModelPrice[] {
  const byModel = new Map<string, { perJob: number[]; per1k: number[]; secs: number[] }>();
  for (const p of providers) {
    if (p.me) continue; // the market's price is the others'
    const models = new Set([...p.models.map(reportModelKey), ...Object.keys(p.modelPrices)]);
    for (const m of models) {
      let e = byModel.get(m);
      if (!e) byModel.set(m, (e = { perJob: [], per1k: [], secs: [] }));
      const perJob = p.modelPrices[m] ?? p.pricePerJob.median ?? p.listedPerJobMsats;
      if (perJob !== null && perJob !== undefined) e.perJob.push(perJob);
      const per1k = p.pricePer1kTokens.median ?? p.listedPer1kTokensMsats;
      if (per1k !== null) e.per1k.push(per1k);
      if (p.medianResultSecs !== null) e.secs.push(p.medianResultSecs);
    }
  }
  return [...byModel.entries()]
    .map(([model, e]) => ({
      model,
      sizeClass: sizeClass(model),
      providers: e.perJob.length,
      medianPerJobMsats: median(e.perJob),
      medianPer1kTokensMsats: median(e.per1k),
      medianResultSecs: median(e.secs),
    }))
    .sort((a, b) => b.providers - a.providers || (a.model < b.model ? -1 : 1));
}
