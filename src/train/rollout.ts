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

export async function rollout(
  model: LlamaModel, tok: Tokenizer, problems: Problem[], G: number, gen: GenerationSection, seed: number,
): Promise<Completion[]> {
  const prompts = problems.map((p) => promptIdsOf(tok, p));
  const out = await model.generate(prompts, {
    maxNewTokens: gen.maxNewTokens,
    temperature: gen.temperature,
    topP: gen.topP,
    topK: gen.topK,
    numReturnSequences: G,
    stopTokenIds: [...tok.eosTokenIds],
    padTokenId: tok.padTokenId,
    seed,
  });
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
