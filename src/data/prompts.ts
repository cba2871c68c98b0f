// The chat prompt of a problem, the one prompt builder of every command: a task-specific system message asking for
// reasoning and the fixed final line (or data.systemPrompt), and the question as the user message; a conversational
// row's own messages as given.
import { ChatMessage, ChatRenderOptions } from '../llm/chat-template';
import { Tokenizer } from '../llm/tokenizer';
import { LETTERS } from './mmlu';
import { Problem, TASK_NAMES, TaskName } from './problem';

const SYNTHETIC_PROMPT = "Compute the value step by step, one operation per line, then give it on the last line as '#### <number>'.";

const SYSTEM_PROMPTS: Record<TaskName, string> = {
  gsm8k:
    'Solve the math word problem. Think step by step, then give the final answer on the last line in the form ' +
    "'#### <number>' (just the number, no units).",
  mmlu:
    'Answer the multiple-choice question. Think step by step, then give the letter of the correct choice on the ' +
    "last line in the form '#### <letter>' (A, B, C or D).",
  synthetic: SYNTHETIC_PROMPT,
  // The same words as synthetic: the hint in the user message is the only difference the model sees.
  hinted: SYNTHETIC_PROMPT,
  custom: "Think step by step, then give the final answer on the last line in the form '#### <answer>'.",
};

/** The system message of a task. */
export function systemPrompt(task: TaskName): string {
  const prompt = Object.hasOwn(SYSTEM_PROMPTS, task) ? SYSTEM_PROMPTS[task] : undefined;
  if (prompt === undefined) throw new TypeError(`wrong argument type: task must be one of ${TASK_NAMES.map((t) => `'${t}'`).join(', ')}, got ${JSON.stringify(task)}`);
  return prompt;
}

/** The user message: the question, for MMLU the choices as 'A. ...' lines, and a 'Hint: ...' line when `p.hint` is set. */
export function userMessage(p: Problem): string {
  const hint = p.hint === undefined ? '' : `\nHint: the answer is ${p.hint}.`;
  if (p.task !== 'mmlu') return p.question + hint;
  const choices = p.choices ?? [];
  if (choices.length !== LETTERS.length) throw new Error(`MMLU problem ${p.id} needs 4 choices, has ${choices.length}`);
  return `${p.question}\n\n${choices.map((c, i) => `${LETTERS[i]}. ${c}`).join('\n')}${hint}`;
}

/**
 * The messages of a problem: its system message (`p.system` when set, '' for none; else the task's) and the user
 * message. A conversational row's messages are used as given; `p.system`, when set, is put first if they have no
 * system message.
 */
export function promptMessages(p: Problem): ChatMessage[] {
  if (p.messages !== undefined) {
    const hasSystem = p.messages.some((m) => m.role === 'system');
    return hasSystem || !p.system ? [...p.messages] : [{ role: 'system', content: p.system }, ...p.messages];
  }
  const system = p.system ?? systemPrompt(p.task);
  const user: ChatMessage = { role: 'user', content: userMessage(p) };
  return system === '' ? [user] : [{ role: 'system', content: system }, user];
}

/**
 * The date every command renders chat prompts with (Llama 3.x's template prints "Today Date: ..."): train samples,
 * eval measures and saliency re-reads a completion on the same prompt, on any day.
 */
export const PROMPT_DATE = new Date('2026-01-01T00:00:00Z');

/**
 * The prompt's token ids, through the tokenizer's chat template with the assistant turn opened: the one prompt builder
 * of train, sft, eval and saliency. `render` passes through to the template; the date is PROMPT_DATE unless `now` or
 * `variables.date_string` says otherwise.
 */
export function buildPromptIds(tok: Tokenizer, p: Problem, render: Omit<ChatRenderOptions, 'addGenerationPrompt'> = {}): number[] {
  return tok.applyChatTemplate(promptMessages(p), { now: PROMPT_DATE, ...render, addGenerationPrompt: true, tokenize: true });
}
