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

/**
 * Bounds on one rendering, so that a hostile or broken template (a model folder is input) fails with an error instead
 * of hanging or exhausting memory. Real templates stay far below: Llama 3.x's renders a 10-message chat in about 2,000
 * steps. README lists them.
 */
export const TEMPLATE_LIMITS = Object.freeze({
  /** Elements one range() call may produce. */
  rangeItems: 100_000,
  /** Template nodes evaluated plus blocks run (so every loop iteration counts, even of an empty body). */
  steps: 500_000,
  /** Characters of any string value, the output included. */
  chars: 10_000_000,
  /** Elements of any list value. */
  items: 1_000_000,
});

class TemplateLimitError extends Error {}

// Python's range(), as templates call it.
function range(start: number, stop?: number, step = 1): number[] {
  if (stop === undefined) [start, stop] = [0, start];
  for (const v of [start, stop, step]) if (!Number.isFinite(v)) throw new Error('range() needs finite numbers');
  if (step === 0) throw new Error('range() step must not be zero');
  const count = Math.max(0, Math.ceil((stop - start) / step));
  if (count > TEMPLATE_LIMITS.rangeItems)
    throw new TemplateLimitError(`range() of ${count} numbers is more than the ${TEMPLATE_LIMITS.rangeItems} a chat template may make`);
  const out: number[] = [];
  for (let i = start; step > 0 ? i < stop : i > stop; i += step) out.push(i);
  return out;
}

type BlockRunner = (statements: unknown, environment: Environment) => unknown;

// The library's interpreter with a budget: every node it evaluates and every block it runs (a loop runs its body
// through evaluateBlock once per iteration, evaluating nothing for an empty body) count, and no value may grow past
// the limits. evaluateBlock is private in the library's types, hence the cast; without it the bound cannot hold.
class BoundedInterpreter extends Interpreter {
  private steps = 0;

  constructor(scope: Environment) {
    super(scope);
    const self = this as unknown as { evaluateBlock: BlockRunner };
    const runBlock = self.evaluateBlock;
    if (typeof runBlock !== 'function') throw new Error('@huggingface/jinja has no evaluateBlock: template work cannot be bounded');
    self.evaluateBlock = (statements, environment) => {
      this.step();
      return runBlock.call(this, statements, environment);
    };
  }

  private step(): void {
    if (++this.steps > TEMPLATE_LIMITS.steps)
      throw new TemplateLimitError(`it ran more than ${TEMPLATE_LIMITS.steps} steps (a loop too long or endless)`);
  }

  override evaluate(statement: Parameters<Interpreter['evaluate']>[0], environment: Environment): ReturnType<Interpreter['evaluate']> {
    this.step();
    const result = super.evaluate(statement, environment);
    const value: unknown = result.value;
    if (typeof value === 'string' && value.length > TEMPLATE_LIMITS.chars)
      throw new TemplateLimitError(`it made a string of ${value.length} characters, more than ${TEMPLATE_LIMITS.chars}`);
    if (Array.isArray(value) && value.length > TEMPLATE_LIMITS.items)
      throw new TemplateLimitError(`it made a list of ${value.length} items, more than ${TEMPLATE_LIMITS.items}`);
    return result;
  }
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
      const result = new BoundedInterpreter(scope).run(this.template.parsed);
      if (typeof result.value !== 'string') throw new Error(`rendered a ${result.type}, not text`);
      return result.value;
    } catch (e) {
      if (e instanceof TemplateLimitError)
        throw new Error(`chat template stopped: ${e.message}; atman-native bounds template work (TEMPLATE_LIMITS) so a broken template cannot hang the process`);
      throw new Error(`chat template failed: ${(e as Error).message}`);
    }
  }
}
