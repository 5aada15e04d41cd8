// The vault password's ways in: COMPUTE_PASSWORD leaves the environment once read (children must
// not inherit it), and a --password-file others can read is warned about.
import { afterEach, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readPassword } from "../../src/cli/common.ts";

const dir = mkdtempSync(join(tmpdir(), "compute-pwfile-"));
const realWrite = process.stderr.write.bind(process.stderr);
afterEach(() => {
  process.stderr.write = realWrite;
  delete process.env.COMPUTE_PASSWORD;
});
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));

function captureStderr(): () => string {
  let out = "";
  process.stderr.write = ((chunk: string | Uint8Array) => {
    out += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stderr.write;
  return () => out;
}

test("COMPUTE_PASSWORD is gone from the environment once read: a process spawned afterwards does not inherit it", async () => {
  process.env.COMPUTE_PASSWORD = "env-secret-password";
  expect(await readPassword({}, { prompt: "", required: true })).toBe("env-secret-password");
  expect(process.env.COMPUTE_PASSWORD).toBeUndefined();
  const child = spawnSync("sh", ["-c", 'printf "%s" "$COMPUTE_PASSWORD"'], { env: process.env });
  expect(child.stdout.toString()).toBe("");
  // Read again in the same process (e.g. a retry), it is still known.
  expect(await readPassword({}, { prompt: "", required: true })).toBe("env-secret-password");
});

test("a --password-file readable by group or others is warned about (without the password); 0600 is not", async () => {
  const file = join(dir, "pw");
  writeFileSync(file, "file-secret-password\n");
  chmodSync(file, 0o644);
  let err = captureStderr();
  expect(await readPassword({ "password-file": file }, { prompt: "", required: true })).toBe("file-secret-password");
  expect(err()).toMatch(/readable by other users|chmod 600/);
  expect(err()).not.toContain("file-secret-password");
  chmodSync(file, 0o600);
  err = captureStderr();
  await readPassword({ "password-file": file }, { prompt: "", required: true });
  expect(err()).toBe("");
});
