// @ts-check
/**
 * The lineage of an agent (`GET /v1/agents/{name}/lineage`) as a tree for display. Versions point at their
 * parent; the tree is drawn as chains (a version followed by its child on one line of descent) with side
 * branches where a version has several children. The line that leads to the live version is the main
 * chain. The input is untrusted, so duplicates, unknown parents and cycles are all tolerated.
 *
 * @module
 */

/**
 * @typedef {{ version: string, parent?: string | null, operator?: string, fitness?: number | null,
 *   decision?: unknown, live?: boolean, created_ms?: number, candidate?: string }} Version
 * @typedef {{ entry: Version, children: TreeNode[] }} TreeNode
 * @typedef {{ entry: Version, branches: Link[][] }} Link
 */

/** Versions drawn at most; older ones beyond it are left out (the API lists oldest first). */
export const LINEAGE_VERSIONS_MAX = 500;

/**
 * Builds the parent → children tree. A version whose parent is unknown, itself, or part of a cycle
 * becomes a root. Children are ordered oldest first.
 *
 * @param {Version[]} versions
 * @returns {TreeNode[]} The roots, oldest first.
 */
export function buildTree(versions) {
  /** @type {Map<string, TreeNode>} */
  const nodes = new Map();
  for (const entry of versions.slice(-LINEAGE_VERSIONS_MAX)) {
    if (entry !== null && typeof entry === "object" && typeof entry.version === "string") {
      nodes.set(entry.version, { entry, children: [] });
    }
  }
  /** @type {TreeNode[]} */
  const roots = [];
  for (const node of nodes.values()) {
    const parent = typeof node.entry.parent === "string" ? nodes.get(node.entry.parent) : undefined;
    if (parent === undefined || parent === node) roots.push(node);
    else parent.children.push(node);
  }
  // A cycle has no root, so its nodes are never reached from one: cut each such node loose until all are.
  const reached = new Set();
  /** @param {TreeNode} root */
  const mark = (root) => {
    const stack = [root];
    while (stack.length > 0) {
      const node = /** @type {TreeNode} */ (stack.pop());
      if (reached.has(node)) continue;
      reached.add(node);
      stack.push(...node.children);
    }
  };
  roots.forEach(mark);
  for (const node of nodes.values()) {
    if (reached.has(node)) continue;
    for (const other of nodes.values()) other.children = other.children.filter((c) => c !== node);
    roots.push(node);
    mark(node);
  }
  const byAge = (/** @type {TreeNode} */ a, /** @type {TreeNode} */ b) =>
    (a.entry.created_ms ?? 0) - (b.entry.created_ms ?? 0);
  for (const node of nodes.values()) node.children.sort(byAge);
  return roots.sort(byAge);
}

/**
 * The versions on the way from the live version back to its root.
 *
 * @param {Version[]} versions
 * @param {string | null | undefined} live
 * @returns {Set<string>}
 */
export function livePath(versions, live) {
  /** @type {Map<string, Version>} */
  const byVersion = new Map(versions.map((v) => [v.version, v]));
  const path = new Set();
  let at = typeof live === "string" ? byVersion.get(live) : undefined;
  while (at !== undefined && !path.has(at.version)) {
    path.add(at.version);
    at = typeof at.parent === "string" ? byVersion.get(at.parent) : undefined;
  }
  return path;
}

/**
 * Turns a tree into chains: each version is followed by the child on the live path (or else its oldest
 * child), and its other children start side branches.
 *
 * @param {TreeNode} root
 * @param {Set<string>} onLivePath
 * @returns {Link[]}
 */
export function chainOf(root, onLivePath) {
  /** @type {Link[]} */
  const chain = [];
  /** @type {TreeNode | undefined} */
  let node = root;
  while (node !== undefined) {
    /** @type {TreeNode | undefined} */
    const next = node.children.find((c) => onLivePath.has(c.entry.version)) ?? node.children[0];
    const branches = node.children.filter((c) => c !== next).map((c) => chainOf(c, onLivePath));
    chain.push({ entry: node.entry, branches });
    node = next;
  }
  return chain;
}
