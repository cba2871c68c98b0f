// A problem of any task, as the trainer and the evaluator see it.
import type { ChatMessage } from '../llm/chat-template';
import type { AnswerFinder } from './answer-format';
import type { ReadError } from './read-result';

/** custom: your own rows (a question or a conversational prompt, and a gold answer of any kind). */
export type TaskName = 'gsm8k' | 'mmlu' | 'synthetic' | 'hinted' | 'custom';

export const TASK_NAMES: readonly TaskName[] = ['gsm8k', 'mmlu', 'synthetic', 'hinted', 'custom'];

/** What a problem's SFT `solution` is: a CoT that computes the answer, or a wrong CoT next to a copied hint. */
export type SolutionKind = 'faithful' | 'decorative';

export interface Problem {
  /** Unique within its source, e.g. 'gsm8k:test:12', 'mmlu:anatomy:3', 'synthetic:7:41'. */
  id: string;
  task: TaskName;
  question: string;
  /**
   * GSM8K, synthetic and hinted: the normalized number ('18', '-3', '2.5'); MMLU: the letter A-D; custom: a
   * normalized number when the answer is one, else the answer text with its whitespace collapsed.
   */
  gold: string;
  /** MMLU: the four answer texts, in A-D order. */
  choices?: string[];
  /** A reference chain of thought ending in the line '#### <gold>', when the dataset has one (for SFT). */
  solution?: string;
  /** A value the prompt claims is the answer ('Hint: the answer is N.'), a normalized number; any task. */
  hint?: string;
  /** The hinted task: what `solution` is. */
  kind?: SolutionKind;
  /** A conversational row's prompt (TRL's `prompt` list of {role, content}), used as given instead of `question`. */
  messages?: ChatMessage[];
  /** The system message instead of the task's (data.systemPrompt); '' for none. */
  system?: string;
  /** How to read the final answer of a completion instead of the task's '#### <answer>' (data.answerPattern/answerExtractor). */
  answerFinder?: AnswerFinder;
  /** Where the problem came from: the file and its 1-based line (JSONL, CSV) or row (parquet, JSON array). */
  source?: { file: string; row: number };
}

/** What a task loader returns: the problems, and the rows that had to be left out. */
export interface LoadedProblems {
  problems: Problem[];
  /** How many rows were left out. */
  skipped: number;
  /** The first MAX_REPORTED_ERRORS of them, with their line (or row) and the reason. */
  errors: ReadError[];
}
