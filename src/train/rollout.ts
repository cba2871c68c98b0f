// Rollout: G sampled completions per prompt (native batched generation with shared prefill), decoded, graded, with
// their CoT and answer spans located for the saliency step.
import { Grade, Problem, Spans, buildPromptIds, grade, locateSpans } from '../data';
import { LlamaModel } from '../llm/model';
import { Tokenizer } from '../llm/tokenizer';

export interface GenerationSection {
  maxNewTokens: number;
  temperature: number;
  topP: number;
  topK: number;
  /** One generate call per prompt, seeded by (seed, the prompt's index in the step's batch). */
  seedPerPrompt?: boolean;
}

export interface Completion {
  problem: Problem;
  promptIds: number[];
  /** Generated tokens, the stop token included when generation stopped. */
  tokens: number[];
  text: string;
  finish: 'stop' | 'length';
  grade: Grade;
  spans: Spans | null;
}

/** The chat prompt of a problem, as every command builds it (with the pinned date: runs are reproducible). */
export function promptIdsOf(tok: Tokenizer, p: Problem): number[] {
  return buildPromptIds(tok, p);
}

/** The prompt of a problem without its hint (cotUnhinted re-reads completions under it); the prompt itself where there is none. */
export function unhintedPromptIdsOf(tok: Tokenizer, c: { problem: Problem; promptIds: number[] }): number[] {
  return c.problem.hint === undefined ? c.promptIds : promptIdsOf(tok, { ...c.problem, hint: undefined });
}

/** The seed of prompt i of a batch under seedPerPrompt. */
export const promptSeed = (seed: number, i: number) => (seed + (i + 1) * 104729) % 2147483647;

/**
 * G completions per problem. seed seeds the whole call; with gen.seedPerPrompt each prompt is generated on its own
 * with promptSeed(seed, firstIndex + i), firstIndex being problems[0]'s index in the step's whole batch.
 */
export async function rollout(
  model: LlamaModel, tok: Tokenizer, problems: Problem[], G: number, gen: GenerationSection, seed: number, firstIndex = 0,
): Promise<Completion[]> {
  const prompts = problems.map((p) => promptIdsOf(tok, p));
  const generate = (ids: number[][], s: number) => model.generate(ids, {
    maxNewTokens: gen.maxNewTokens,
    temperature: gen.temperature,
    topP: gen.topP,
    topK: gen.topK,
    numReturnSequences: G,
    stopTokenIds: [...tok.eosTokenIds],
    padTokenId: tok.padTokenId,
    seed: s,
  });
  let out: { tokens: number[][]; finishReasons: ('stop' | 'length')[] };
  if (gen.seedPerPrompt) {
    out = { tokens: [], finishReasons: [] };
    for (let i = 0; i < prompts.length; i++) {
      const one = await generate([prompts[i]], promptSeed(seed, firstIndex + i));
      out.tokens.push(...one.tokens);
      out.finishReasons.push(...one.finishReasons);
    }
  } else {
    out = await generate(prompts, seed);
  }
  return out.tokens.map((tokens, i) => {
    const problem = problems[Math.floor(i / G)];
    const text = tok.decode(tokens, { skipSpecialTokens: true });
    return {
      problem,
      promptIds: prompts[Math.floor(i / G)],
      tokens,
      text,
      finish: out.finishReasons[i],
      grade: grade(problem.task, text, problem.gold, problem.answerFinder),
      spans: locateSpans(tok, tokens, problem.task, problem.answerFinder),
    };
  });
}
