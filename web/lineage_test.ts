/**
 * Goal: the lineage tree survives anything the API could send (unknown parents, cycles, duplicates) and
 * draws the line to the live version as the main chain.
 * Method: the pure functions of web/static/lineage.js on small version lists.
 */
import { deepStrictEqual, strictEqual } from "node:assert";
import { buildTree, chainOf, livePath } from "./static/lineage.js";

const v = (version: string, parent: string | null, created_ms: number) => ({ version, parent, created_ms });

Deno.test("buildTree() links children to parents, oldest first, unknown parents become roots", () => {
  const roots = buildTree([v("1", null, 1), v("1+b", "1", 3), v("1+a", "1", 2), v("x", "gone", 4)]);
  deepStrictEqual(roots.map((r) => r.entry.version), ["1", "x"]);
  deepStrictEqual(roots[0].children.map((c) => c.entry.version), ["1+a", "1+b"]);
});

Deno.test("buildTree() breaks cycles and self-parents instead of looping", () => {
  const roots = buildTree([v("a", "b", 1), v("b", "a", 2), v("s", "s", 3)]);
  const all = new Set<string>();
  const walk = (n: { entry: { version: string }; children: unknown[] }) => {
    all.add(n.entry.version);
    (n.children as typeof n[]).forEach(walk);
  };
  roots.forEach(walk);
  deepStrictEqual([...all].sort(), ["a", "b", "s"]);
});

Deno.test("chainOf() follows the live path and branches off the rest", () => {
  const versions = [v("1", null, 1), v("2", "1", 2), v("3", "1", 3), v("4", "3", 4)];
  const onPath = livePath(versions, "4");
  deepStrictEqual([...onPath].sort(), ["1", "3", "4"]);
  const chain = chainOf(buildTree(versions)[0], onPath);
  deepStrictEqual(chain.map((l) => l.entry.version), ["1", "3", "4"]);
  strictEqual(chain[0].branches.length, 1);
  deepStrictEqual(chain[0].branches[0].map((l) => l.entry.version), ["2"]);
  strictEqual(livePath(versions, "nope").size, 0);
});
