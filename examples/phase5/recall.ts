/**
 * Remembers notes and recalls them: input `{"remember":[notes],"ask":[words]}`, answer
 * `{"stored":n,"found":[count of notes holding each word]}`. Notes live in memory blocks tagged
 * `notes`, so they survive restarts and are part of every checkpoint.
 *
 * The memory-strategy example (docs/phase5.md): how notes are laid out in blocks is a strategy —
 * `STRATEGY` below — and the shipped one is poor: one block per note (`merge: "never"`) of at most 32
 * characters. Every store and every recall lists all blocks, so the agent slows down as it remembers
 * more. The memory-strategy job profiles the blocks (many tiny ones, nothing merged), generates other
 * strategies as code variants, tests them, and the best goes through shadow and arbiter.
 */
import { defineAgent, type MemoryStore } from "@o/agent";

/** How notes are laid out in memory blocks. */
const STRATEGY = { blockChars: 32, merge: "never", evict: "oldest", blocksMax: 5000 };

const TAG = "notes";

function store(memory: MemoryStore, note: string): void {
  const blocks = memory.byTag(TAG);
  const last = blocks[blocks.length - 1];
  if (STRATEGY.merge === "append" && last && last.content.length + 1 + note.length <= STRATEGY.blockChars) {
    memory.put(`${last.content}\n${note}`, { id: last.id, tags: [TAG] });
  } else memory.put(note, { tags: [TAG] });
  if (memory.size > STRATEGY.blocksMax) evict(memory);
}

function evict(memory: MemoryStore): void {
  const blocks = memory.byTag(TAG);
  const victim = STRATEGY.evict === "lru"
    ? blocks.reduce((a, b) => (b.accessed_ms < a.accessed_ms ? b : a))
    : blocks[0];
  memory.delete(victim.id);
}

function recall(memory: MemoryStore, word: string): number {
  let count = 0;
  for (const block of memory.byTag(TAG)) {
    for (const note of block.content.split("\n")) if (note.includes(word)) count++;
  }
  return count;
}

const WORDS = ["apple", "river", "stone", "cloud", "maple", "ember", "frost"];

/** A session: n notes, then a question for every word. */
function session(n: number) {
  const remember = Array.from({ length: n }, (_, i) => `note ${i} about ${WORDS[i % WORDS.length]}`);
  const found = WORDS.map((w) => remember.filter((r) => r.includes(w)).length);
  return { input: { remember, ask: WORDS }, expect: { stored: n, found } };
}

export default defineAgent({
  name: "recall",
  version: "1.0.0",
  doc: "Remembers notes in memory blocks and counts the notes holding a word",
  handle: (ctx) => {
    const { remember = [], ask = [] } = ctx.input as { remember?: string[]; ask?: string[] };
    for (const note of remember) store(ctx.memory, note);
    return { stored: remember.length, found: ask.map((w) => recall(ctx.memory, w)) };
  },
  evals: [session(10), session(120), session(250)],
});
