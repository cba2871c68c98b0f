// A Hugging Face tokenizer (tokenizer.json + tokenizer_config.json) with its chat template and special token ids.
// Encoding and decoding are @huggingface/tokenizers (a JS port of the Rust `tokenizers` crate); the template is
// rendered by @huggingface/jinja. Both are checked token for token against Python transformers in
// test/tokenizer.test.ts (fixture: scripts/make_tokenizer_fixture.py).
import * as fs from 'fs';
import * as path from 'path';

import { Tokenizer as HFTokenizer } from '@huggingface/tokenizers';

import { ChatMessage, ChatRenderOptions, ChatTemplate } from './chat-template';
import { readModelFile } from './read-model-file';

export type { ChatMessage } from './chat-template';

export interface EncodeOptions {
  /** Add the tokenizer's special tokens (for Llama 3: a leading <|begin_of_text|>). Default true, as in HF. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Leave out special tokens (<|eot_id|>, <|begin_of_text|>, ...). Default false, as in HF. */
  skipSpecialTokens?: boolean;
}

export interface ChatTemplateOptions extends ChatRenderOptions {
  /** Return token ids (the rendered text encoded without adding special tokens, as HF does) instead of text. */
  tokenize?: boolean;
}

/** The parsed files a Tokenizer is built from; `Tokenizer.fromDir` reads them from a model directory. */
export interface TokenizerFiles {
  /** tokenizer.json */
  tokenizer: Record<string, unknown>;
  /** tokenizer_config.json */
  config: Record<string, unknown>;
  /** generation_config.json, if the model has one: its eos_token_id list joins `eosTokenIds`. */
  generationConfig?: Record<string, unknown>;
  /**
   * chat_template.jinja, if the model has one (transformers >= 4.43 saves the template there): it takes the place of
   * tokenizer_config.json's chat_template, as in transformers.
   */
  chatTemplate?: string;
  /** Where the files came from, for error messages. */
  source?: string;
}

// Special-token variables HF passes to chat templates (its SPECIAL_TOKENS_ATTRIBUTES), when the config sets them.
const SPECIAL_TOKEN_KEYS = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'];

// Llama 3 has no pad token; this reserved token is the one Meta's fine-tuning recipes pad with.
const LLAMA3_PAD = '<|finetune_right_pad_id|>';
const EOT = '<|eot_id|>';

function readJson(file: string, required: boolean): Record<string, unknown> | undefined {
  const text = readModelFile(file, required);
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file} is not valid JSON: ${(e as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${file} must hold a JSON object`);
  return value as Record<string, unknown>;
}

// A special token in tokenizer_config.json is a string or an AddedToken object {content, ...}.
function tokenText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string')
    return (value as { content: string }).content;
  return undefined;
}

export class Tokenizer {
  readonly bosToken: string | null;
  readonly eosToken: string;
  /**
   * The padding token: tokenizer_config.json's pad_token if it sets one; else, for Llama 3 (which has none),
   * `<|finetune_right_pad_id|>` when the vocabulary has it; else the eos token. Padding is masked out anyway.
   */
  readonly padToken: string;
  readonly bosTokenId: number | null;
  /** The id of tokenizer_config.json's eos_token (Llama 3.x Instruct: `<|eot_id|>`, 128009). */
  readonly eosTokenId: number;
  /** Every id that ends generation: generation_config.json's eos_token_id (number or list), plus `eosTokenId`. */
  readonly eosTokenIds: readonly number[];
  readonly padTokenId: number;
  /** The id of `<|eot_id|>` (end of a chat turn), or `eosTokenId` for tokenizers without it. */
  readonly eotTokenId: number;
  /** Number of tokens, added tokens included (HF's len(tokenizer)). */
  readonly vocabSize: number;
  /** The Jinja chat template, or null when tokenizer_config.json has none. */
  readonly chatTemplate: string | null;

  private readonly hf: HFTokenizer;
  private readonly template: ChatTemplate | null;
  private readonly specialTokens: Record<string, string> = {};
  private readonly cleanUpSpaces: boolean;

  /**
   * Reads a Hugging Face model directory: tokenizer.json and tokenizer_config.json (required), and
   * generation_config.json and chat_template.jinja (optional).
   */
  static fromDir(dir: string): Tokenizer {
    if (typeof dir !== 'string' || dir === '') throw new TypeError('wrong argument type: Tokenizer.fromDir() dir must be a non-empty string');
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`tokenizer directory not found: ${dir}`);
    for (const name of ['tokenizer.json', 'tokenizer_config.json'])
      if (!fs.existsSync(path.join(dir, name))) throw new Error(`${name} not found in ${dir} (a Hugging Face tokenizer needs tokenizer.json and tokenizer_config.json)`);
    return new Tokenizer({
      tokenizer: readJson(path.join(dir, 'tokenizer.json'), true)!,
      config: readJson(path.join(dir, 'tokenizer_config.json'), true)!,
      generationConfig: readJson(path.join(dir, 'generation_config.json'), false),
      chatTemplate: readModelFile(path.join(dir, 'chat_template.jinja'), false),
      source: dir,
    });
  }

  constructor(files: TokenizerFiles) {
    const from = files.source ? ` (${files.source})` : '';
    const { tokenizer, config, generationConfig } = files;
    if (tokenizer === null || typeof tokenizer !== 'object') throw new TypeError('wrong argument type: TokenizerFiles.tokenizer must be the parsed tokenizer.json');
    if (config === null || typeof config !== 'object') throw new TypeError('wrong argument type: TokenizerFiles.config must be the parsed tokenizer_config.json');
    try {
      this.hf = new HFTokenizer(tokenizer, config);
    } catch (e) {
      throw new Error(`unsupported or malformed tokenizer.json${from}: ${(e as Error).message}`);
    }
    const vocab = this.hf.get_vocab(true);
    this.vocabSize = vocab.size;
    const idOf = (token: string, what: string): number => {
      const id = vocab.get(token);
      if (id === undefined) throw new Error(`tokenizer_config.json${from}: ${what} '${token}' is not in the vocabulary`);
      return id;
    };

    for (const key of SPECIAL_TOKEN_KEYS) {
      const text = tokenText(config[key]);
      if (text !== undefined) this.specialTokens[key] = text;
    }
    this.bosToken = this.specialTokens.bos_token ?? null;
    this.bosTokenId = this.bosToken === null ? null : idOf(this.bosToken, 'bos_token');

    const generationEos = generationConfig?.eos_token_id;
    const generationIds = (Array.isArray(generationEos) ? generationEos : generationEos === undefined || generationEos === null ? [] : [generationEos]) as unknown[];
    for (const id of generationIds)
      if (!Number.isInteger(id) || !this.hf.id_to_token(id as number))
        throw new Error(`generation_config.json${from}: eos_token_id ${JSON.stringify(id)} is not a token id`);
    const eos = this.specialTokens.eos_token ?? (generationIds.length > 0 ? this.hf.id_to_token(generationIds[0] as number) : undefined);
    if (eos === undefined) throw new Error(`tokenizer_config.json${from} names no eos_token (and there is no generation_config.json eos_token_id)`);
    this.eosToken = eos;
    this.eosTokenId = idOf(eos, 'eos_token');
    this.eosTokenIds = Object.freeze([...new Set([...(generationIds as number[]), this.eosTokenId])]);

    this.padToken = this.specialTokens.pad_token ?? (vocab.has(LLAMA3_PAD) ? LLAMA3_PAD : eos);
    this.padTokenId = idOf(this.padToken, 'pad_token');
    this.eotTokenId = vocab.get(EOT) ?? this.eosTokenId;

    // HF transformers 5 cleans up spaces before punctuation only when the config asks (default false) and never
    // for BPE models, where it would corrupt text (Llama 3's config asks; HF ignores it).
    const model = (tokenizer as { model?: { type?: unknown } }).model;
    this.cleanUpSpaces = config.clean_up_tokenization_spaces === true && model?.type !== 'BPE';

    if (files.chatTemplate !== undefined && typeof files.chatTemplate !== 'string')
      throw new TypeError('wrong argument type: TokenizerFiles.chatTemplate must be the text of chat_template.jinja');
    let chat = files.chatTemplate ?? config.chat_template;
    if (Array.isArray(chat)) chat = (chat as { name?: unknown; template?: unknown }[]).find((t) => t?.name === 'default')?.template;
    this.chatTemplate = typeof chat === 'string' ? chat : null;
    this.template = this.chatTemplate === null ? null : new ChatTemplate(this.chatTemplate);
  }

  /** Token ids of `text`. */
  encode(text: string, opts: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') throw new TypeError(`wrong argument type: encode() text must be a string, got ${text === null ? 'null' : typeof text}`);
    const addSpecialTokens = opts?.addSpecialTokens ?? true;
    if (typeof addSpecialTokens !== 'boolean') throw new TypeError('wrong argument type: encode() addSpecialTokens must be a boolean');
    return this.hf.encode(text, { add_special_tokens: addSpecialTokens }).ids;
  }

  /** The text of token ids (numbers or bigints, e.g. a generated sequence). Invalid UTF-8 decodes to U+FFFD. */
  decode(ids: ArrayLike<number | bigint>, opts: DecodeOptions = {}): string {
    if (ids === null || typeof ids !== 'object' || typeof ids.length !== 'number')
      throw new TypeError('wrong argument type: decode() ids must be an array of token ids');
    const skipSpecialTokens = opts?.skipSpecialTokens ?? false;
    if (typeof skipSpecialTokens !== 'boolean') throw new TypeError('wrong argument type: decode() skipSpecialTokens must be a boolean');
    const list: number[] = Array.from(ids, (v, i) => {
      const id = typeof v === 'bigint' ? Number(v) : v;
      if (typeof id !== 'number' || !Number.isInteger(id)) throw new TypeError(`wrong argument type: decode() ids[${i}] must be an integer, got ${String(v)}`);
      if (this.hf.id_to_token(id) === undefined) throw new RangeError(`decode() ids[${i}] = ${id} is not a token id (vocabulary size ${this.vocabSize})`);
      return id;
    });
    if (list.length === 0) return ''; // the library rejects empty input
    return this.hf.decode(list, { skip_special_tokens: skipSpecialTokens, clean_up_tokenization_spaces: this.cleanUpSpaces });
  }

  /** The id of a token string (e.g. '<|eot_id|>'), or undefined if it is not in the vocabulary. */
  tokenToId(token: string): number | undefined {
    return this.hf.token_to_id(token);
  }

  /** The token string of an id, or undefined if there is none. */
  idToToken(id: number): string | undefined {
    return Number.isInteger(id) ? this.hf.id_to_token(id) : undefined;
  }

  /**
   * Renders a conversation with the model's chat template, as HF's apply_chat_template does. Llama 3.x prints
   * "Today Date: ..." from strftime_now: by default today's local date, so pin `now` (or pass
   * `variables: {date_string: '26 Jul 2024'}`) for reproducible prompts.
   */
  applyChatTemplate(messages: ChatMessage[], opts: ChatTemplateOptions & { tokenize: true }): number[];
  applyChatTemplate(messages: ChatMessage[], opts?: ChatTemplateOptions & { tokenize?: false }): string;
  applyChatTemplate(messages: ChatMessage[], opts?: ChatTemplateOptions): string | number[];
  applyChatTemplate(messages: ChatMessage[], opts: ChatTemplateOptions = {}): string | number[] {
    if (this.template === null) throw new Error('this tokenizer has no chat template (tokenizer_config.json has no chat_template)');
    if (opts === null || typeof opts !== 'object') throw new TypeError('wrong argument type: applyChatTemplate() options must be an object');
    const { tokenize = false, ...render } = opts;
    if (typeof tokenize !== 'boolean') throw new TypeError('wrong argument type: applyChatTemplate() tokenize must be a boolean');
    const text = this.template.render(messages, this.specialTokens, render);
    return tokenize ? this.encode(text, { addSpecialTokens: false }) : text;
  }
}
