// Where an unattended compute gets its vault password: the OS secret store (Secret Service through
// `secret-tool` on Linux, the Keychain through `security` on macOS, the Credential Manager on
// Windows through PowerShell), else a password file only its owner can read. The password goes to
// the store's tool on stdin, never on a command line (visible in `ps`) nor in an environment.
import { statSync, readFileSync } from "node:fs";
import { AppError } from "../errors.ts";

export interface SecretCommand {
  argv: string[];
  /** Written to the tool's stdin. */
  stdin?: string;
}

/** Tcl-like quoting for `security -i` (its interactive commands are split like a shell line). */
const secQuote = (s: string) => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
const psQuote = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** The credential's name: one per data dir, so two installs don't share a password. */
export const secretAccount = (dataDir: string) => dataDir;
const WIN_TARGET = (dataDir: string) => `compute:${dataDir}`;

// Windows: CredRead/CredWrite from advapi32 (there is no built-in command that reads a password
// back out of the Credential Manager).
const WIN_CRED = `Add-Type -Namespace C -Name Cred -MemberDefinition '[DllImport("advapi32.dll",CharSet=CharSet.Unicode,SetLastError=true)] public static extern bool CredReadW(string t,int y,int f,out IntPtr c); [DllImport("advapi32.dll",CharSet=CharSet.Unicode,SetLastError=true)] public static extern bool CredWriteW(ref CREDENTIAL c,int f); [DllImport("advapi32.dll",CharSet=CharSet.Unicode)] public static extern bool CredDeleteW(string t,int y,int f); [StructLayout(LayoutKind.Sequential,CharSet=CharSet.Unicode)] public struct CREDENTIAL { public int Flags; public int Type; public string TargetName; public string Comment; public long LastWritten; public int CredentialBlobSize; public IntPtr CredentialBlob; public int Persist; public int AttributeCount; public IntPtr Attributes; public string TargetAlias; public string UserName; }';`;

export function secretLookup(dataDir: string, platform = process.platform): SecretCommand {
  if (platform === "darwin") return { argv: ["security", "find-generic-password", "-s", "compute", "-a", secretAccount(dataDir), "-w"] };
  if (platform === "win32") {
    const script = `${WIN_CRED} $p=[IntPtr]::Zero; if(-not [C.Cred]::CredReadW(${psQuote(WIN_TARGET(dataDir))},1,0,[ref]$p)){exit 1}; $c=[Runtime.InteropServices.Marshal]::PtrToStructure($p,[type][C.Cred+CREDENTIAL]); [Console]::Out.Write([Runtime.InteropServices.Marshal]::PtrToStringUni($c.CredentialBlob,$c.CredentialBlobSize/2))`;
    return { argv: ["powershell.exe", "-NoProfile", "-NonInteractive", "-Command", script] };
  }
  return { argv: ["secret-tool", "lookup", "service", "compute", "data-dir", secretAccount(dataDir)] };
}

export function secretStore(dataDir: string, password: string, platform = process.platform): SecretCommand {
  if (platform === "darwin") {
    return { argv: ["security", "-i"], stdin: `add-generic-password -U -s compute -a ${secQuote(secretAccount(dataDir))} -l ${secQuote("compute vault password")} -w ${secQuote(password)}\n` };
  }
  if (platform === "win32") {
    const script = `${WIN_CRED} $s=[Console]::In.ReadLine(); $b=[Text.Encoding]::Unicode.GetBytes($s); $c=New-Object C.Cred+CREDENTIAL; $c.Type=1; $c.Persist=2; $c.TargetName=${psQuote(WIN_TARGET(dataDir))}; $c.UserName='compute'; $c.CredentialBlobSize=$b.Length; $c.CredentialBlob=[Runtime.InteropServices.Marshal]::AllocHGlobal($b.Length); [Runtime.InteropServices.Marshal]::Copy($b,0,$c.CredentialBlob,$b.Length); if(-not [C.Cred]::CredWriteW([ref]$c,0)){exit 1}`;
    return { argv: ["powershell.exe", "-NoProfile", "-NonInteractive", "-Command", script], stdin: password + "\n" };
  }
  return { argv: ["secret-tool", "store", "--label", "compute vault password", "service", "compute", "data-dir", secretAccount(dataDir)], stdin: password };
}

export function secretClear(dataDir: string, platform = process.platform): SecretCommand {
  if (platform === "darwin") return { argv: ["security", "delete-generic-password", "-s", "compute", "-a", secretAccount(dataDir)] };
  if (platform === "win32") return { argv: ["powershell.exe", "-NoProfile", "-NonInteractive", "-Command", `${WIN_CRED} [void][C.Cred]::CredDeleteW(${psQuote(WIN_TARGET(dataDir))},1,0)`] };
  return { argv: ["secret-tool", "clear", "service", "compute", "data-dir", secretAccount(dataDir)] };
}

async function runSecret(cmd: SecretCommand, timeoutMs = 15_000): Promise<{ code: number; stdout: string; stderr: string }> {
  const exe = Bun.which(cmd.argv[0]!, { PATH: process.env.PATH ?? "" });
  if (!exe) return { code: 127, stdout: "", stderr: `${cmd.argv[0]} not found` };
  const p = Bun.spawn([exe, ...cmd.argv.slice(1)], { env: process.env, stdin: cmd.stdin === undefined ? "ignore" : new TextEncoder().encode(cmd.stdin), stdout: "pipe", stderr: "pipe", timeout: timeoutMs });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

/** Whether this machine has the secret store's tool at all. */
export function secretStoreAvailable(platform = process.platform): boolean {
  return Bun.which(secretLookup("", platform).argv[0]!, { PATH: process.env.PATH ?? "" }) !== null;
}

/** The stored password, or null when there is none. Throws when the store can't be asked. */
export async function readSecret(dataDir: string, platform = process.platform): Promise<string | null> {
  const cmd = secretLookup(dataDir, platform);
  const r = await runSecret(cmd);
  if (r.code === 127) throw new AppError("unavailable", `The secret store can't be read: ${cmd.argv[0]} is not installed.`);
  if (r.code !== 0) {
    // secret-tool and security exit 1 when nothing matches; the store may also be locked or absent.
    return null;
  }
  const pw = r.stdout.replace(/\r?\n$/, "");
  return pw === "" ? null : pw;
}

export async function writeSecret(dataDir: string, password: string, platform = process.platform): Promise<void> {
  const cmd = secretStore(dataDir, password, platform);
  const r = await runSecret(cmd);
  // stderr may only say why (no session bus, keyring locked); it never holds the password.
  if (r.code !== 0) throw new AppError("unavailable", `The secret store refused the password (${cmd.argv[0]} exit ${r.code}${r.stderr.trim() ? `: ${r.stderr.trim().split("\n")[0]}` : ""}).`);
}

export async function clearSecret(dataDir: string, platform = process.platform): Promise<boolean> {
  return (await runSecret(secretClear(dataDir, platform))).code === 0;
}

/**
 * A password file for an unattended start: a regular file, owned by the user running compute and
 * readable by nobody else (mode 0600 or 0400). Anything else is refused: a password others can
 * read is not a secret. (Windows has no such mode bits; there it is only checked to be a file.)
 */
export function checkPasswordFile(path: string, platform = process.platform): void {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    throw new AppError("invalid_input", `Cannot read the password file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.`);
  }
  if (!st.isFile()) throw new AppError("invalid_input", `The password file ${path} is not a regular file.`);
  if (platform === "win32") return;
  if (typeof process.getuid === "function" && st.uid !== process.getuid()) {
    throw new AppError("forbidden", `The password file ${path} belongs to another user (uid ${st.uid}); it must be yours (chown it).`);
  }
  if ((st.mode & 0o077) !== 0) {
    throw new AppError("forbidden", `The password file ${path} can be read by others (mode ${(st.mode & 0o777).toString(8).padStart(4, "0")}); run \`chmod 600 ${path}\` first.`);
  }
}

export function readPasswordFile(path: string): string {
  checkPasswordFile(path);
  const pw = readFileSync(path, "utf8").replace(/\r?\n$/, "");
  if (!pw) throw new AppError("invalid_input", `The password file ${path} is empty.`);
  return pw;
}

/** `--password-from secret-store|file:PATH`: the vault password for an unattended start. */
export async function passwordFrom(spec: string, dataDir: string): Promise<string> {
  if (spec === "secret-store") {
    const pw = await readSecret(dataDir);
    if (pw === null) throw new AppError("not_found", "No vault password in the secret store for this data dir; run `compute service install` again to store it.");
    return pw;
  }
  if (spec.startsWith("file:") && spec.length > 5) return readPasswordFile(spec.slice(5));
  throw new AppError("usage", `--password-from must be secret-store or file:PATH, not '${spec}'.`);
}
