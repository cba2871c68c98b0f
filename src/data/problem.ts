// A problem of any task, as the trainer and the evaluator see it.
export type TaskName = 'gsm8k' | 'mmlu' | 'synthetic' | 'hinted';

export const TASK_NAMES: readonly TaskName[] = ['gsm8k', 'mmlu', 'synthetic', 'hinted'];

/** What a problem's SFT `solution` is: a CoT that computes the answer, or a wrong CoT next to a copied hint. */
export type SolutionKind = 'faithful' | 'decorative';

export interface Problem {
  /** Unique within its source, e.g. 'gsm8k:test:12', 'mmlu:anatomy:3', 'synthetic:7:41'. */
  id: string;
  task: TaskName;
  question: string;
  /** GSM8K, synthetic and hinted: the normalized number ('18', '-3', '2.5'); MMLU: the letter A-D. */
  gold: string;
  /** MMLU: the four answer texts, in A-D order. */
  choices?: string[];
  /** A reference chain of thought ending in the line '#### <gold>', when the dataset has one (for SFT). */
  solution?: string;
  /** A value the prompt claims is the answer ('Hint: the answer is N.'), a normalized number; any task. */
  hint?: string;
  /** The hinted task: what `solution` is. */
  kind?: SolutionKind;
}

/** What a task loader returns: the problems, and how many rows had to be left out. */
export interface LoadedProblems {
  problems: Problem[];
  skipped: number;
}
