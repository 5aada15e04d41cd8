// Robust statistics for thin, adversarial data: a median never moves far for one absurd value, and callers report counts beside them (a median of 2 is not a market price).

/** Median of the finite numbers in `xs`; null for none. */
export function median(xs: readonly number[]): number | null {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

export interface Summary {
  count: number;
  median: number | null;
  min: number | null;
  max: number | null;
}

export function summarize(xs: readonly number[]): Summary {
  const v = xs.filter(Number.isFinite);
  if (v.length === 0) return { count: 0, median: null, min: null, max: null };
  let min = v[0]!;
  let max = v[0]!;
  for (const x of v) {
    if (x < min) min = x;
    if (x > max) max = x;
  }
  return { count: v.length, median: median(v), min, max };
}
