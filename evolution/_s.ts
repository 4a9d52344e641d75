import { SandboxEvaluator } from "./evaluator.ts";
import { parseGenome } from "./genome.ts";
import { mutate } from "./operators.ts";
import { Prng } from "./prng.ts";
import { computeFitness } from "./fitness.ts";
const src = await Deno.readTextFile("examples/agents/sorter.ts");
const g = parseGenome(src);
const prng = Prng.seeded(5);
const kids: string[] = [src];
while (kids.length < 40) {
  const c = mutate(g, [], prng);
  if (c) kids.push(c.source);
}
//kids.push(src.replace("const next = out.slice();", "const next = out.slice(); while (true) {}"));
kids.push(
  src.replace(
    "return sortNumbers(items as number[]);",
    "(Array.prototype as any).foo = 1; return sortNumbers(items as number[]);",
  ),
);
const ev = new SandboxEvaluator({ caseMsMax: 50 });
for (let round = 0; round < 4; round++) {
  const t = performance.now();
  const res = await ev.evaluate(kids, src);
  const ms = performance.now() - t;
  console.log(
    `${kids.length} evals in ${ms.toFixed(0)} ms = ${(kids.length / ms * 1000).toFixed(0)}/s`,
    ev.stats(),
  );
  if (round === 0) {
    res.forEach((r, i) => {
      const f = computeFitness(r);
      if (!r.ok) console.log(i, r.ok, r.error ?? "", f.passed, f.work, f.latencyMs.toFixed(3));
    });
  }
}
await ev.close();
