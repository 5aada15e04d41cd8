// The market view (GET /api/market) kept in state.ts's `market` signal: fetched when a panel that
// shows it mounts and then every minute while any such panel is shown (one timer however many
// panels read it), and again after a command changes what it shows (a price, a benchmark).
import { signal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { api, errorText } from "./api.ts";
import { market, type BenchmarkRecord, type MarketView } from "./state.ts";

const REFRESH_MS = 60_000;
/** Why the last fetch failed (null when it worked). */
export const marketError = signal<string | null>(null);

let watchers = 0;
let timer: ReturnType<typeof setInterval> | null = null;

export async function loadMarket(): Promise<void> {
  try {
    market.value = await api<MarketView>("GET", "/api/market?since=7d");
    marketError.value = null;
  } catch (err) {
    marketError.value = errorText(err);
  }
}

/** Keeps `market` fresh while the calling component is mounted. */
export function useMarketFeed(): void {
  useEffect(() => {
    if (watchers++ === 0) {
      void loadMarket();
      timer = setInterval(() => void loadMarket(), REFRESH_MS);
    }
    return () => {
      if (--watchers === 0 && timer) {
        clearInterval(timer);
        timer = null;
      }
    };
  }, []);
}

/** Runs the standard benchmark on a served model (minutes at most); the server refuses while jobs run. */
export async function runBenchmark(model: string): Promise<BenchmarkRecord> {
  const b = await api<BenchmarkRecord>("POST", "/api/models/benchmark", { model }, 15 * 60_000);
  await loadMarket();
  return b;
}
