// The order in which queued jobs start: start-time fair queueing between customers. Pure: no
// clock, no I/O; the engine decides what is queued and when a slot is free.
//
// A queued job's turn is one past the later of its customer's previous turn and the turn of the
// job started last, and the lowest turn starts first. A customer's jobs thus take turns with
// everyone else's (round robin) instead of holding the queue in arrival order, and a newcomer
// waits at most one round.

interface Entry<T> {
  item: T;
  customer: string;
  turn: number;
}

export class FairQueue<T> {
  private entries: Entry<T>[] = [];
  /** The turn of the job taken last (the highest turn given out that has started). */
  private turnNow = 0;
  /** Each customer's last turn given out, kept while it is still ahead of turnNow. */
  private lastTurn = new Map<string, number>();

  constructor(private readonly customerOf: (item: T) => string) {}

  get size(): number {
    return this.entries.length;
  }

  /** Queues an item at its customer's next turn. */
  push(item: T): void {
    const customer = this.customerOf(item);
    const turn = Math.max(this.turnNow, this.lastTurn.get(customer) ?? 0) + 1;
    this.lastTurn.set(customer, turn);
    this.entries.push({ item, customer, turn });
  }

  /**
   * Takes the next item: of the customers with the fewest jobs `held` elsewhere (running or
   * waiting for payment), the item with the lowest turn; the oldest on a tie. Undefined when empty.
   */
  take(held: (customer: string) => number = () => 0): T | undefined {
    if (this.entries.length === 0) return undefined;
    let best = 0;
    for (let i = 1; i < this.entries.length; i++) {
      const a = this.entries[i]!;
      const b = this.entries[best]!;
      const ha = held(a.customer);
      const hb = held(b.customer);
      if (ha < hb || (ha === hb && a.turn < b.turn)) best = i;
    }
    const [entry] = this.entries.splice(best, 1);
    this.turnNow = Math.max(this.turnNow, entry!.turn);
    // A customer whose last turn is behind turnNow is no different from a new one.
    for (const [customer, turn] of this.lastTurn) if (turn <= this.turnNow) this.lastTurn.delete(customer);
    return entry!.item;
  }

  /** How many queued items are this customer's. */
  countOf(customer: string): number {
    let n = 0;
    for (const e of this.entries) if (e.customer === customer) n++;
    return n;
  }

  /** Takes an item out of the queue wherever it is; whether it was there. */
  remove(item: T): boolean {
    const i = this.entries.findIndex((e) => e.item === item);
    if (i < 0) return false;
    this.entries.splice(i, 1);
    return true;
  }

  find(pred: (item: T) => boolean): T | undefined {
    return this.entries.find((e) => pred(e.item))?.item;
  }

  some(pred: (item: T) => boolean): boolean {
    return this.entries.some((e) => pred(e.item));
  }

  /** The queued items in the order they were queued. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (const e of this.entries) yield e.item;
  }
}
