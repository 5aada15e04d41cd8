// Where compute keeps its files: the default data dir and the files in it. Only node built-ins,
// so a quick command (compute earnings) finds them without loading zod or the config's schema;
// config.ts, paths.ts and util/lock.ts re-export these.
import { homedir } from "node:os";
import { join } from "node:path";

/** Per-platform data dir: XDG on Linux, Application Support on macOS, AppData on Windows. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env, platform = process.platform): string {
  if (env.COMPUTE_DATA_DIR) return env.COMPUTE_DATA_DIR;
  const home = env.HOME ?? homedir();
  if (platform === "darwin") return join(home, "Library", "Application Support", "compute");
  if (platform === "win32") return join(env.APPDATA ?? join(home, "AppData", "Roaming"), "compute");
  return join(env.XDG_DATA_HOME || join(home, ".local", "share"), "compute");
}

export const paths = (dataDir: string) => ({
  vault: join(dataDir, "vault.json"),
  publicIdentity: join(dataDir, "identity.json"),
  ledger: join(dataDir, "ledger.sqlite"),
  wallet: join(dataDir, "wallet"),
});

/** The running instance's lock file (util/lock.ts). */
export const lockPath = (dataDir: string) => join(dataDir, "compute.lock");
