// COMPUTE_PASSWORD is removed from process.env once read (takeEnvSecret), but Bun.spawn without an
// `env` option hands a child the environment as it was when the process started, so the password
// would still reach every child. Every spawn in src/ must pass an explicit env.
import { describe, expect, test } from "bun:test";
import { Glob } from "bun";
import { join } from "node:path";

const SRC = join(import.meta.dir, "..", "..", "src");

describe("spawned children never inherit a secret read from the environment", () => {
  test("Bun.spawn without env passes the start-up environment (why the rule below exists)", () => {
    const child = Bun.spawnSync(
      [process.execPath, "-e", `process.env.SPAWN_ENV_PROBE = "secret"; delete process.env.SPAWN_ENV_PROBE;
        const a = Bun.spawnSync(["sh", "-c", "printf %s \\"$OUTER\\""]).stdout.toString();
        delete process.env.OUTER;
        const b = Bun.spawnSync(["sh", "-c", "printf %s \\"$OUTER\\""]).stdout.toString();
        const c = Bun.spawnSync(["sh", "-c", "printf %s \\"$OUTER\\""], { env: process.env }).stdout.toString();
        console.log(JSON.stringify([a, b, c]));`],
      { env: { ...process.env, OUTER: "pw" } },
    );
    const [before, deletedNoEnv, deletedWithEnv] = JSON.parse(child.stdout.toString());
    expect(before).toBe("pw");
    expect(deletedNoEnv).toBe("pw"); // the leak: deleting from process.env is not enough
    expect(deletedWithEnv).toBe("");
  });

  test("every Bun.spawn / Bun.spawnSync call in src/ passes env", async () => {
    const offenders: string[] = [];
    for await (const rel of new Glob("**/*.ts").scan(SRC)) {
      const text = await Bun.file(join(SRC, rel)).text();
      const re = /Bun\.spawn(?:Sync)?\(/g;
      for (let m = re.exec(text); m; m = re.exec(text)) {
        // The call's text up to its closing parenthesis (options are on the same call).
        let depth = 0;
        let end = m.index + m[0].length - 1;
        for (; end < text.length; end++) {
          if (text[end] === "(") depth++;
          else if (text[end] === ")" && --depth === 0) break;
        }
        const call = text.slice(m.index, end + 1);
        if (!/\benv\s*:/.test(call)) offenders.push(`${rel}:${text.slice(0, m.index).split("\n").length}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  test("the service command takes COMPUTE_PASSWORD through takeEnvSecret, never process.env directly", async () => {
    const offenders: string[] = [];
    for await (const rel of new Glob("**/*.ts").scan(SRC)) {
      const text = await Bun.file(join(SRC, rel)).text();
      if (/process\.env\.COMPUTE_(NEW_)?PASSWORD\b|process\.env\[["']COMPUTE_(NEW_)?PASSWORD["']\]/.test(text) && rel !== join("cli", "common.ts")) offenders.push(rel);
    }
    expect(offenders).toEqual([]);
  });
});
