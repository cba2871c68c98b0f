#!/usr/bin/env python3
"""Writes the Hugging Face reference fixture for test/tokenizer.test.ts (Llama 3.2 tokenizer and chat template).

Usage: python3 scripts/make_tokenizer_fixture.py OUTDIR [TOKENIZER_DIR] [GSM8K_TEST_JSONL]
Needs: transformers 5.x, tokenizers, jinja2 (no network, no GPU). Writes OUTDIR/tokenizer/llama32_encodings.json,
gzipped to llama32_encodings.json.gz when it is over 2 MB (the test reads either).

TOKENIZER_DIR holds tokenizer.json, tokenizer_config.json and special_tokens_map.json of Llama-3.2-3B-Instruct
(tokenizer.json is 9 MB, so the repo has no copy). Defaults, relative to the repo root (where this runs):
  ../shared/models/llama-3.2-3b-instruct     (a developer checkout)
  .gpu/shared/models/llama-3.2-3b-instruct   (the GPU host, where ../shared is absent)
GSM8K_TEST_JSONL defaults to ../shared/data/gsm8k/test.jsonl, then .gpu/shared/data/gsm8k/test.jsonl.
To run it on the GPU host, stage those files (about 10 MB) into .gpu/ (ignored by git) here and carry [".gpu"]:
  mkdir -p .gpu/shared/models/llama-3.2-3b-instruct .gpu/shared/data/gsm8k
  cp ../shared/models/llama-3.2-3b-instruct/{tokenizer.json,tokenizer_config.json,special_tokens_map.json} \
     .gpu/shared/models/llama-3.2-3b-instruct/
  cp ../shared/data/gsm8k/test.jsonl .gpu/shared/data/gsm8k/
scripts/gpu-check.sh then runs it with the other fixture scripts; copy fixtures/tokenizer/llama32_encodings.json*
from its fixtures.tgz to test/fixtures/tokenizer/. The output is deterministic (same inputs and versions, same bytes).

For every GSM8K test question (stored by line index plus the file's sha256, not as text) and every tricky string
below: ids from tokenizer(text, add_special_tokens=False/True) and the decode of each id list with and without
skip_special_tokens (for GSM8K questions only where it is not the plain round trip: see gsm8k_case). Also a sweep
of ids over the whole vocabulary, single-token decodes (partial UTF-8), and chat template renderings (text and ids)
with and without add_generation_prompt, one with tools. The template's date is pinned as the TS Tokenizer pins it:
the template kwarg date_string (TS: variables.date_string), or (one case) strftime_now fixed to a day (TS: now).
"""
import datetime
import gzip
import hashlib
import json
import os
import sys

import tokenizers
import transformers
from transformers import AutoTokenizer

DATE_STRING = "26 Jul 2024"
PINNED_NOW = "2025-01-05"  # strftime_now pinned to this day (local midnight) for one chat case

TRICKY = [
    # empty and whitespace
    "", " ", "  ", "   leading spaces", "trailing spaces   ", "\t", "\ttab\tseparated\t", "\n", "\n\n\n",
    "line1\nline2\r\nline3\rline4", "  \n  \n", "a  b   c    d     e", " " * 50, "\n" * 20, "x \t \n y",
    "\u00a0nbsp\u00a0", "\u3000ideographic space", "\u2028line separator\u2029", "\u200bzero\u200bwidth", "\ufeffBOM",
    # digits and numbers
    "0", "12", "123", "1234", "12345678901234567890", "1" * 101, "3.14159265358979", "1,234,567", "-42",
    "$1,000.50", "1e-10", "2024-07-26", "10:30pm", "x=3y+12z", "\u0663\u0664\u0665 arabic-indic digits",
    "\uff11\uff12\uff13 fullwidth", "\u2460\u2461 circled",
    # unicode
    "caf\u00e9", "cafe\u0301 (combining acute)", "na\u00efve r\u00e9sum\u00e9", "Z\u0338\u0322a\u0335l\u0336g\u0337o\u0336",
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8", "\u4e2d\u6587\u6d4b\u8bd5\uff0c\u6807\u70b9\u3002",
    "\ud55c\uad6d\uc5b4", "\u041f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440",
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645", "\u05e9\u05dc\u05d5\u05dd",
    "\u0939\u093f\u0928\u094d\u0926\u0940", "\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22",
    "\U0001f600", "I \u2764\ufe0f emoji \U0001f680\U0001f525", "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 family",
    "\U0001f3f3\ufe0f\u200d\U0001f308", "\U0001f44d\U0001f3fd", "\U0001f1e9\U0001f1ea\U0001f1ef\U0001f1f5",
    "\u2211\u222b\u221a\u221e \u2264 \u2265 \u2260 \u00b1 \u00d7 \u00f7", "\U0001d518\U0001d52b\U0001d526\U0001d520\U0001d52c\U0001d521\U0001d522",
    "\u00c5ngstr\u00f6m \u212b", "\ufb01 ligature", "\u00df STRASSE", "\u0130stanbul \u0131",
    # special-token text inside text
    "<|eot_id|>", "Hello<|eot_id|>world", "<|begin_of_text|>text", " <|eot_id|> ", "<|eot_id|><|eot_id|>",
    "<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>", "<|eot_id", "|>", "<|reserved_special_token_5|>",
    "<|finetune_right_pad_id|>", "<|not_a_token|>", "<s></s>[INST] [/INST]", "<|python_tag|>print(1)<|eom_id|>",
    # contractions and punctuation
    "I'm, you're, they've, she'll, he'd, it's, don't", "IT'S SHOUTING, WE'LL SEE", "'s 'S 'T 're",
    " .", "Hello , world !", "...", "!!!???", "\u2014\u2013-", "\u201cquotes\u201d \u2018single\u2019", "a/b\\c|d",
    # code and markup
    "def f(x):\n    return x**2  # comment\n", '{"json": [1, 2, 3], "k": null}', "<html><body>Hi</body></html>",
    "C:\\Users\\path\\file.txt", "https://example.com/a?b=c&d=e#f", "#### 42", "<<16-3-4=9>>9",
    # control characters and long strings
    "\x00null", "\x7fdel", "\x01\x02\x1b[31m", "ab " * 200, "Supercalifragilisticexpialidocious" * 5,
]

# Strings whose single-token decodes are recorded (partial UTF-8 sequences decode to U+FFFD).
TOKEN_DECODE_TEXTS = [
    "\U0001f600", "I \u2764\ufe0f emoji \U0001f680\U0001f525", "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 family",
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8", "\u0939\u093f\u0928\u094d\u0926\u0940", "cafe\u0301 (combining acute)",
    "\U0001d518\U0001d52b\U0001d526\U0001d520\U0001d52c\U0001d521\U0001d522", "Hello<|eot_id|>world",
]

# A tool schema (HF passes it as the template's `tools`; the template prints it with tojson(indent=4)).
TOOL = {"type": "function", "function": {
    "name": "add", "description": "Adds two integers \u2014 sch\u00f6n \U0001f600.",
    "parameters": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"]},
}}

SYSTEM = "You are a helpful math tutor. Think step by step, then give the final answer after ####."


def chats(question):
    return [
        ("system_user", [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]),
        ("user_only", [{"role": "user", "content": question}]),
        ("multi_turn", [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": "What is 2 + 3?"},
            {"role": "assistant", "content": "2 + 3 = 5.\n#### 5"},
            {"role": "user", "content": "And times 4?"},
        ]),
        ("multi_turn_no_system", [
            {"role": "user", "content": "Hi!"},
            {"role": "assistant", "content": "Hello! How can I help?"},
            {"role": "user", "content": "Count to 3."},
            {"role": "assistant", "content": "1, 2, 3."},
        ]),
        ("whitespace_unicode_special", [
            {"role": "system", "content": "  \n padded system \t\n"},
            {"role": "user", "content": "  caf\u00e9 \U0001f600 \u65e5\u672c\u8a9e <|eot_id|> inside  \n\n"},
            {"role": "assistant", "content": "\n\nstarts with newlines"},
            {"role": "user", "content": ""},
        ]),
    ]


def resolve(arg_index, candidates, what):
    if len(sys.argv) > arg_index:
        return sys.argv[arg_index]
    for c in candidates:
        if os.path.exists(c):
            return c
    sys.exit(f"make_tokenizer_fixture.py: no {what}: pass it as argument {arg_index} or put it at one of {candidates}")


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def encode_case(tok, text):
    ids = tok(text, add_special_tokens=False)["input_ids"]
    ids_special = tok(text, add_special_tokens=True)["input_ids"]
    decode = {
        "ids": tok.decode(ids, skip_special_tokens=False),
        "ids_skip": tok.decode(ids, skip_special_tokens=True),
        "ids_special": tok.decode(ids_special, skip_special_tokens=False),
        "ids_special_skip": tok.decode(ids_special, skip_special_tokens=True),
    }
    return {"ids": ids, "ids_special": ids_special, "decode": decode}


def gsm8k_case(tok, question):
    """Like encode_case, but the decodes are left out when they are what a lossless round trip gives (they all
    are, for this tokenizer): decode(ids) == decode(ids, skip) == decode(ids_special, skip) == question and
    decode(ids_special) == bos_token + question. The TS test expects exactly that when "decode" is absent."""
    case = encode_case(tok, question)
    d = case["decode"]
    if d["ids"] == d["ids_skip"] == d["ids_special_skip"] == question and d["ids_special"] == tok.bos_token + question:
        del case["decode"]
    return case


def fixed_strftime_now(day):
    now = datetime.datetime.fromisoformat(day)
    return lambda fmt: now.strftime(fmt)


def main():
    if not 2 <= len(sys.argv) <= 4:
        sys.exit("usage: make_tokenizer_fixture.py OUTDIR [TOKENIZER_DIR] [GSM8K_TEST_JSONL]")
    out = os.path.join(sys.argv[1], "tokenizer")
    tok_dir = resolve(2, ["../shared/models/llama-3.2-3b-instruct", ".gpu/shared/models/llama-3.2-3b-instruct"], "tokenizer dir")
    gsm8k = resolve(3, ["../shared/data/gsm8k/test.jsonl", ".gpu/shared/data/gsm8k/test.jsonl"], "GSM8K test.jsonl")
    tok = AutoTokenizer.from_pretrained(tok_dir)
    with open(gsm8k, encoding="utf-8") as f:
        questions = [json.loads(line)["question"] for line in f if line.strip()]

    strings = []
    for text in TRICKY:
        case = {"text": text, **encode_case(tok, text)}
        if text in TOKEN_DECODE_TEXTS:
            case["token_decodes"] = [tok.decode([i]) for i in case["ids"]]
        strings.append(case)

    sweep_ids = list(range(0, len(tok), 31))  # every 31st id: the whole range, base and added tokens
    sweep = {
        "ids": sweep_ids,
        "decode": tok.decode(sweep_ids),
        "decode_skip": tok.decode(sweep_ids, skip_special_tokens=True),
        "token_decodes": [tok.decode([i]) for i in sweep_ids],
    }

    chat_cases = []
    for name, messages in chats(questions[0]):
        for gen in (False, True):
            text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=gen, date_string=DATE_STRING)
            ids = tok.apply_chat_template(messages, tokenize=True, return_dict=False, add_generation_prompt=gen, date_string=DATE_STRING)
            chat_cases.append({"name": name, "messages": messages, "add_generation_prompt": gen,
                               "date_string": DATE_STRING, "text": text, "ids": list(ids)})
    messages = chats(questions[0])[0][1]  # system + user
    # strftime_now pinned instead of date_string: the template's own default path.
    text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True,
                                   strftime_now=fixed_strftime_now(PINNED_NOW))
    chat_cases.append({"name": "pinned_now", "messages": messages, "add_generation_prompt": True,
                       "now": PINNED_NOW, "text": text, "ids": tok(text, add_special_tokens=False)["input_ids"]})
    # Tools: the template's tool branch (tojson with indent, the first user message moved under the tools).
    text = tok.apply_chat_template(messages, tools=[TOOL], tokenize=False, add_generation_prompt=True,
                                   date_string=DATE_STRING)
    chat_cases.append({"name": "tools", "messages": messages, "add_generation_prompt": True, "date_string": DATE_STRING,
                       "tools": [TOOL], "text": text, "ids": tok(text, add_special_tokens=False)["input_ids"]})

    fixture = {
        "meta": {
            "made_by": "scripts/make_tokenizer_fixture.py",
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
            "tokenizer_class": type(tok).__name__,
            "tokenizer_json_sha256": sha256(os.path.join(tok_dir, "tokenizer.json")),
            "vocab_size": len(tok),
            "special_tokens_map": tok.special_tokens_map,
        },
        "strings": strings,
        "gsm8k": {"file_sha256": sha256(gsm8k), "count": len(questions),
                  "cases": [gsm8k_case(tok, q) for q in questions]},
        "sweep": sweep,
        "chats": chat_cases,
    }

    os.makedirs(out, exist_ok=True)
    data = (json.dumps(fixture, ensure_ascii=True, separators=(",", ":")) + "\n").encode("ascii")
    plain, gz = os.path.join(out, "llama32_encodings.json"), os.path.join(out, "llama32_encodings.json.gz")
    for stale in (plain, gz):
        if os.path.exists(stale):
            os.remove(stale)
    if len(data) > 2 * 1024 * 1024:
        with open(gz, "wb") as f:
            f.write(gzip.compress(data, compresslevel=9, mtime=0))  # mtime=0: same input, same bytes
        path = gz
    else:
        with open(plain, "wb") as f:
            f.write(data)
        path = plain
    print(f"wrote {path} ({os.path.getsize(path)} bytes; {len(strings)} strings, {len(questions)} GSM8K questions, "
          f"{len(chat_cases)} chats; transformers {transformers.__version__}, tokenizers {tokenizers.__version__})")


if __name__ == "__main__":
    main()
