/**
 * The tier contract (sandbox/tier_contract.ts) for every tier this machine can run. The jail is skipped,
 * with a message, only where bubblewrap cannot run here.
 */
import { runTierContract } from "../sandbox/tier_contract.ts";
import { effectiveTier } from "../sandbox/mod.ts";

const jailAvailable = effectiveTier("jail") === "jail";
runTierContract((t) => Deno.test({ ...t, ignore: t.ignore || !jailAvailable }), "jail");
runTierContract(Deno.test, "process");
runTierContract(Deno.test, "worker");
