/**
 * Greets people in their language: input `{"name":"…","lang":"en"|"fr"|…}`, answer a greeting.
 *
 * The feedback-learning example (docs/phase5.md): clients send language codes in lower case, but the
 * code compares with `"FR"`, so French speakers are greeted in English. The evals only cover English; the
 * negative feedback French speakers give is what finds and fixes it.
 */
import { defineAgent } from "@o/agent";

/** The language code that gets a French greeting. */
const FRENCH = "FR";

function greet(name: string, lang: unknown): string {
  return lang === FRENCH ? `Bonjour, ${name} !` : `Hello, ${name}!`;
}

export default defineAgent({
  name: "greeter",
  version: "1.0.0",
  doc: "Greets people in their language",
  handle: (ctx) => {
    const { name, lang } = ctx.input as { name: string; lang: string };
    return greet(name, lang);
  },
  evals: [
    { input: { name: "Ada", lang: "en" }, expect: "Hello, Ada!" },
    { input: { name: "Linus", lang: "en" }, expect: "Hello, Linus!" },
    { input: { name: "Grace", lang: "de" }, expect: "Hello, Grace!" },
  ],
});
