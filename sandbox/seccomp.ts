/**
 * A seccomp filter for the jail: the system calls Deno never needs and kernel exploits love (ptrace,
 * process_vm_*, bpf, perf_event_open, userfaultfd, keyrings, io_uring, namespaces, mounts, modules,
 * kexec, …) fail with EPERM; foreign ABIs (i386 `int 0x80`, x32) are refused outright, because they have
 * their own syscall numbers and would walk around the list. bubblewrap loads it (`--seccomp FD`) just
 * before it execs Deno, so it binds Deno and everything Deno starts.
 *
 * A second wall behind Deno's permissions: it matters only once code runs native instructions (a V8
 * bug), and then it narrows the kernel surface that code can reach. x86_64 only; on other architectures
 * the jail runs without it (said in {@link seccompFilterPath}'s result).
 *
 * @module
 */

/** x86_64 syscall numbers denied in the jail, with EPERM. */
export const SECCOMP_DENIED_X86_64: Readonly<Record<string, number>> = {
  ptrace: 101,
  syslog: 103,
  personality: 135,
  vhangup: 153,
  pivot_root: 155,
  acct: 163,
  settimeofday: 164,
  mount: 165,
  umount2: 166,
  swapon: 167,
  swapoff: 168,
  reboot: 169,
  iopl: 172,
  ioperm: 173,
  init_module: 175,
  delete_module: 176,
  quotactl: 179,
  lookup_dcookie: 212,
  clock_settime: 227,
  kexec_load: 246,
  add_key: 248,
  request_key: 249,
  keyctl: 250,
  unshare: 272,
  perf_event_open: 298,
  fanotify_init: 300,
  name_to_handle_at: 303,
  open_by_handle_at: 304,
  setns: 308,
  process_vm_readv: 310,
  process_vm_writev: 311,
  kcmp: 312,
  finit_module: 313,
  kexec_file_load: 320,
  bpf: 321,
  userfaultfd: 323,
  io_uring_setup: 425,
  io_uring_enter: 426,
  io_uring_register: 427,
  open_tree: 428,
  move_mount: 429,
  fsopen: 430,
  fsconfig: 431,
  fsmount: 432,
  fspick: 433,
  mount_setattr: 442,
};

const AUDIT_ARCH_X86_64 = 0xc000003e;
const X32_SYSCALL_BIT = 0x40000000;
const EPERM = 1;
const BPF_LD_W_ABS = 0x20;
const BPF_JEQ_K = 0x15;
const BPF_JGE_K = 0x35;
const BPF_RET_K = 0x06;
const RET_ALLOW = 0x7fff0000;
const RET_ERRNO = 0x00050000;
const RET_KILL_PROCESS = 0x80000000;
const OFFSET_NR = 0;
const OFFSET_ARCH = 4;

let filterPath: string | null | undefined;

/**
 * Builds the classic-BPF program (an array of `struct sock_filter`, little-endian).
 *
 * @param denied Syscall numbers to fail with EPERM.
 * @returns The program's bytes.
 */
export function buildSeccompFilter(denied: readonly number[]): Uint8Array {
  const program: [number, number, number, number][] = [];
  const errnoIndex = 5 + denied.length + 1; // After: arch load/check/kill, nr load, x32 check, list, allow.
  program.push([BPF_LD_W_ABS, 0, 0, OFFSET_ARCH]);
  program.push([BPF_JEQ_K, 1, 0, AUDIT_ARCH_X86_64]);
  program.push([BPF_RET_K, 0, 0, RET_KILL_PROCESS]);
  program.push([BPF_LD_W_ABS, 0, 0, OFFSET_NR]);
  program.push([BPF_JGE_K, errnoIndex - 5, 0, X32_SYSCALL_BIT]);
  for (const nr of denied) program.push([BPF_JEQ_K, errnoIndex - (program.length + 1), 0, nr]);
  program.push([BPF_RET_K, 0, 0, RET_ALLOW]);
  program.push([BPF_RET_K, 0, 0, RET_ERRNO | EPERM]);
  const bytes = new Uint8Array(program.length * 8);
  const view = new DataView(bytes.buffer);
  program.forEach(([code, jt, jf, k], i) => {
    if (jt > 255 || jf > 255) throw new RangeError("Cannot build a seccomp filter: a jump is too long");
    view.setUint16(i * 8, code, true);
    view.setUint8(i * 8 + 2, jt);
    view.setUint8(i * 8 + 3, jf);
    view.setUint32(i * 8 + 4, k >>> 0, true);
  });
  return bytes;
}

/**
 * The filter file bubblewrap reads. One file per distinct filter, kept in a directory private to this
 * user (`$TMPDIR/o-seccomp-<uid>`, mode 0700, checked to be ours and not a symlink, so another user
 * cannot plant a permissive filter there); where that check fails, a fresh private temp file.
 *
 * @returns Its path, or `null` where no filter is built (not x86_64; `O_SANDBOX_SECCOMP=off`).
 */
export function seccompFilterPath(): string | null {
  if (filterPath !== undefined) return filterPath;
  filterPath = null;
  if (Deno.build.arch !== "x86_64" || Deno.env.get("O_SANDBOX_SECCOMP") === "off") return filterPath;
  const bytes = buildSeccompFilter(Object.values(SECCOMP_DENIED_X86_64));
  filterPath = sharedFilterFile(bytes) ?? privateFilterFile(bytes);
  return filterPath;
}

function sharedFilterFile(bytes: Uint8Array): string | null {
  try {
    const uid = Deno.uid() ?? 0;
    const dir = `${Deno.env.get("TMPDIR") || "/tmp"}/o-seccomp-${uid}`;
    try {
      Deno.mkdirSync(dir, { mode: 0o700 });
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) return null;
    }
    const st = Deno.lstatSync(dir);
    if (!st.isDirectory || st.uid !== uid || ((st.mode ?? 0) & 0o077) !== 0) return null;
    const path = `${dir}/filter-${fnv1a(bytes)}.bpf`;
    try {
      const existing = Deno.readFileSync(path);
      if (existing.length === bytes.length && existing.every((b, i) => b === bytes[i])) return path;
    } catch {
      // Not written yet.
    }
    const partial = `${path}.${Deno.pid}.tmp`;
    Deno.writeFileSync(partial, bytes, { mode: 0o600 });
    Deno.renameSync(partial, path);
    return path;
  } catch {
    return null;
  }
}

function privateFilterFile(bytes: Uint8Array): string {
  const path = Deno.makeTempFileSync({ prefix: "o-seccomp-", suffix: ".bpf" });
  Deno.writeFileSync(path, bytes, { mode: 0o600 });
  return path;
}

function fnv1a(bytes: Uint8Array): string {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}
