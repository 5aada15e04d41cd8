// FairQueue (src/jobs/fair-queue.ts): the order queued jobs start in. Property tests over random
// sequences of pushes, takes (with random counts of jobs held elsewhere) and removals, checked
// against a plain model; plus the round-robin example the engine's fairness tests rely on.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { FairQueue } from "../../src/jobs/fair-queue.ts";
import { fcParams, PROPERTY_TIMEOUT_MS } from "../fixtures/stress-fc.ts";

interface Item {
  customer: string;
  n: number;
}

const customer = fc.constantFrom("a", "b", "c", "d", "e");
const op = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("push" as const), customer }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("take" as const), held: fc.dictionary(customer, fc.nat(3)) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("remove" as const), pick: fc.nat() }) },
);

const newQueue = () => new FairQueue<Item>((i) => i.customer);

describe("FairQueue", () => {
  test("every item pushed comes out once (taken or removed); each customer's items in push order; size and countOf agree with a model", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const q = newQueue();
        let model: Item[] = [];
        const out: Item[] = [];
        let n = 0;
        for (const o of ops) {
          if (o.kind === "push") {
            const item = { customer: o.customer, n: n++ };
            q.push(item);
            model.push(item);
          } else if (o.kind === "take") {
            const item = q.take((c) => o.held[c] ?? 0);
            if (model.length === 0) {
              expect(item).toBeUndefined();
              continue;
            }
            expect(item).toBeDefined();
            expect(model).toContain(item!);
            // The customers with the fewest jobs held elsewhere go first.
            const least = Math.min(...model.map((i) => o.held[i.customer] ?? 0));
            expect(o.held[item!.customer] ?? 0).toBe(least);
            // Within a customer, first in first out.
            expect(model.find((i) => i.customer === item!.customer)).toBe(item!);
            model = model.filter((i) => i !== item);
            out.push(item!);
          } else if (model.length) {
            const item = model[o.pick % model.length]!;
            expect(q.remove(item)).toBe(true);
            expect(q.remove(item)).toBe(false);
            model = model.filter((i) => i !== item);
            out.push(item);
          }
          expect(q.size).toBe(model.length);
          expect([...q]).toEqual(model);
          for (const c of ["a", "b", "c", "d", "e"]) expect(q.countOf(c)).toBe(model.filter((i) => i.customer === c).length);
        }
        expect(new Set([...out, ...q].map((i) => i.n)).size).toBe(n);
      }),
      fcParams(),
    );
  }, PROPERTY_TIMEOUT_MS);

  test("round robin: with nothing held elsewhere, the next item is always from a customer served least so far", () => {
    fc.assert(
      fc.property(fc.array(customer, { maxLength: 60 }), (pushes) => {
        const q = newQueue();
        pushes.forEach((c, n) => q.push({ customer: c, n }));
        const served = new Map<string, number>();
        const left = new Map<string, number>();
        for (const c of pushes) left.set(c, (left.get(c) ?? 0) + 1);
        for (let item = q.take(); item; item = q.take()) {
          const waiting = [...left].filter(([, k]) => k > 0).map(([c]) => served.get(c) ?? 0);
          expect(served.get(item.customer) ?? 0).toBe(Math.min(...waiting));
          served.set(item.customer, (served.get(item.customer) ?? 0) + 1);
          left.set(item.customer, left.get(item.customer)! - 1);
        }
      }),
      fcParams(),
    );
  }, PROPERTY_TIMEOUT_MS);

  test("a newcomer waits at most the current round and the next: no other customer is served more than twice before it", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(customer, fc.constant(null)), { maxLength: 80 }), (steps) => {
        const q = newQueue();
        // For each customer who pushed with nothing queued: the takes of others since.
        const waiting = new Map<Item, Map<string, number>>();
        let n = 0;
        const take = () => {
          const item = q.take();
          if (!item) return;
          waiting.delete(item);
          for (const [, others] of waiting) {
            const k = (others.get(item.customer) ?? 0) + 1;
            others.set(item.customer, k);
            expect(k).toBeLessThanOrEqual(2);
          }
        };
        for (const c of steps) {
          if (c === null) {
            take();
            continue;
          }
          const item = { customer: c, n: n++ };
          if (q.countOf(c) === 0) waiting.set(item, new Map());
          q.push(item);
        }
        while (q.size) take();
      }),
      fcParams(),
    );
  }, PROPERTY_TIMEOUT_MS);

  test("one customer's burst does not hold the queue: a, a, a, b, c start as a, b, c, a, a", () => {
    const q = newQueue();
    for (const [n, c] of ["a", "a", "a", "b", "c"].entries()) q.push({ customer: c, n });
    const order: string[] = [];
    for (let item = q.take(); item; item = q.take()) order.push(item.customer);
    expect(order).toEqual(["a", "b", "c", "a", "a"]);
  });

  test("a customer with a job held elsewhere waits behind one with none, whatever the turns", () => {
    const q = newQueue();
    q.push({ customer: "a", n: 0 });
    q.push({ customer: "b", n: 1 });
    q.push({ customer: "b", n: 2 });
    expect(q.take((c) => (c === "a" ? 1 : 0))?.n).toBe(1);
    expect(q.take((c) => (c === "a" ? 1 : 0))?.n).toBe(2);
    expect(q.take((c) => (c === "a" ? 1 : 0))?.n).toBe(0);
    expect(q.take()).toBeUndefined();
  });
});
