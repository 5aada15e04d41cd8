// Where compute keeps its files inside the data dir (data-dir.ts), and the public identity (the
// npub is kept in clear beside the vault so `status` works without the password). Small on purpose: commands
// like init and status import it without loading the whole app.
import { existsSync, readFileSync } from "node:fs";
import { z } from "zod";
import { paths } from "./data-dir.ts";
import { atomicWriteFile } from "./util/atomic.ts";

const PublicIdentity = z.object({ npub: z.string(), pubkey: z.string() });

export { paths };

export function readPublicIdentity(dataDir: string): z.infer<typeof PublicIdentity> | null {
  const p = paths(dataDir).publicIdentity;
  if (!existsSync(p)) return null;
  try {
    return PublicIdentity.parse(JSON.parse(readFileSync(p, "utf8")));
  } catch {
    return null;
  }
}

/** Writes the public identity beside the vault (owner-only, replaced atomically). */
export function writePublicIdentity(dataDir: string, id: { npub: string; pubkey: string }): void {
  atomicWriteFile(paths(dataDir).publicIdentity, JSON.stringify({ npub: id.npub, pubkey: id.pubkey }) + "\n", 0o600);
}
