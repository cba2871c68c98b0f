// A model's Jinja chat template (tokenizer_config.json "chat_template"), rendered the way HF transformers renders it.
import { Environment, Interpreter, Template } from '@huggingface/jinja';

import { strftime } from './strftime';

export interface ChatMessage {
  role: string;
  content: string;
}

export interface ChatRenderOptions {
  /** Append the header that opens the assistant's turn (HF's add_generation_prompt). Default false. */
  addGenerationPrompt?: boolean;
  /**
   * The clock behind the template's strftime_now() (Llama 3.x prints "Today Date: DD Mon YYYY" from it).
   * Default: the current local time at each call, as HF does; pin it for reproducible prompts.
   */
  now?: Date;
  /**
   * Extra template variables, as HF's apply_chat_template(**kwargs): e.g. {date_string: '26 Jul 2024'} fixes
   * Llama 3.x's date directly, {tools: [...]} passes tool schemas. They override the special-token variables.
   */
  variables?: Record<string, unknown>;
}

const RESERVED = ['messages', 'add_generation_prompt'];

// Python's range(), as templates call it.
function range(start: number, stop?: number, step = 1): number[] {
  if (stop === undefined) [start, stop] = [0, start];
  if (step === 0) throw new Error('range() step must not be zero');
  const out: number[] = [];
  for (let i = start; step > 0 ? i < stop : i > stop; i += step) out.push(i);
  return out;
}

// The globals of @huggingface/jinja's Template.render (its setupGlobals), with HF's strftime_now on a clock we
// choose. Template.render itself cannot override a global (it throws "Variable already declared"), so we run the
// parsed template in a scope of our own whose parent holds these.
function globalScope(now: () => Date): Environment {
  const env = new Environment();
  const constants: Record<string, boolean | null> = { false: false, true: true, none: null, False: false, True: true, None: null };
  for (const [name, value] of Object.entries(constants)) env.set(name, value);
  env.set('raise_exception', (message: unknown) => {
    throw new Error(String(message));
  });
  env.set('range', range);
  env.set('strftime_now', (format: unknown) => strftime(now(), String(format)));
  return env;
}

function checkMessages(messages: unknown): ChatMessage[] {
  if (!Array.isArray(messages)) throw new TypeError('wrong argument type: messages must be an array of {role, content}');
  messages.forEach((m, i) => {
    if (m === null || typeof m !== 'object') throw new TypeError(`wrong argument type: messages[${i}] must be an object {role, content}`);
    const { role, content } = m as Record<string, unknown>;
    if (typeof role !== 'string') throw new TypeError(`wrong argument type: messages[${i}].role must be a string`);
    if (typeof content !== 'string') throw new TypeError(`wrong argument type: messages[${i}].content must be a string`);
  });
  return messages as ChatMessage[];
}

export class ChatTemplate {
  private readonly template: Template;

  /** Parses `source` once (Jinja with trim_blocks and lstrip_blocks, as HF configures it). */
  constructor(readonly source: string) {
    if (typeof source !== 'string') throw new TypeError('wrong argument type: chat template must be a string');
    try {
      this.template = new Template(source);
    } catch (e) {
      throw new Error(`chat template does not parse: ${(e as Error).message}`);
    }
  }

  /**
   * Renders `messages`. Like HF: the special tokens (bos_token, eos_token, ...) are variables, tools and documents
   * are none unless given in `variables`, and strftime_now(format) is Python's strftime of `now`.
   */
  render(messages: ChatMessage[], specialTokens: Record<string, string>, opts: ChatRenderOptions = {}): string {
    if (opts === null || typeof opts !== 'object') throw new TypeError('wrong argument type: chat template options must be an object');
    const { addGenerationPrompt = false, now, variables = {} } = opts;
    if (typeof addGenerationPrompt !== 'boolean') throw new TypeError('wrong argument type: addGenerationPrompt must be a boolean');
    if (now !== undefined && !(now instanceof Date && !Number.isNaN(now.getTime())))
      throw new TypeError('wrong argument type: now must be a valid Date');
    if (variables === null || typeof variables !== 'object' || Array.isArray(variables))
      throw new TypeError('wrong argument type: variables must be an object of template variables');
    for (const key of RESERVED)
      if (Object.prototype.hasOwnProperty.call(variables, key))
        throw new TypeError(`variables.${key} is not allowed: pass the messages argument and the addGenerationPrompt option instead`);
    const checked = checkMessages(messages);
    try {
      const scope = new Environment(globalScope(() => now ?? new Date()));
      const vars = { ...specialTokens, tools: null, documents: null, ...variables, messages: checked, add_generation_prompt: addGenerationPrompt };
      for (const [name, value] of Object.entries(vars)) scope.set(name, value);
      const result = new Interpreter(scope).run(this.template.parsed);
      if (typeof result.value !== 'string') throw new Error(`rendered a ${result.type}, not text`);
      return result.value;
    } catch (e) {
      throw new Error(`chat template failed: ${(e as Error).message}`);
    }
  }
}
