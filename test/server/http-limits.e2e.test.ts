// The HTTP server's limits through the real App's real server (Bun.serve on 127.0.0.1), driven
// the way an attacker would: raw sockets for what fetch() won't send (no Host header, a huge
// body that never finishes, idle keep-alive connections), odd tokens and content types.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App } from "../../src/app.ts";

let app: App;
let dataDir: string;
let port: number;
let origin: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "compute-http-limits-"));
  // No vault: nothing here needs the keys, and no relay or wallet is started.
  app = await App.start({ dataDir, env: {}, flags: { port: 0, logLevel: "error", ollamaUrl: "http://127.0.0.1:9" }, httpIdleTimeoutSecs: 1 });
  port = Number(new URL(app.url).port);
  origin = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await app?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** A raw TCP connection to the server; `text()` is everything received so far. */
function raw(): Promise<{ sock: Socket; text: () => string; closed: () => boolean }> {
  return new Promise((resolve, reject) => {
    let got = "";
    let closed = false;
    const sock = connect(port, "127.0.0.1", () => resolve({ sock, text: () => got, closed: () => closed }));
    sock.on("data", (d) => (got += d.toString("latin1")));
    sock.on("close", () => (closed = true));
    sock.on("error", (e) => (closed ? undefined : reject(e)));
  });
}

async function waitFor(pred: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pred()) return true;
    await Bun.sleep(20);
  }
  return pred();
}

const statusOf = (text: string) => Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);

test("an attacker's non-ASCII token in the dashboard link is a 401, not a 500", async () => {
  // 64 UTF-16 units like the real token, but 128 bytes: timingSafeEqual used to throw.
  const res = await fetch(`${origin}/?token=${encodeURIComponent("é".repeat(64))}`, { redirect: "manual" });
  expect(res.status).toBe(401);
  const bearer = await fetch(`${origin}/api/state`, { headers: { authorization: `Bearer ${"é".repeat(64)}` } });
  expect(bearer.status).toBe(401);
});

test("a request without a Host header is a 400", async () => {
  const c = await raw();
  c.sock.write("GET /healthz HTTP/1.0\r\n\r\n");
  expect(await waitFor(() => statusOf(c.text()) !== 0, 3000)).toBe(true);
  expect(statusOf(c.text())).toBe(400);
  c.sock.destroy();
});

test("an attacker's 100 MB password body is refused before it is read (413 while the body still streams)", async () => {
  const c = await raw();
  const size = 100 * 1024 * 1024;
  c.sock.write(
    `POST /api/unlock HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${app.token}\r\nContent-Type: application/json\r\nContent-Length: ${size}\r\n\r\n`,
  );
  c.sock.write(`{"password":"${"a".repeat(200 * 1024)}`);
  // The rest of the 100 MB never comes: a server that waits to buffer it all never answers.
  expect(await waitFor(() => statusOf(c.text()) !== 0, 3000)).toBe(true);
  expect(statusOf(c.text())).toBe(413);
  c.sock.destroy();
});

test("a chunked body over 64 KB is refused while it streams", async () => {
  const c = await raw();
  c.sock.write(
    `POST /api/unlock HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${app.token}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`,
  );
  const chunk = "a".repeat(16 * 1024);
  c.sock.write(`d\r\n{"password":"\r\n`);
  for (let i = 0; i < 6; i++) c.sock.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
  expect(await waitFor(() => statusOf(c.text()) !== 0, 3000)).toBe(true);
  expect(statusOf(c.text())).toBe(413);
  c.sock.destroy();
});

test("Content-Type must be application/json itself, not a type that merely mentions it", async () => {
  const post = (type: string) =>
    fetch(`${origin}/api/onboarding/generate`, { method: "POST", headers: { authorization: `Bearer ${app.token}`, "content-type": type }, body: JSON.stringify({ words: 12 }) });
  for (const type of ["text/plain; x=application/json", "application/jsonx", "text/application/json", "multipart/form-data; boundary=application/json"]) {
    const res = await post(type);
    expect({ type, status: res.status }).toEqual({ type, status: 400 });
  }
  expect((await post("application/json")).status).toBe(200);
  expect((await post("application/json; charset=utf-8")).status).toBe(200);
  expect((await post("Application/JSON;charset=UTF-8")).status).toBe(200);
});

test("idle keep-alive connections are closed after the idle timeout; the event stream stays open", async () => {
  // 200 sockets each make one request and then sit idle, as a descriptor-exhaustion attack does.
  const socks = await Promise.all(Array.from({ length: 200 }, () => raw()));
  for (const c of socks) c.sock.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: keep-alive\r\n\r\n`);
  expect(await waitFor(() => socks.every((c) => statusOf(c.text()) === 200), 5000)).toBe(true);

  const sse = await raw();
  sse.sock.write(`GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${app.token}\r\n\r\n`);
  expect(await waitFor(() => sse.text().includes("server.connected"), 3000)).toBe(true);

  // The idle timeout is 1 s here (10 s by default); Bun checks it in coarse steps. (A socket that
  // never sends a request is dropped too, after Bun's own ~10 s: left out to keep the suite fast.)
  expect(await waitFor(() => socks.every((c) => c.closed()), 20_000)).toBe(true);
  expect(sse.closed()).toBe(false);
  sse.sock.destroy();
}, 45_000);

test("event streams are capped: one past the cap is refused with 503", async () => {
  const { MAX_EVENT_STREAMS } = await import("../../src/server/routes/state.ts");
  const open = await Promise.all(Array.from({ length: MAX_EVENT_STREAMS }, () => raw()));
  for (const c of open) c.sock.write(`GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${app.token}\r\n\r\n`);
  expect(await waitFor(() => open.every((c) => c.text().includes("server.connected")), 5000)).toBe(true);
  const res = await fetch(`${origin}/api/events`, { headers: { authorization: `Bearer ${app.token}` } });
  expect(res.status).toBe(503);
  for (const c of open) c.sock.destroy();
  // Once they close, a stream can be opened again.
  await Bun.sleep(300);
  const again = await fetch(`${origin}/api/events`, { headers: { authorization: `Bearer ${app.token}` } });
  expect(again.status).toBe(200);
  await again.body?.cancel();
}, 20_000);
