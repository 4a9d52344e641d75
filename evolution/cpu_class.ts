/**
 * The CPU class of evaluation jails made in this process (kept apart from the evaluator so a server can
 * set it without loading the evaluator and its parser at start).
 *
 * @module
 */
import type { CpuClass } from "../sandbox/mod.ts";

let evaluatorCpu: CpuClass = "normal";

/**
 * Sets the CPU class of evaluation jails made from now on in this process. A serving supervisor sets
 * `batch`: candidates, co-evolution and auto-fix evaluate beside live traffic and must take little from
 * it, yet always progress (an idle class could starve a case past its time limit). @default "normal"
 */
export function setEvaluatorCpuClass(cpu: CpuClass): void {
  evaluatorCpu = cpu;
}

/** The class set by {@link setEvaluatorCpuClass}. */
export function evaluatorCpuClass(): CpuClass {
  return evaluatorCpu;
}
