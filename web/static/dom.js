// @ts-check
/// <reference lib="dom" />
/**
 * Safe DOM building. Every piece of data the page shows comes from the server and may be hostile (agent
 * names, versions, candidate evidence, sources are all user-controlled), so nothing here ever parses HTML:
 * text goes in through `textContent`, and only a fixed set of attributes can be set.
 *
 * @module
 */

/** Attributes {@link h} may set; anything else (event handlers, `href`, `src`, `style`) is refused. */
const ATTRIBUTES_ALLOWED = new Set([
  "class",
  "id",
  "title",
  "type",
  "name",
  "for",
  "role",
  "colspan",
  "autocomplete",
  "placeholder",
  "aria-label",
  "aria-hidden",
  "aria-live",
  "aria-pressed",
  "aria-current",
]);

/**
 * Creates an element with attributes and children. Strings and numbers become text nodes; `null`,
 * `undefined` and `false` are skipped; arrays are flattened.
 *
 * @param {string} tag
 * @param {Record<string, string | number | boolean | null | undefined>} [attrs]
 * @param {...unknown} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (!ATTRIBUTES_ALLOWED.has(key) && !key.startsWith("data-")) {
      throw new TypeError(`Cannot set attribute: '${key}' is not allowed`);
    }
    el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

/**
 * Appends children (text, nodes, nested arrays) to a parent.
 *
 * @param {Node} parent
 * @param {unknown[]} children
 */
function append(parent, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else if (child instanceof Node) parent.appendChild(child);
    else parent.appendChild(document.createTextNode(String(child)));
  }
}

/**
 * Replaces everything inside an element.
 *
 * @param {Element} el
 * @param {...unknown} children
 */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/**
 * The element with an id, or a thrown error naming it (the page's skeleton is fixed, so a missing id is a
 * programming error).
 *
 * @param {string} id
 * @returns {HTMLElement}
 */
export function byId(id) {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`Cannot find element: #${id}`);
  return el;
}
