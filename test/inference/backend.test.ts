import { expect, test } from "bun:test";
import { AppError } from "../../src/errors.ts";
import { checkUrl, ProbeLoop } from "../../src/inference/backend.ts";

test("ProbeLoop: probes now and on its interval, concurrent refreshes share a probe, stop aborts the probe and the requests in flight", async () => {
  let probes = 0;
  let release = () => {};
  const ctls: AbortController[] = [];
  const loop = new ProbeLoop(async (ctl) => {
    probes++;
    ctls.push(ctl);
    await new Promise<void>((r) => {
      release = r;
      ctl.signal.addEventListener("abort", () => r());
    });
  }, 20);
  const started = loop.start();
  expect(probes).toBe(1);
  const shared = loop.refresh();
  release();
  await Promise.all([started, shared]);
  expect(probes).toBe(1);
  expect(ctls[0]!.signal.aborted).toBe(true); // released after the probe
  const deadline = Date.now() + 2_000;
  while (probes < 2 && Date.now() < deadline) await Bun.sleep(5);
  expect(probes).toBe(2); // the interval's probe, still under way
  const request = new AbortController();
  loop.inflight.add(request);
  loop.stop();
  expect(ctls[1]!.signal.aborted).toBe(true);
  expect(request.signal.reason).toBeInstanceOf(AppError);
  expect(loop.inflight.size).toBe(0);
  await Bun.sleep(60);
  expect(probes).toBe(2);
});

test("checkUrl: trailing slashes go, anything but http(s) is refused with the backend named", () => {
  expect(checkUrl(" http://127.0.0.1:11434// ", "Ollama")).toBe("http://127.0.0.1:11434");
  expect(() => checkUrl("ftp://x", "Ollama")).toThrow(/Ollama URL must start with http/);
});
