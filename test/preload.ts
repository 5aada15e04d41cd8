// Runs before every test file (bunfig.toml): keep tests away from the user's real data dir.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = mkdtempSync(join(tmpdir(), "compute-test-"));
process.env.COMPUTE_DATA_DIR = join(root, "data");
process.env.XDG_DATA_HOME = join(root, "xdg");
delete process.env.COMPUTE_PASSWORD;
delete process.env.OLLAMA_HOST;
delete process.env.BREEZ_API_KEY;
process.env.COMPUTE_LOG_LEVEL ??= "error";
