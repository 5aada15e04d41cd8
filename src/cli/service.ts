// `compute service install|uninstall|status|logs`: run compute in the background, started by the OS
// (a systemd user unit on Linux, a launchd agent on macOS, a Task Scheduler task on Windows).
// The files come from src/service/units.ts; this file only decides, writes and asks the OS.
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir, userInfo } from "node:os";
import { dirname, join, resolve } from "node:path";
import { AppError } from "../errors.ts";
import { Vault } from "../identity/vault.ts";
import { paths } from "../paths.ts";
import { readLock } from "../util/lock.ts";
import { atomicWriteFile } from "../util/atomic.ts";
import { LAUNCHD_LABEL, SERVICE_NAME, launchdPlist, systemdUnit, windowsTaskXml, type PasswordSource, type ServiceSpec } from "../service/units.ts";
import { clearSecret, readPasswordFile, readSecret, secretStoreAvailable, writeSecret } from "../service/secrets.ts";
import { COMMON_HELP, dataDirFrom, intFlag, parse, printJson, promptHidden, takeEnvSecret } from "./common.ts";

const HELP = `Usage: compute service install|uninstall|status|logs [options]

Runs compute in the background, started by the system: \`compute --headless --online\`.
  Linux    a systemd user unit, ~/.config/systemd/user/compute.service (restarts on failure)
  macOS    a launchd agent, ~/Library/LaunchAgents/${LAUNCHD_LABEL}.plist
  Windows  a Task Scheduler task "compute" at log-on

The vault password for an unattended start is kept in the system's secret store (Secret Service
via secret-tool, the Keychain, the Credential Manager), never in the service file. Without one,
pass --password-file FILE: a file only you can read (chmod 600), refused otherwise.

install options:
  --password-file FILE   use this file for the password instead of the secret store
  --no-start             write and register the service, but don't start it now
  --print                print the service file and exit; nothing is written
  --system               Linux, as root: a system unit for a dedicated user (see --service-user)
  --service-user NAME    the system unit's user (default compute); with --system
  --yes                  with --system: do it (without it, only says what it would do)
uninstall options:
  --keep-secret          leave the password in the secret store
logs options:
  -n N                   lines to show (default 100)
  --no-follow            print and exit instead of following
${COMMON_HELP}`;

type Platform = "linux" | "darwin" | "win32";

function platformOf(): Platform {
  const p = process.env.COMPUTE_SERVICE_PLATFORM ?? process.platform;
  if (p === "linux" || p === "darwin" || p === "win32") return p;
  throw new AppError("unavailable", `Running as a service is not supported on ${p}.`);
}

const home = () => process.env.HOME ?? homedir();

export function serviceFile(platform: Platform, system = false): string {
  if (platform === "darwin") return join(home(), "Library", "LaunchAgents", `${LAUNCHD_LABEL}.plist`);
  if (platform === "win32") return join(process.env.LOCALAPPDATA ?? join(home(), "AppData", "Local"), "compute", "compute-task.xml");
  if (system) return `/etc/systemd/system/${SERVICE_NAME}.service`;
  return join(process.env.XDG_CONFIG_HOME || join(home(), ".config"), "systemd", "user", `${SERVICE_NAME}.service`);
}

export function logFile(platform: Platform): string {
  if (platform === "darwin") return join(home(), "Library", "Logs", "compute", "compute.log");
  return join(process.env.LOCALAPPDATA ?? join(home(), "AppData", "Local"), "compute", "compute.log");
}

/** The program that runs: this binary when compiled, else bun and the entry script. */
export function currentExec(): string[] {
  const compiled = /\$bunfs|~BUN/.test(Bun.main);
  return compiled ? [process.execPath] : [process.execPath, resolve(Bun.main)];
}

async function sh(argv: string[], timeoutMs = 20_000): Promise<{ code: number; out: string }> {
  const exe = Bun.which(argv[0]!, { PATH: process.env.PATH ?? "" });
  if (!exe) return { code: 127, out: `${argv[0]} not found` };
  const p = Bun.spawn([exe, ...argv.slice(1)], { env: process.env, stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: timeoutMs });
  const [o, e, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out: (o + e).trim() };
}

const say = (line: string) => process.stderr.write(`compute: ${line}\n`);

export async function service(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      system: { type: "boolean" },
      "service-user": { type: "string" },
      yes: { type: "boolean" },
      "no-start": { type: "boolean" },
      print: { type: "boolean" },
      "keep-secret": { type: "boolean" },
      "no-follow": { type: "boolean" },
      n: { type: "string", short: "n" },
    },
    true,
  );
  if (values.help || positionals.length === 0) {
    process.stdout.write(HELP + "\n");
    return values.help ? 0 : 2;
  }
  const [verb, ...extra] = positionals;
  if (extra.length) throw new AppError("usage", `Unexpected '${extra[0]}'; see --help.`);
  const platform = platformOf();
  switch (verb) {
    case "install":
      return install(values, platform);
    case "uninstall":
      return uninstall(values, platform);
    case "status":
      return status(values, platform);
    case "logs":
      return logs(values, platform);
    default:
      throw new AppError("usage", `Unknown service command '${verb}': install, uninstall, status or logs.`);
  }
}

type Values = Record<string, string | boolean | string[] | undefined>;

/** Decides where the service reads the password, and checks that password opens the vault. */
async function choosePassword(values: Values, dataDir: string, platform: Platform, print: boolean): Promise<PasswordSource> {
  const vault = paths(dataDir).vault;
  if (values["password-file"]) {
    const path = resolve(values["password-file"] as string);
    if (print) return { kind: "file", path };
    const pw = readPasswordFile(path);
    await Vault.open(vault, pw); // a wrong password would make every start fail
    return { kind: "file", path };
  }
  if (!secretStoreAvailable(platform)) {
    const tool = platform === "linux" ? "secret-tool (Debian/Ubuntu: apt install libsecret-tools)" : platform === "darwin" ? "security" : "powershell.exe";
    throw new AppError("unavailable", `No secret store on this machine (${tool} not found): pass --password-file FILE, a file only you can read (chmod 600).`);
  }
  if (print) return { kind: "secret-store" };
  const stored = await readSecret(dataDir, platform);
  if (stored !== null) {
    try {
      await Vault.open(vault, stored);
      say("the vault password is already in the secret store; using it.");
      return { kind: "secret-store" };
    } catch {
      say("the password in the secret store no longer opens the vault; replacing it.");
    }
  }
  const pw = takeEnvSecret("COMPUTE_PASSWORD") ?? (process.stdin.isTTY ? await promptHidden("Vault password (kept in the secret store): ") : null);
  if (!pw) throw new AppError("usage", "No vault password: run in a terminal to be asked, set COMPUTE_PASSWORD, or pass --password-file FILE.");
  await Vault.open(vault, pw);
  await writeSecret(dataDir, pw, platform);
  say("the vault password is stored in the secret store.");
  return { kind: "secret-store" };
}

async function install(values: Values, platform: Platform): Promise<number> {
  const dataDir = resolve(dataDirFrom(values as { "data-dir"?: string }));
  const print = Boolean(values.print);
  if (values.system) return installSystem(values, dataDir, platform);
  if (!print && !Vault.exists(paths(dataDir).vault)) throw new AppError("not_found", `No identity in ${dataDir} yet: run \`compute init\` first.`);
  const password = await choosePassword(values, dataDir, platform, print);
  const spec: ServiceSpec = { exec: currentExec(), dataDir, password };
  const file = serviceFile(platform);
  const text =
    platform === "linux" ? systemdUnit(spec) : platform === "darwin" ? launchdPlist({ ...spec, logFile: logFile(platform) }) : windowsTaskXml({ ...spec, userId: userInfo().username, logFile: logFile(platform) });
  if (print) {
    process.stdout.write(text);
    return 0;
  }
  mkdirSync(dirname(file), { recursive: true });
  if (platform === "win32") {
    // schtasks reads the XML as UTF-16 (its declaration says so): little-endian with a BOM.
    writeFileSync(file, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, "utf16le")]), { mode: 0o644 });
  } else {
    if (platform === "darwin") mkdirSync(dirname(logFile(platform)), { recursive: true });
    atomicWriteFile(file, text, 0o644);
  }
  process.stdout.write(`Wrote ${file}\n`);
  const start = !values["no-start"];
  if (platform === "linux") {
    const steps = [["systemctl", "--user", "daemon-reload"], ["systemctl", "--user", "enable", ...(start ? ["--now"] : []), `${SERVICE_NAME}.service`]];
    await runSteps(steps);
    process.stdout.write(
      `To start it at boot, before you log in: loginctl enable-linger ${userInfo().username}  (not run for you)\n` +
        `See it with: compute service status   ·   its log: compute service logs\n`,
    );
  } else if (platform === "darwin") {
    const uid = process.getuid?.() ?? 0;
    await sh(["launchctl", "bootout", `gui/${uid}/${LAUNCHD_LABEL}`]);
    if (start) await runSteps([["launchctl", "bootstrap", `gui/${uid}`, file]]);
  } else {
    await runSteps([["schtasks", "/Create", "/TN", SERVICE_NAME, "/XML", file, "/F"], ...(start ? [["schtasks", "/Run", "/TN", SERVICE_NAME]] : [])]);
  }
  return 0;
}

/** Runs each step; on the first failure says what failed and the commands left to run by hand. */
async function runSteps(steps: string[][]): Promise<boolean> {
  for (let i = 0; i < steps.length; i++) {
    const r = await sh(steps[i]!);
    if (r.code !== 0) {
      say(`\`${steps[i]!.join(" ")}\` failed${r.out ? `: ${r.out.split("\n")[0]}` : ""}.`);
      say(`the service file is in place; once that is fixed, run: ${steps.slice(i).map((s) => s.join(" ")).join(" && ")}`);
      return false;
    }
  }
  return true;
}

async function installSystem(values: Values, dataDirFlag: string, platform: Platform): Promise<number> {
  if (platform !== "linux") throw new AppError("usage", "--system is for Linux (systemd); on this system use `compute service install`.");
  const user = (values["service-user"] as string | undefined) ?? "compute";
  const dataDir = values["data-dir"] ? dataDirFlag : `/var/lib/${user}`;
  const pwFile = values["password-file"] as string | undefined;
  if (!pwFile) throw new AppError("usage", "--system needs --password-file FILE (a system user has no secret store): owned by that user, mode 600.");
  const password: PasswordSource = { kind: "file", path: resolve(pwFile) };
  const text = systemdUnit({ exec: currentExec(), dataDir, password, system: { user } });
  if (values.print) {
    process.stdout.write(text);
    return 0;
  }
  if (process.getuid?.() !== 0) throw new AppError("forbidden", "--system writes to /etc/systemd/system and creates a user: run it as root (sudo).");
  const file = serviceFile("linux", true);
  process.stdout.write(
    `This will:\n` +
      `  1. create the system user '${user}' with home ${dataDir}, unless it exists (useradd --system)\n` +
      `  2. write ${file}, running as '${user}': ${text.split("\n").find((l) => l.startsWith("ExecStart="))!.slice(10)}\n` +
      `  3. systemctl daemon-reload, then systemctl enable --now ${SERVICE_NAME}.service\n` +
      `The program must be readable by '${user}', ${dataDir} must hold an identity (sudo -u ${user} compute init --data-dir ${dataDir}),\n` +
      `and ${password.path} must belong to '${user}' with mode 600.\n`,
  );
  if (!values.yes) {
    process.stdout.write("Nothing done: run again with --yes to do it.\n");
    return 0;
  }
  if ((await sh(["id", "-u", user])).code !== 0) {
    if (!(await runSteps([["useradd", "--system", "--home-dir", dataDir, "--create-home", "--shell", "/usr/sbin/nologin", user]]))) return 1;
  }
  const uid = Number((await sh(["id", "-u", user])).out);
  const st = statSync(password.path);
  if (st.uid !== uid || (st.mode & 0o077) !== 0) throw new AppError("forbidden", `${password.path} must belong to '${user}' and be mode 600 (chown ${user} ${password.path}; chmod 600 ${password.path}).`);
  atomicWriteFile(file, text, 0o644);
  process.stdout.write(`Wrote ${file}\n`);
  if (values["no-start"]) return (await runSteps([["systemctl", "daemon-reload"], ["systemctl", "enable", `${SERVICE_NAME}.service`]])) ? 0 : 1;
  return (await runSteps([["systemctl", "daemon-reload"], ["systemctl", "enable", "--now", `${SERVICE_NAME}.service`]])) ? 0 : 1;
}

async function uninstall(values: Values, platform: Platform): Promise<number> {
  const dataDir = resolve(dataDirFrom(values as { "data-dir"?: string }));
  const system = Boolean(values.system);
  const file = serviceFile(platform, system);
  if (platform === "linux") {
    const ctl = system ? ["systemctl"] : ["systemctl", "--user"];
    const r = await sh([...ctl, "disable", "--now", `${SERVICE_NAME}.service`]);
    if (r.code !== 0 && existsSync(file)) say(`\`${ctl.join(" ")} disable --now\` failed (${r.out.split("\n")[0]}); removing the unit file anyway.`);
    rmSync(file, { force: true });
    await sh([...ctl, "daemon-reload"]);
  } else if (platform === "darwin") {
    await sh(["launchctl", "bootout", `gui/${process.getuid?.() ?? 0}/${LAUNCHD_LABEL}`]);
    rmSync(file, { force: true });
  } else {
    await sh(["schtasks", "/Delete", "/TN", SERVICE_NAME, "/F"]);
    rmSync(file, { force: true });
  }
  process.stdout.write(`Removed ${file}\n`);
  if (!values["keep-secret"] && !system && secretStoreAvailable(platform)) {
    if (await clearSecret(dataDir, platform)) process.stdout.write("Removed the vault password from the secret store.\n");
  }
  return 0;
}

export interface ServiceStatus {
  installed: boolean;
  file: string;
  enabled: string;
  active: string;
  running: boolean;
  pid: number | null;
  dashboard: string | null;
}

async function status(values: Values, platform: Platform): Promise<number> {
  const dataDir = resolve(dataDirFrom(values as { "data-dir"?: string }));
  const system = Boolean(values.system);
  const file = serviceFile(platform, system);
  let enabled = "unknown";
  let active = "unknown";
  if (platform === "linux") {
    const ctl = system ? ["systemctl"] : ["systemctl", "--user"];
    const e = await sh([...ctl, "is-enabled", `${SERVICE_NAME}.service`]);
    const a = await sh([...ctl, "is-active", `${SERVICE_NAME}.service`]);
    // is-enabled/is-active print the state and exit non-zero for "disabled"/"inactive": the text is the answer.
    const word = (r: { code: number; out: string }) => (/^[a-z-]+$/.test(r.out) ? r.out : `unknown (${r.out.split("\n")[0] || `exit ${r.code}`})`);
    enabled = word(e);
    active = word(a);
  } else if (platform === "darwin") {
    const r = await sh(["launchctl", "print", `gui/${process.getuid?.() ?? 0}/${LAUNCHD_LABEL}`]);
    enabled = existsSync(file) ? "enabled" : "disabled";
    active = r.code === 0 ? (/state = running/.test(r.out) ? "active" : "inactive") : "inactive";
  } else {
    const r = await sh(["schtasks", "/Query", "/TN", SERVICE_NAME, "/FO", "LIST"]);
    enabled = r.code === 0 ? (/Disabled/i.test(r.out) ? "disabled" : "enabled") : "not registered";
    active = r.code === 0 && /Running/i.test(r.out) ? "active" : "inactive";
  }
  const lock = readLock(dataDir);
  const report: ServiceStatus = {
    installed: existsSync(file),
    file,
    enabled,
    active,
    running: lock !== null,
    pid: lock?.pid ?? null,
    dashboard: lock?.url ? (lock.token ? `${lock.url}/?token=${lock.token}` : lock.url) : null,
  };
  if (values.json) {
    printJson(report);
    return 0;
  }
  process.stdout.write(
    [
      `service       ${report.installed ? `installed (${file})` : "not installed: compute service install"}`,
      `enabled       ${report.enabled}`,
      `active        ${report.active}`,
      `running       ${report.running ? `yes (pid ${report.pid})` : "no"}`,
      `dashboard     ${report.dashboard ?? "-"}`,
    ].join("\n") + "\n",
  );
  return 0;
}

async function logs(values: Values, platform: Platform): Promise<number> {
  const n = intFlag(values.n as string | undefined, "n", 1, 100_000) ?? 100;
  const follow = !values["no-follow"];
  let argv: string[];
  if (platform === "linux") {
    argv = ["journalctl", ...(values.system ? [] : ["--user"]), "-u", `${SERVICE_NAME}.service`, "-n", String(n), "--no-pager", ...(follow ? ["-f"] : [])];
  } else if (platform === "darwin") {
    argv = ["tail", "-n", String(n), ...(follow ? ["-f"] : []), logFile(platform)];
  } else {
    argv = ["powershell.exe", "-NoProfile", "-Command", `Get-Content -Tail ${n} ${follow ? "-Wait " : ""}-LiteralPath '${logFile(platform).replace(/'/g, "''")}'`];
  }
  if (!Bun.which(argv[0]!, { PATH: process.env.PATH ?? "" })) throw new AppError("unavailable", `${argv[0]} is not installed; the log can't be shown.`);
  const p = Bun.spawn(argv, { env: process.env, stdin: "ignore", stdout: "inherit", stderr: "inherit" });
  const stop = () => p.kill("SIGTERM");
  process.once("SIGINT", stop);
  const code = await p.exited;
  process.off("SIGINT", stop);
  return code === 143 || code === 130 ? 0 : code;
}

