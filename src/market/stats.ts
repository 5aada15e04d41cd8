// Robust statistics for thin, adversarial data: medians and trimmed means never move far for one
// absurd value, and callers report counts beside them (a median of 2 is not a market price).

/** Median of the finite numbers in `xs`; null for none. */
export function median(xs: readonly number[]): number | null {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/** Mean after dropping `fraction` of the values at each end (default 10 %); null for none. */
export function trimmedMean(xs: readonly number[], fraction = 0.1): number | null {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const cut = Math.floor(v.length * Math.min(Math.max(fraction, 0), 0.49));
  const kept = v.slice(cut, v.length - cut);
  return kept.reduce((s, x) => s + x, 0) / kept.length;
}

/** The q-quantile (0..1) by nearest rank; null for none. */
export function quantile(xs: readonly number[], q: number): number | null {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const i = Math.min(v.length - 1, Math.max(0, Math.ceil(q * v.length) - 1));
  return v[i]!;
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
