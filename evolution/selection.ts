/**
 * Selection, pure and seeded: ranking by the fitness order (ties broken by the distance from the live version,
 * then by the normalised source hash, so a ranking never depends on arrival order), tournament selection, elitist survival, and ring migration
 * between islands.
 *
 * @module
 */
import { assert } from "../protocol/mod.ts";
import { compareFitness, type CostBasis, type Fitness } from "./fitness.ts";
import type { Prng } from "./prng.ts";

/** One member of a population. */
export interface Individual {
  /** Stable id within a run: `live`, or `c<n>` in creation order. */
  id: string;
  source: string;
  /** {@link normalizedHash} of the source. */
  hash: string;
  /**
   * Tokens that differ from the live version's (multiset symmetric difference): among equally fit
   * individuals the one closer to the live version ranks first, so neutral drift (dead code, renamed
   * messages, reformatting) does not ride along with an improvement.
   */
  distance: number;
  /** Ids of the parents (one for a mutation, two for crossover; none for the live version). */
  parents: string[];
  /** The operator that made it (`live` for the live version). */
  operator: string;
  /** The operator's detail, e.g. `function_replace:snippet:native_sort_numbers:sortNumbers`. */
  detail: string;
  generation: number;
  fitness: Fitness;
}

/**
 * @param a One individual.
 * @param b Another.
 * @param basis The cost basis of the fitness order.
 * @returns Negative when `a` ranks first; never 0 for different sources.
 */
export function compareIndividuals(a: Individual, b: Individual, basis: CostBasis): number {
  const byFitness = compareFitness(a.fitness, b.fitness, basis);
  if (byFitness !== 0) return byFitness;
  // The smallest change wins a tie: neutral edits ride along for free unless distance breaks it.
  if (a.distance !== b.distance) return a.distance - b.distance;
  return a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0;
}

/** @returns A copy sorted best first. */
export function rank(individuals: readonly Individual[], basis: CostBasis): Individual[] {
  return individuals.slice().sort((a, b) => compareIndividuals(a, b, basis));
}

/**
 * Tournament selection: draws `size` individuals (with replacement) and returns the best.
 *
 * @param population A non-empty population.
 * @param size Entrants per tournament.
 * @param prng Seeded randomness.
 * @param basis The cost basis of the fitness order.
 * @returns The winner.
 */
export function tournament(
  population: readonly Individual[],
  size: number,
  prng: Prng,
  basis: CostBasis,
): Individual {
  assert(population.length > 0, "A tournament needs entrants");
  let best = prng.pick(population);
  for (let i = 1; i < size; i++) {
    const other = prng.pick(population);
    if (compareIndividuals(other, best, basis) < 0) best = other;
  }
  return best;
}

/**
 * Survival: the `elites` best of parents and children together pass unchanged, the remaining places go
 * to tournament winners among the rest (drawn without replacement), which keeps some diversity instead
 * of pure truncation. Duplicates (same hash) keep their first, better-ranked copy.
 *
 * @param parents The current population.
 * @param children This generation's evaluated children.
 * @param size The population size.
 * @param elites How many best individuals survive for sure.
 * @param prng Seeded randomness.
 * @param basis The cost basis of the fitness order.
 * @returns The next population, best first.
 */
export function survive(
  parents: readonly Individual[],
  children: readonly Individual[],
  size: number,
  elites: number,
  prng: Prng,
  basis: CostBasis,
): Individual[] {
  const seen = new Set<string>();
  const pool = rank([...parents, ...children], basis).filter((i) => !seen.has(i.hash) && seen.add(i.hash));
  const next = pool.slice(0, Math.min(elites, size));
  let rest = pool.slice(next.length);
  while (next.length < size && rest.length > 0) {
    const winner = tournament(rest, 2, prng, basis);
    next.push(winner);
    rest = rest.filter((i) => i !== winner);
  }
  return rank(next, basis);
}

/**
 * Ring migration: the best of island i replaces the worst of island i+1, unless that island already has
 * it. Islands are changed in a copy.
 *
 * @param islands Populations, each ranked best first.
 * @param basis The cost basis of the fitness order.
 * @returns The islands after migration, each ranked best first.
 */
export function migrate(islands: readonly Individual[][], basis: CostBasis): Individual[][] {
  if (islands.length < 2) return islands.map((i) => i.slice());
  const best = islands.map((island) => rank(island, basis)[0]);
  return islands.map((island, i) => {
    const incoming = best[(i - 1 + islands.length) % islands.length];
    if (incoming === undefined || island.some((x) => x.hash === incoming.hash)) return rank(island, basis);
    const ranked = rank(island, basis);
    ranked[ranked.length - 1] = incoming;
    return rank(ranked, basis);
  });
}
