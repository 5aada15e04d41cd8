// The busy signals' parsers and the hysteresis, pure (the probes themselves are run for real
// against fakes at the process boundary in pause.e2e.test.ts).
import { describe, expect, test } from "bun:test";
import { busyReason, foreignModels, Hysteresis, otherGpuApps, parseNvidiaApps, parseOllamaPs, parseXprintidle } from "../../src/service/busy.ts";

describe("nvidia-smi --query-compute-apps CSV", () => {
  test("lines parsed; our backend (ollama runners) and ignored names are not the owner's", () => {
    const csv = "1201, /usr/local/bin/ollama, 5120 MiB\n1302, /usr/lib/ollama/runners/cuda_v12/ollama_llama_server, 4000 MiB\n2222, /usr/bin/python3, 2048 MiB\n3333, C:\\Games\\game.exe, [N/A]\n\ngarbage line\n-1, x, 1 MiB\n";
    const apps = parseNvidiaApps(csv);
    expect(apps).toEqual([
      { pid: 1201, name: "/usr/local/bin/ollama", usedMiB: 5120 },
      { pid: 1302, name: "/usr/lib/ollama/runners/cuda_v12/ollama_llama_server", usedMiB: 4000 },
      { pid: 2222, name: "/usr/bin/python3", usedMiB: 2048 },
      { pid: 3333, name: "C:\\Games\\game.exe", usedMiB: null },
    ]);
    expect(otherGpuApps(apps, { ownPids: [], ignore: [] }).map((a) => a.pid)).toEqual([2222, 3333]);
    expect(otherGpuApps(apps, { ownPids: [2222], ignore: ["game.exe"] })).toEqual([]);
    expect(busyReason({ gpuApps: otherGpuApps(apps, { ownPids: [], ignore: [] }), foreign: null, idleMs: null, idleHint: null, idleSecs: 0 })).toBe("the GPU is in use by python3 and 1 more");
  });

  test("a program merely named like ollama-something else is not mistaken for it (ollamafan)", () => {
    expect(otherGpuApps(parseNvidiaApps("5, /opt/ollamafan/bin/ollamafan, 10 MiB"), { ownPids: [], ignore: [] })).toHaveLength(1);
  });
});

test("Ollama /api/ps: models we don't serve are another client's (names compared as Ollama does)", () => {
  const loaded = parseOllamaPs({ models: [{ name: "llama3.2:latest" }, { name: "qwen2.5:7b" }] });
  expect(foreignModels(loaded, ["LLAMA3.2"])).toEqual(["qwen2.5:7b"]);
  expect(() => parseOllamaPs({ models: "nope" })).toThrow();
  expect(busyReason({ gpuApps: [], foreign: ["qwen2.5:7b"], idleMs: null, idleHint: null, idleSecs: 0 })).toBe("Ollama has qwen2.5:7b loaded for another client");
});

test("idle: under idleSecs of input idle time is busy; logind IdleHint=no counts when there is no X idle time; 0 = not watched", () => {
  expect(parseXprintidle("1234\n")).toBe(1234);
  expect(parseXprintidle("error")).toBeNull();
  const r = (idleMs: number | null, idleHint: boolean | null, idleSecs = 60) => busyReason({ gpuApps: null, foreign: null, idleMs, idleHint, idleSecs });
  expect(r(5_000, null)).toBe("the owner is at the keyboard");
  expect(r(61_000, null)).toBeNull();
  expect(r(null, false)).toBe("the owner is at the keyboard");
  expect(r(null, true)).toBeNull();
  expect(r(5_000, null, 0)).toBeNull();
});

describe("hysteresis", () => {
  test("pauses at the first busy reading, resumes only after `hold` of uninterrupted free readings", () => {
    const h = new Hysteresis(() => 10_000);
    expect(h.update(null, 0)).toBeNull();
    expect(h.update("busy", 1_000)).toBe("busy");
    expect(h.update(null, 2_000)).toBe("busy");
    expect(h.resumesAt()).toBe(12_000);
    expect(h.update(null, 11_999)).toBe("busy");
    expect(h.update(null, 12_000)).toBeNull();
  });

  test("a signal toggling every second never resumes (and never flaps) while the hold is longer", () => {
    const h = new Hysteresis(() => 3_000);
    const states: Array<string | null> = [];
    for (let t = 0; t < 60_000; t += 1_000) states.push(h.update(t % 2000 === 0 ? "busy" : null, t));
    expect(states.every((s) => s === "busy")).toBe(true);
    // Last busy reading at 58 s, free from 59 s: resumes 3 s later, at 62 s.
    expect(h.update(null, 61_000)).toBe("busy");
    expect(h.update(null, 62_000)).toBeNull();
  });
});
