// ChatML chat templates (Qwen2/2.5, Qwen3) through the tokenizer.json + Jinja path: templates written here, modelled
// on the Qwen2.5 and Qwen3 ones (their constructs: namespace(), messages[::-1], loop.index0, string methods, `is
// defined` / `is false` tests), rendered with Tokenizer.applyChatTemplate; Qwen3's enable_thinking arrives as a template
// variable; a model folder's chat_template.jinja replaces tokenizer_config.json's template, as in transformers.
// The tokenizer is the bundled tiny model's (models/tiny-arith): these tests check text, not Qwen token ids.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { Tokenizer } from '../src/llm/tokenizer';
import { TOKENIZER_FILES } from '../src/llm/tokenizer-files';

const TINY = 'models/tiny-arith';
const readJson = (f: string): Record<string, unknown> => JSON.parse(fs.readFileSync(path.join(TINY, f), 'utf8'));

// Qwen2.5-style: a default system prompt when the chat has none.
const QWEN25 = [
  "{%- if messages[0]['role'] == 'system' %}",
  "    {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}",
  '{%- else %}',
  "    {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}",
  '{%- endif %}',
  '{%- for message in messages %}',
  '    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant") %}',
  "        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}",
  '    {%- endif %}',
  '{%- endfor %}',
  '{%- if add_generation_prompt %}',
  "    {{- '<|im_start|>assistant\\n' }}",
  '{%- endif %}',
].join('\n');

// Qwen3-style (tools left out): reasoning of earlier turns dropped, an empty think block when enable_thinking is false.
const QWEN3 = [
  "{%- if messages[0].role == 'system' %}",
  "    {{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}",
  '{%- endif %}',
  '{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}',
  '{%- for message in messages[::-1] %}',
  '    {%- set index = (messages|length - 1) - loop.index0 %}',
  "    {%- if ns.multi_step_tool and message.role == \"user\" and message.content is string and not(message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}",
  '        {%- set ns.multi_step_tool = false %}',
  '        {%- set ns.last_query_index = index %}',
  '    {%- endif %}',
  '{%- endfor %}',
  '{%- for message in messages %}',
  '    {%- set content = message.content %}',
  '    {%- if (message.role == "user") or (message.role == "system" and not loop.first) %}',
  "        {{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>' + '\\n' }}",
  '    {%- elif message.role == "assistant" %}',
  "        {%- set reasoning_content = '' %}",
  "        {%- if '</think>' in content %}",
  "            {%- set reasoning_content = content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}",
  "            {%- set content = content.split('</think>')[-1].lstrip('\\n') %}",
  '        {%- endif %}',
  '        {%- if loop.index0 > ns.last_query_index and (loop.last or reasoning_content) %}',
  "            {{- '<|im_start|>' + message.role + '\\n<think>\\n' + reasoning_content.strip('\\n') + '\\n</think>\\n\\n' + content.lstrip('\\n') }}",
  '        {%- else %}',
  "            {{- '<|im_start|>' + message.role + '\\n' + content }}",
  '        {%- endif %}',
  "        {{- '<|im_end|>\\n' }}",
  '    {%- endif %}',
  '{%- endfor %}',
  '{%- if add_generation_prompt %}',
  "    {{- '<|im_start|>assistant\\n' }}",
  '    {%- if enable_thinking is defined and enable_thinking is false %}',
  "        {{- '<think>\\n\\n</think>\\n\\n' }}",
  '    {%- endif %}',
  '{%- endif %}',
].join('\n');

// Qwen's tokenizer_config.json has no bos_token: the template prints none.
const tokenizerWith = (template: string): Tokenizer =>
  new Tokenizer({ tokenizer: readJson('tokenizer.json'), config: { ...readJson('tokenizer_config.json'), bos_token: null, chat_template: template } });

const CHAT = [
  { role: 'user', content: 'What is 2+3?' },
  { role: 'assistant', content: '<think>\n2 plus 3 is 5.\n</think>\n\nThe answer is 5.' },
  { role: 'user', content: 'And 4+4?' },
];

describe('ChatML templates (Qwen)', () => {
  test('Qwen2.5-style: the default system prompt, turns, the generation prompt', () => {
    const tok = tokenizerWith(QWEN25);
    expect(tok.applyChatTemplate([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: true })).toBe(
      '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' +
        '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(tok.applyChatTemplate([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello.' }])).toBe(
      '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n',
    );
  });

  test("Qwen3-style: earlier turns' reasoning dropped; enable_thinking false adds an empty think block", () => {
    const tok = tokenizerWith(QWEN3);
    const history = '<|im_start|>user\nWhat is 2+3?<|im_end|>\n<|im_start|>assistant\nThe answer is 5.<|im_end|>\n<|im_start|>user\nAnd 4+4?<|im_end|>\n';
    expect(tok.applyChatTemplate(CHAT, { addGenerationPrompt: true })).toBe(history + '<|im_start|>assistant\n');
    expect(tok.applyChatTemplate(CHAT, { addGenerationPrompt: true, variables: { enable_thinking: true } })).toBe(history + '<|im_start|>assistant\n');
    expect(tok.applyChatTemplate(CHAT, { addGenerationPrompt: true, variables: { enable_thinking: false } })).toBe(
      history + '<|im_start|>assistant\n<think>\n\n</think>\n\n',
    );
    // The last assistant turn after the last user query keeps its reasoning.
    const last = [{ role: 'system', content: 'S' }, ...CHAT.slice(0, 2)];
    expect(tok.applyChatTemplate(last)).toBe(
      '<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nWhat is 2+3?<|im_end|>\n' +
        '<|im_start|>assistant\n<think>\n2 plus 3 is 5.\n</think>\n\nThe answer is 5.<|im_end|>\n',
    );
  });

  test('a chat_template.jinja file replaces tokenizer_config.json\'s template (and is copied with the tokenizer files)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-chatml-'));
    try {
      for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(TINY, f), path.join(dir, f));
      fs.writeFileSync(path.join(dir, 'chat_template.jinja'), QWEN3);
      const tok = Tokenizer.fromDir(dir);
      expect(tok.chatTemplate).toBe(QWEN3);
      expect(tok.applyChatTemplate([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: true, variables: { enable_thinking: false } })).toBe(
        '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n',
      );
      expect(TOKENIZER_FILES).toContain('chat_template.jinja');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
