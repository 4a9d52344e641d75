/**
 * An in-process Supervisor on a fresh vault in a temp dir (real jailed sandboxes), for tests and benches
 * that drive AgentHosts directly; `close()` stops it and removes everything.
 *
 * @module
 */
import { Logger } from "../observability/mod.ts";
import { openVault, type Vault } from "../vault/mod.ts";
import { Supervisor, SupervisorMetrics, type SupervisorOptions } from "../supervisor/mod.ts";

/** A running in-process supervisor. */
export interface LocalSupervisor {
  supervisor: Supervisor;
  vault: Vault;
  dataDir: string;
  /** Stops the supervisor, closes the vault, removes the data dir. */
  close(): Promise<void>;
}

/**
 * Starts one. Defaults: the jail tier, a logger that keeps errors only and writes nothing.
 *
 * @param options Supervisor options to override, and the temp dir's prefix.
 */
export async function localSupervisor(
  options: Partial<Omit<SupervisorOptions, "dataDir" | "vault">> & { prefix?: string } = {},
): Promise<LocalSupervisor> {
  const { prefix, ...rest } = options;
  const dataDir = await Deno.makeTempDir({ prefix: prefix ?? "o-local-" });
  const vault = await openVault({ dataDir });
  const supervisor = new Supervisor({
    log: new Logger({ console: false, level: "error" }),
    metrics: new SupervisorMetrics(),
    tier: "jail",
    ...rest,
    dataDir,
    vault,
  });
  return {
    supervisor,
    vault,
    dataDir,
    async close() {
      await supervisor.stop(200);
      await vault.close();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    },
  };
}
