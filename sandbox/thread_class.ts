/**
 * Puts the calling thread (a supervisor's Worker: the shadow thread, an evaluator thread) into a CPU class
 * (see sandbox/cgroup.ts): cgroup v1 takes single threads into the class's shared `cpu` group; elsewhere
 * the thread's scheduling is lowered directly (`SCHED_IDLE` for background, niceness 10 for batch — a
 * thread shares its process's autogroup, where niceness does rank it below the main thread). Deno has no
 * call for the thread id, so it is read through FFI (`syscall(gettid)`); without FFI permission or libc the
 * thread keeps its class and the caller is told why.
 *
 * @module
 */
import { cpuClassGroup } from "./cgroup.ts";

/** Syscall numbers (gettid, sched_setscheduler, setpriority) per architecture. */
const SYSCALLS: Record<string, { gettid: number; setscheduler: number; setpriority: number }> = {
  x86_64: { gettid: 186, setscheduler: 144, setpriority: 141 },
  aarch64: { gettid: 178, setscheduler: 119, setpriority: 140 },
};
const SCHED_IDLE = 5;
const PRIO_PROCESS = 0;
/** Niceness of a batch thread where no cgroup takes it. */
const BATCH_THREAD_NICE = 10;

/**
 * Moves the calling thread into `cls`.
 *
 * @returns Whether it worked, and why not.
 */
export function setThreadCpuClass(cls: "background" | "batch"): { ok: boolean; why?: string } {
  const numbers = SYSCALLS[Deno.build.arch];
  if (numbers === undefined) return { ok: false, why: `no syscall numbers for ${Deno.build.arch}` };
  let libc;
  try {
    libc = Deno.dlopen(
      "libc.so.6",
      {
        gettid: { name: "syscall", parameters: ["i64"], result: "i64" },
        setscheduler: { name: "syscall", parameters: ["i64", "i64", "i64", "buffer"], result: "i64" },
        setpriority: { name: "syscall", parameters: ["i64", "i64", "i64", "i64"], result: "i64" },
      } as const,
    );
  } catch (e) {
    return { ok: false, why: `cannot load libc through FFI: ${e instanceof Error ? e.message : e}` };
  }
  try {
    const tid = BigInt(libc.symbols.gettid(BigInt(numbers.gettid)));
    const procs = cpuClassGroup(cls);
    if (procs !== null) {
      try {
        Deno.writeTextFileSync(procs.replace(/cgroup\.procs$/, "tasks"), String(tid));
        return { ok: true };
      } catch {
        // Fall through to the thread's own scheduling.
      }
    }
    const rc = cls === "background"
      ? libc.symbols.setscheduler(BigInt(numbers.setscheduler), tid, BigInt(SCHED_IDLE), new Int32Array(1))
      : libc.symbols.setpriority(
        BigInt(numbers.setpriority),
        BigInt(PRIO_PROCESS),
        tid,
        BigInt(BATCH_THREAD_NICE),
      );
    return rc === 0n ? { ok: true } : { ok: false, why: `the scheduling call returned ${rc}` };
  } finally {
    libc.close();
  }
}
