/**
 * The vault's figures: durable appends with group commit against one fdatasync per append, and 10 MB
 * checkpoint save/restore, from `benchVault()`.
 *
 * @module
 */
import { benchVault } from "../vault/mod.ts";
import type { Figure } from "./_util.ts";

/** Runs the section. */
export async function vaultSection(_quick: boolean): Promise<Figure[]> {
  const v = await benchVault();
  const section = "durability";
  return [
    {
      section,
      name: `durable appends, group commit (${v.appenders} appenders)`,
      value: v.group_commit_appends_per_s,
      unit: "appends/s",
      baseline: v.fsync_per_append_appends_per_s,
      baselineName: "fdatasync per append",
      goal: "≫ 1× (one sync per batch)",
      met: v.group_commit_appends_per_s > v.fsync_per_append_appends_per_s,
    },
    {
      section,
      name: "checkpoint save, 10 MB state",
      value: v.checkpoint_save_ms,
      unit: "ms",
      goal: "< 200 ms (seed 1 s)",
      met: v.checkpoint_save_ms < 200,
    },
    {
      section,
      name: "checkpoint restore, 10 MB state",
      value: v.checkpoint_restore_ms,
      unit: "ms",
      goal: "< 200 ms (seed 2 s)",
      met: v.checkpoint_restore_ms < 200,
    },
  ];
}
