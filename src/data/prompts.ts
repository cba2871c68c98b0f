// The chat prompt of a problem: a task-specific system message asking for reasoning and the fixed final line,
// and the question as the user message.
import { ChatMessage, ChatRenderOptions } from '../llm/chat-template';
import { Tokenizer } from '../llm/tokenizer';
import { LETTERS } from './mmlu';
import { Problem, TaskName } from './problem';

const SYSTEM_PROMPTS: Record<TaskName, string> = {
  gsm8k:
    'Solve the math word problem. Think step by step, then give the final answer on the last line in the form ' +
    "'#### <number>' (just the number, no units).",
  mmlu:
    'Answer the multiple-choice question. Think step by step, then give the letter of the correct choice on the ' +
    "last line in the form '#### <letter>' (A, B, C or D).",
  synthetic: "Compute the value step by step, one operation per line, then give it on the last line as '#### <number>'.",
};

/** The system message of a task. */
export function systemPrompt(task: TaskName): string {
  const prompt = SYSTEM_PROMPTS[task];
  if (prompt === undefined) throw new TypeError(`wrong argument type: task must be 'gsm8k', 'mmlu' or 'synthetic', got ${JSON.stringify(task)}`);
  return prompt;
}

/** The user message: the question, and for MMLU the choices as 'A. ...' lines. */
export function userMessage(p: Problem): string {
  if (p.task !== 'mmlu') return p.question;
  const choices = p.choices ?? [];
  if (choices.length !== LETTERS.length) throw new Error(`MMLU problem ${p.id} needs 4 choices, has ${choices.length}`);
  return `${p.question}\n\n${choices.map((c, i) => `${LETTERS[i]}. ${c}`).join('\n')}`;
}

/** The system and user messages of a problem. */
export function promptMessages(p: Problem): ChatMessage[] {
  return [
    { role: 'system', content: systemPrompt(p.task) },
    { role: 'user', content: userMessage(p) },
  ];
}

/**
 * The prompt's token ids, through the tokenizer's chat template with the assistant turn opened. `render` passes
 * through to the template (Llama 3.x prints today's date unless `now` or `variables.date_string` pins it).
 */
export function buildPromptIds(tok: Tokenizer, p: Problem, render: Omit<ChatRenderOptions, 'addGenerationPrompt'> = {}): number[] {
  return tok.applyChatTemplate(promptMessages(p), { ...render, addGenerationPrompt: true, tokenize: true });
}
