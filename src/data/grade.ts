// Grading a completion against the gold answer.
import { AnswerFinder, canonicalAnswer } from './answer-format';
import { extractAnswer, followsFormat } from './extract';
import { TaskName } from './problem';

export interface Grade {
  /** The strict answer (after '####') equals the gold answer. */
  correct: boolean;
  /** The flexible answer equals the gold answer. */
  correctFlexible: boolean;
  /** The completion has reasoning and ends with a '#### <answer>' line. */
  formatOk: boolean;
  strict: string | null;
  flexible: string | null;
}

function canonicalGold(task: TaskName, gold: string): string {
  if (typeof gold !== 'string') throw new TypeError(`wrong argument type: gold must be a string, got ${typeof gold}`);
  return canonicalAnswer(task, gold);
}

/**
 * Grades a completion (decoded without special tokens) of a `task` problem whose answer is `gold`; `finder` reads
 * the answer instead of the '####' marker (a problem's answerFinder).
 */
export function grade(task: TaskName, completion: string, gold: string, finder?: AnswerFinder): Grade {
  const { strict, flexible } = extractAnswer(task, completion, finder);
  const want = canonicalGold(task, gold);
  return {
    correct: strict !== null && strict === want,
    correctFlexible: flexible !== null && flexible === want,
    formatOk: followsFormat(task, completion, finder),
    strict,
    flexible,
  };
}
