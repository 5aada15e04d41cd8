// Helper process for the vault crash test (not a test file): alternates the vault's password
// between two values forever, printing a line after each completed change, until killed.
import { Vault } from "../../src/identity/vault.ts";

const [path, a, b] = process.argv.slice(2) as [string, string, string];
const fast = { scrypt: { N: 2 ** 10, r: 8, p: 1 } };
let current = a;
for (;;) {
  const next = current === a ? b : a;
  await Vault.changePassword(path, current, next, fast);
  current = next;
  process.stdout.write(`changed ${current === a ? "a" : "b"}\n`);
}
