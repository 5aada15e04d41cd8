// Typed events. Each domain defines its events once (name + zod schema); services publish, the
// server streams every event to the UI as {type, properties}. Names: domain.noun.verb.
// Events here are internal: built by our own services, so TypeScript is their check and publish
// does not validate them (zod on every publish would be ~6 parses per job); input from outside
// is validated where it enters (relay frames, HTTP bodies, config, Ollama replies). Under test
// (NODE_ENV=test, as `bun test` sets), or with { check: true }, every payload is parsed and must
// already be exactly what its schema gives: no missing field, no field it would drop.
import type { z } from "zod";
import { createLogger } from "./log.ts";

const log = createLogger("bus");

export interface EventDef<S extends z.ZodType = z.ZodType> {
  readonly type: string;
  readonly schema: S;
}

export interface BusEvent {
  type: string;
  properties: unknown;
}

export function defineEvent<S extends z.ZodType>(type: string, schema: S): EventDef<S> {
  return { type, schema };
}

type Handler = (event: BusEvent) => void;

export interface BusOptions {
  /** Check every payload against its schema (default: only under test, NODE_ENV=test). */
  check?: boolean;
}

export class Bus {
  private handlers = new Map<string, Set<Handler>>();
  private all = new Set<Handler>();
  private readonly check: boolean;

  constructor(opts: BusOptions = {}) {
    this.check = opts.check ?? process.env.NODE_ENV === "test";
  }

  /**
   * Hands the payload to every subscriber as it is (typed by the event's schema, not parsed). With
   * checks on, a payload its schema refuses, or would change (a field it drops), throws before any
   * subscriber sees it.
   */
  publish<S extends z.ZodType>(def: EventDef<S>, properties: z.output<S>): void {
    if (this.check) checkPayload(def, properties);
    const event: BusEvent = { type: def.type, properties };
    for (const h of [...(this.handlers.get(def.type) ?? []), ...this.all]) {
      try {
        h(event);
      } catch (err) {
        // One broken subscriber must not stop the others or the publisher (house rule 7).
        log.error("subscriber threw", { type: def.type, err });
      }
    }
  }

  subscribe<S extends z.ZodType>(def: EventDef<S>, handler: (properties: z.infer<S>) => void): () => void {
    const set = this.handlers.get(def.type) ?? new Set();
    const h: Handler = (e) => handler(e.properties as z.infer<S>);
    set.add(h);
    this.handlers.set(def.type, set);
    return () => set.delete(h);
  }

  /** Whether anything listens to every event (the dashboards' event streams do). */
  watched(): boolean {
    return this.all.size > 0;
  }

  subscribeAll(handler: Handler): () => void {
    this.all.add(handler);
    return () => this.all.delete(handler);
  }
}

/** Under test: the payload must parse, and parsing must not change it (a dropped field is a leak or a bug). */
function checkPayload(def: EventDef, properties: unknown): void {
  const parsed = def.schema.parse(properties);
  if (!Bun.deepEquals(parsed, properties)) {
    throw new Error(`${def.type}: the payload is not what its schema describes (a field it does not know, or a value it rewrites)`);
  }
}
