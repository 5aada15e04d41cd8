// Typed events. Each domain defines its events once (name + zod schema); services publish, the
// server streams every event to the UI as {type, properties}. Names: domain.noun.verb.
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

const registry = new Map<string, EventDef>();

export function defineEvent<S extends z.ZodType>(type: string, schema: S): EventDef<S> {
  const def = { type, schema };
  registry.set(type, def);
  return def;
}

export function eventDefinitions(): EventDef[] {
  return [...registry.values()];
}

type Handler = (event: BusEvent) => void;

export class Bus {
  private handlers = new Map<string, Set<Handler>>();
  private all = new Set<Handler>();

  /** Validates the payload against the event's schema: a service can't emit a malformed event. */
  publish<S extends z.ZodType>(def: EventDef<S>, properties: z.input<S>): void {
    const parsed = def.schema.parse(properties);
    const event: BusEvent = { type: def.type, properties: parsed };
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

  subscribeAll(handler: Handler): () => void {
    this.all.add(handler);
    return () => this.all.delete(handler);
  }
}
