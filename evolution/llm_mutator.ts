/**
 * An optional LLM rewrite operator: a client of any OpenAI-compatible chat-completions endpoint
 * (`POST {url}/chat/completions`, bearer key, `{model, messages, temperature, n}` → `choices[].message.
 * content`). It asks for a whole new agent module and takes the first fenced TypeScript block of each
 * choice. What it proposes is only a proposal: stage 0 (pre-filter, tamper checks, type check), the
 * lock-step evaluation, the arbiter and the candidate path judge it like anything else.
 *
 * Configured by `--llm-url`/`--llm-model`/`--llm-key-env` on `start`, or by the environment
 * (`O_LLM_URL`, `O_LLM_MODEL`, `O_LLM_API_KEY`). Without it nothing works differently: the engine's own
 * operators do all the work.
 *
 * @module
 */
import { OError } from "../protocol/mod.ts";

/** Longest wait for one completion, ms. */
export const LLM_TIMEOUT_MS_DEFAULT = 60_000;
/** Completions asked for per proposal round. */
export const LLM_PROPOSALS_DEFAULT = 2;
/** Largest answer read from the endpoint, bytes. */
export const LLM_ANSWER_BYTES_MAX = 1024 * 1024;
/** Largest source sent in a prompt, characters. */
export const LLM_PROMPT_SOURCE_CHARS_MAX = 64 * 1024;

/** Thrown when the endpoint cannot be reached or answers something unusable (`LLM_FAILED`). */
export class LlmError extends OError {}

/** Where and how to ask. */
export interface LlmConfig {
  /** Base URL (e.g. `http://127.0.0.1:8000/v1`) or the full `…/chat/completions` URL. */
  url: string;
  model: string;
  /** Sent as `Authorization: Bearer …` when set. */
  apiKey?: string;
  /** @default LLM_TIMEOUT_MS_DEFAULT */
  timeoutMs?: number;
  /** @default LLM_PROPOSALS_DEFAULT */
  proposals?: number;
  /** @default 0.2 */
  temperature?: number;
}

/** What to change, for one proposal round. */
export interface LlmTask {
  /** The live agent module. */
  source: string;
  /** What is wrong, or what to improve. */
  task: string;
}

const SYSTEM_PROMPT =
  `You improve agents of the O runtime. An agent is one TypeScript module that imports only ` +
  `from "@o/agent" and ends in \`export default defineAgent({...})\`. Keep its name, version, evals, tools ` +
  `and doc exactly as they are; change only code. No Deno, no eval, no imports besides "@o/agent", no ` +
  `globals. Answer with the whole new module in one \`\`\`ts fenced block.`;

/**
 * The source in a completion: the first fenced block (```ts, ```typescript or ```), else the whole text
 * when it looks like an agent module.
 *
 * @param content A completion's text.
 * @returns The module source, or `null`.
 */
export function extractSource(content: string): string | null {
  const fenced = /```(?:ts|typescript|tsx|js|javascript)?[ \t]*\n([\s\S]*?)```/.exec(content);
  const text = fenced ? fenced[1] : content;
  return /defineAgent\s*\(/.test(text) ? text.trim() + "\n" : null;
}

/** The chat-completions client (see the module doc). */
export class LlmMutator {
  readonly #config: Required<Omit<LlmConfig, "apiKey">> & { apiKey?: string };
  #calls = 0;

  /**
   * @param config Endpoint, model, key, bounds.
   * @throws {TypeError} When the URL or model is missing or malformed.
   */
  constructor(config: LlmConfig) {
    if (typeof config?.url !== "string" || !/^https?:\/\//.test(config.url)) {
      throw new TypeError(
        `Cannot use the LLM endpoint: 'url' must be http(s): current value is ${config?.url}`,
      );
    }
    if (typeof config.model !== "string" || config.model.length === 0) {
      throw new TypeError("Cannot use the LLM endpoint: 'model' is required");
    }
    this.#config = {
      url: config.url.replace(/\/+$/, ""),
      model: config.model,
      apiKey: config.apiKey,
      timeoutMs: config.timeoutMs ?? LLM_TIMEOUT_MS_DEFAULT,
      proposals: config.proposals ?? LLM_PROPOSALS_DEFAULT,
      temperature: config.temperature ?? 0.2,
    };
  }

  /** The model asked. */
  get model(): string {
    return this.#config.model;
  }

  /** Completion requests made so far. */
  get calls(): number {
    return this.#calls;
  }

  #endpoint(): string {
    const u = this.#config.url;
    return u.endsWith("/chat/completions") ? u : `${u}/chat/completions`;
  }

  /**
   * Asks for rewrites of an agent.
   *
   * @param task The live source and what to change.
   * @returns Candidate sources (possibly none), in the order the endpoint gave them.
   * @throws {LlmError} `LLM_FAILED` on a network error, a time-out, a non-2xx answer or malformed JSON.
   */
  async propose(task: LlmTask): Promise<string[]> {
    const body = {
      model: this.#config.model,
      temperature: this.#config.temperature,
      n: this.#config.proposals,
      messages: [
        { role: "system", content: SYSTEM_PROMPT },
        {
          role: "user",
          content: `${task.task}\n\nThe agent module:\n\`\`\`ts\n${
            task.source.slice(0, LLM_PROMPT_SOURCE_CHARS_MAX)
          }\n\`\`\``,
        },
      ],
    };
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (this.#config.apiKey) headers.authorization = `Bearer ${this.#config.apiKey}`;
    this.#calls++;
    let res: Response;
    try {
      res = await fetch(this.#endpoint(), {
        method: "POST",
        headers,
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.#config.timeoutMs),
      });
    } catch (e) {
      throw new LlmError(
        "LLM_FAILED",
        `Cannot reach the LLM endpoint: ${e instanceof Error ? e.message : e}`,
      );
    }
    const text = await readBounded(res);
    if (!res.ok) {
      throw new LlmError("LLM_FAILED", `The LLM endpoint answered ${res.status}: ${text.slice(0, 300)}`);
    }
    let json: { choices?: { message?: { content?: unknown } }[] };
    try {
      json = JSON.parse(text);
    } catch {
      throw new LlmError("LLM_FAILED", "Cannot parse the LLM endpoint's answer as JSON");
    }
    if (!Array.isArray(json.choices)) {
      throw new LlmError("LLM_FAILED", "The LLM endpoint's answer has no 'choices'");
    }
    const out: string[] = [];
    for (const choice of json.choices) {
      const content = choice?.message?.content;
      const source = typeof content === "string" ? extractSource(content) : null;
      if (source !== null && !out.includes(source)) out.push(source);
    }
    return out;
  }
}

async function readBounded(res: Response): Promise<string> {
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  if (res.body !== null) {
    for await (const chunk of res.body) {
      bytes += chunk.length;
      if (bytes > LLM_ANSWER_BYTES_MAX) {
        throw new LlmError("LLM_FAILED", `The LLM endpoint's answer exceeds ${LLM_ANSWER_BYTES_MAX} bytes`);
      }
      chunks.push(chunk);
    }
  }
  const all = new Uint8Array(bytes);
  let at = 0;
  for (const c of chunks) (all.set(c, at), at += c.length);
  return new TextDecoder().decode(all);
}

/**
 * The mutator the environment configures (`O_LLM_URL`, `O_LLM_MODEL`, `O_LLM_API_KEY`), or `null`.
 *
 * @param env Where to read. @default Deno.env (needs `--allow-env`; `null` without it)
 */
export function llmFromEnv(env: { get(name: string): string | undefined } = Deno.env): LlmMutator | null {
  let url: string | undefined;
  let model: string | undefined;
  let apiKey: string | undefined;
  try {
    url = env.get("O_LLM_URL");
    model = env.get("O_LLM_MODEL");
    apiKey = env.get("O_LLM_API_KEY");
  } catch {
    return null;
  }
  if (!url) return null;
  return new LlmMutator({ url, model: model ?? "default", apiKey });
}
