/**
 * The jail's filesystem and namespaces: the bubblewrap arguments that give a sandbox nothing but the Deno
 * binary, the shared libraries it links, the directories its code must read (all read-only) and a private,
 * size-capped tmpfs `/tmp` holding a throwaway `DENO_DIR`.
 *
 * What the jail leaves out, on purpose: `/proc` (Deno runs without it but for `/proc/self/exe`, which is a
 * plain symlink to the binary here; a procfs would expose `/proc/self/*` and the host kernel's files),
 * `/etc` (no DNS, no users, no certificates: there is no network anyway), `/home`, the host `/tmp`, every
 * device but the minimal `/dev` bubblewrap creates. Every namespace is unshared (user, pid, net, ipc, uts,
 * cgroup, mount), nested user namespaces are disabled, the session is new (no TIOCSTI into the
 * supervisor's terminal) and the jail dies with its parent.
 *
 * @module
 */
import { assert } from "../protocol/mod.ts";

/** Where the Deno binary appears inside the jail. */
export const JAIL_DENO_PATH = "/o/deno";
/** `DENO_DIR` inside the jail: on the private tmpfs, so Cache API, localStorage and caches die with it. */
export const JAIL_DENO_DIR = "/tmp/.deno";

/** What the jail needs to know beyond the paths it binds. */
export interface JailOptions {
  /** Directories bound read-only at the same path. */
  readDirs: string[];
  /** Single files bound read-only at the same path (the entry, the import map). */
  readFiles: string[];
  /** Size cap of the private `/tmp`, bytes. */
  tmpBytes: number;
  /** Environment inside the jail (it starts empty). */
  env: Record<string, string>;
}

/**
 * The Deno binary sandboxes run: `O_DENO_BIN` when set (a `deno compile`d O is not itself a `deno` that
 * can `run` modules), else this process's own executable.
 *
 * @returns An absolute path.
 */
export function denoBinary(): string {
  return Deno.env.get("O_DENO_BIN") || Deno.execPath();
}

let bwrapPath: string | null | undefined;
let runtimeFiles: { deno: string; libs: string[]; fallbackDirs: string[] } | undefined;

const BWRAP_CANDIDATES = ["/usr/bin/bwrap", "/bin/bwrap", "/usr/local/bin/bwrap"];
const LIB_DIRS_FALLBACK = ["/lib", "/lib64", "/usr/lib", "/usr/lib64"];

/**
 * The Deno binary and the shared libraries it links (from `ldd`, once). Binding single files keeps the
 * rest of /usr out of the jail; if `ldd` is missing, whole library directories are bound instead.
 */
export function jailRuntimeFiles(): { deno: string; libs: string[]; fallbackDirs: string[] } {
  if (runtimeFiles) return runtimeFiles;
  const deno = Deno.realPathSync(denoBinary());
  const libs: string[] = [];
  try {
    const out = new Deno.Command("ldd", { args: [deno], stdout: "piped", stderr: "null", clearEnv: true })
      .outputSync();
    if (out.success) {
      for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
        const m = line.match(/(?:=>\s*)?(\/\S+)\s+\(0x/);
        if (m) libs.push(m[1]);
      }
    }
  } catch {
    // No ldd: bind the library directories whole.
  }
  runtimeFiles = { deno, libs, fallbackDirs: libs.length > 0 ? [] : LIB_DIRS_FALLBACK };
  return runtimeFiles;
}

/**
 * Finds a working bubblewrap, once: present, and able to start Deno in a fresh user namespace (container
 * hosts may forbid that).
 *
 * @returns The path of `bwrap`, or `null` where the jail cannot run.
 */
export function findBwrap(): string | null {
  if (bwrapPath !== undefined) return bwrapPath;
  bwrapPath = null;
  for (const candidate of BWRAP_CANDIDATES) {
    try {
      Deno.statSync(candidate);
    } catch {
      continue;
    }
    const args = [
      ...jailArgs({ readDirs: [], readFiles: [], tmpBytes: 1024 * 1024, env: {} }),
      JAIL_DENO_PATH,
      "--version",
    ];
    try {
      const out = new Deno.Command(candidate, { args, stdout: "null", stderr: "null", clearEnv: true })
        .outputSync();
      if (out.success) bwrapPath = candidate;
    } catch {
      // Not executable: try the next one.
    }
    break;
  }
  return bwrapPath;
}

/**
 * Builds the bubblewrap arguments (everything before the command).
 *
 * @param options Paths to bind, tmpfs size, environment.
 * @returns The arguments, ending before `--`-less command position.
 */
export function jailArgs(options: JailOptions): string[] {
  assert(options.tmpBytes > 0, "The jail's /tmp needs a positive size");
  const rt = jailRuntimeFiles();
  const args = [
    "--unshare-all",
    "--unshare-user",
    "--disable-userns",
    // bubblewrap started by root keeps every capability (inside the new user namespace) unless told.
    "--cap-drop",
    "ALL",
    "--die-with-parent",
    "--new-session",
    "--clearenv",
    "--hostname",
    "sandbox",
    "--ro-bind",
    rt.deno,
    JAIL_DENO_PATH,
  ];
  for (const lib of rt.libs) args.push("--ro-bind", Deno.realPathSync(lib), lib);
  for (const dir of rt.fallbackDirs) args.push("--ro-bind-try", dir, dir);
  // Deno reads its own path through /proc/self/exe (node: built-ins panic without it): a plain symlink
  // answers that without mounting a procfs.
  args.push("--symlink", JAIL_DENO_PATH, "/proc/self/exe");
  args.push("--dev", "/dev", "--size", String(options.tmpBytes), "--tmpfs", "/tmp");
  for (const dir of options.readDirs) {
    assert(dir.startsWith("/"), `A jail read directory must be absolute: ${dir}`);
    args.push("--ro-bind", dir, dir);
  }
  for (const file of options.readFiles) {
    assert(file.startsWith("/"), `A jail read file must be absolute: ${file}`);
    args.push("--ro-bind", file, file);
  }
  args.push("--setenv", "DENO_DIR", JAIL_DENO_DIR);
  for (const [k, v] of Object.entries(options.env)) args.push("--setenv", k, v);
  args.push("--chdir", "/tmp");
  return args;
}
