#!/usr/bin/env node
// Writes the tokenizer of the bundled tiny model (models/tiny-arith/): character level over printable ASCII and
// '\n', in the Hugging Face tokenizers format. It is a BPE model with no merges (the JS tokenizers library has no
// WordLevel model), so every character is one token, and a Fuse decoder so that decoding joins tokens without
// spaces. The output is deterministic: run `node scripts/make-tiny-tokenizer.js` and commit the three files
// (an optional argument writes them to another directory instead).
'use strict';
const fs = require('fs');
const path = require('path');

const outDir = process.argv[2] ?? path.join(__dirname, '..', 'models', 'tiny-arith');

// ids 0-7; `<|end|>` closes every chat turn and is the eos token, so generation stops when the assistant's turn
// ends. `<|unk|>` stands for any character outside the vocabulary (otherwise it would be dropped silently).
const SPECIAL = ['<|pad|>', '<|bos|>', '<|eos|>', '<|system|>', '<|user|>', '<|assistant|>', '<|end|>', '<|unk|>'];
const CHARS = ['\n'];
for (let c = 0x20; c <= 0x7e; c++) CHARS.push(String.fromCharCode(c));

const vocab = {};
[...SPECIAL, ...CHARS].forEach((token, id) => {
  vocab[token] = id;
});
const idOf = (token) => vocab[token];

const tokenizer = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: SPECIAL.map((content) => ({
    id: idOf(content),
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  })),
  normalizer: null,
  pre_tokenizer: null,
  // Plain encode() prepends <|bos|>, as Llama's does; chat prompts get it from the template instead.
  post_processor: {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: '<|bos|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
    pair: [
      { SpecialToken: { id: '<|bos|>', type_id: 0 } },
      { Sequence: { id: 'A', type_id: 0 } },
      { SpecialToken: { id: '<|bos|>', type_id: 1 } },
      { Sequence: { id: 'B', type_id: 1 } },
    ],
    special_tokens: { '<|bos|>': { id: '<|bos|>', ids: [idOf('<|bos|>')], tokens: ['<|bos|>'] } },
  },
  decoder: { type: 'Fuse' },
  model: {
    type: 'BPE',
    dropout: null,
    unk_token: '<|unk|>',
    continuing_subword_prefix: null,
    end_of_word_suffix: null,
    fuse_unk: false,
    byte_fallback: false,
    ignore_merges: false,
    vocab,
    merges: [],
  },
};

// Turns are '<|role|>content<|end|>' with no separators (every character costs a token); roles other than
// system/user/assistant are refused.
const CHAT_TEMPLATE =
  '{{ bos_token }}' +
  '{% for message in messages %}' +
  "{% if message['role'] not in ['system', 'user', 'assistant'] %}" +
  "{{ raise_exception('tiny-arith chat template: unknown role ' + message['role']) }}" +
  '{% endif %}' +
  "{{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }}" +
  '{% endfor %}' +
  "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}";

const addedTokensDecoder = {};
for (const t of tokenizer.added_tokens)
  addedTokensDecoder[String(t.id)] = { content: t.content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true };

const tokenizerConfig = {
  added_tokens_decoder: addedTokensDecoder,
  bos_token: '<|bos|>',
  eos_token: '<|end|>',
  pad_token: '<|pad|>',
  unk_token: '<|unk|>',
  chat_template: CHAT_TEMPLATE,
  clean_up_tokenization_spaces: false,
  model_max_length: 1024,
  tokenizer_class: 'PreTrainedTokenizerFast',
};

// Generation stops at the end of the assistant turn, or at the end-of-text token.
const generationConfig = {
  bos_token_id: idOf('<|bos|>'),
  eos_token_id: [idOf('<|end|>'), idOf('<|eos|>')],
  pad_token_id: idOf('<|pad|>'),
};

fs.mkdirSync(outDir, { recursive: true });
const write = (name, value) => fs.writeFileSync(path.join(outDir, name), JSON.stringify(value, null, 2) + '\n');
write('tokenizer.json', tokenizer);
write('tokenizer_config.json', tokenizerConfig);
write('generation_config.json', generationConfig);
console.log(`wrote tokenizer.json, tokenizer_config.json, generation_config.json (${Object.keys(vocab).length} tokens) in ${outDir}`);
