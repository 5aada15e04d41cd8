// Apple Silicon runs only signed code. Bun signs a darwin-arm64 executable ad hoc when it compiles
// one, even cross-compiling from Linux; scripts/macho-signature.ts checks such a signature as macOS
// does (every page hash over the code it covers). A two-line program compiled here, no Mac needed.
import { beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkMachOSignature } from "../../scripts/macho-signature.ts";

let dir: string;
const compile = (target: string): Uint8Array => {
  const out = join(dir, target);
  const r = Bun.spawnSync(["bun", "build", "--compile", `--target=${target}`, join(dir, "hi.ts"), "--outfile", out], { stdout: "ignore", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`bun build --compile --target=${target} failed: ${r.stderr.toString().slice(-500)}`);
  return readFileSync(out);
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "compute-macho-"));
  writeFileSync(join(dir, "hi.ts"), 'console.log("hi");\n');
});

describe("macOS signatures of cross-compiled binaries", () => {
  test("darwin-arm64: Bun's ad-hoc signature is valid; a byte changed after signing is caught", () => {
    const bin = compile("bun-darwin-arm64");
    const sig = checkMachOSignature(bin);
    expect(sig).toMatchObject({ valid: true, adhoc: true, certificate: false, badPages: [], problem: null });
    expect(sig.pages).toBeGreaterThan(1000);
    // The checker is not a rubber stamp: one byte of code changed -> that page's hash fails.
    const tampered = Uint8Array.from(bin);
    tampered[4096 * 7 + 100]! ^= 0xff;
    expect(checkMachOSignature(tampered)).toMatchObject({ valid: false, badPages: [7] });
  }, 120_000);

  test("darwin-x64: Bun leaves the runtime's own signature, no longer valid (README says: codesign it on the Mac)", () => {
    // If this starts failing, Bun signs x64 too: update README (Download the binary) and this test.
    const sig = checkMachOSignature(compile("bun-darwin-x64"));
    expect(sig.signed).toBe(true);
    expect(sig.valid).toBe(false);
  }, 120_000);
});
