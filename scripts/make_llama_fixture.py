#!/usr/bin/env python3
"""Writes the Hugging Face parity fixtures for test/llama_parity.test.ts: small random Llama models and what
transformers computes with them.

Usage: python3 scripts/make_llama_fixture.py OUTDIR
Needs: torch, transformers (4.x or 5.x; made with 5.17 + torch 2.11), safetensors. No network, no GPU (runs on CPU).
scripts/gpu-check.sh runs it with the other fixture scripts; copy fixtures/llama/ from its fixtures.tgz to
test/fixtures/llama/ (each model directory is about 0.2-0.5 MB).

For each model (see MODELS) it writes OUTDIR/llama/<name>/: config.json and model.safetensors from save_pretrained
(as transformers writes them: 5.x puts rope settings in rope_parameters), and expected.json:
  meta:       versions, model name, config summary
  input_ids:  [B][T] random token ids (B = 3, T = 10)
  logits:     [B][T][vocab] float32 logits of model(input_ids) (eager attention, fp32), rounded to 1e-6
  logprobs:   [B][T]: entry t = log_softmax(logits[:, t-1])[ids[t]] for t >= 1, 0 at t = 0 (the layout of
              LlamaModel.tokenLogprobs with targetStart 1)
  greedy:     per prompt: model.generate(prompt, max_new_tokens=16, do_sample=False) with no eos (16 new tokens;
              checked against argmax of full forwards, which is used if generate fails or stops early), and the
              top-1 minus top-2 logit margin at each step (to tell a real mismatch from a near tie)
The weights are re-initialised with larger values than transformers' default init (std 0.02 gives almost flat
logits, where greedy decoding is decided by rounding). The output is deterministic (fixed seeds, CPU).
"""
import os
import sys

import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM

from fixture_reference import write_fixture

V5 = int(transformers.__version__.split(".")[0]) >= 5
VOCAB, HIDDEN, INTER, LAYERS = 300, 64, 128, 2

LLAMA3 = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
          "original_max_position_embeddings": 16}

# name: (attention heads, kv heads, tied, rope scaling or None, rope theta, on-disk dtype)
MODELS = {
    "gqa4_tied": (4, 1, True, None, 10000.0, torch.float32),
    "mha_untied": (4, 4, False, None, 10000.0, torch.float32),
    "llama3_rope": (4, 2, False, LLAMA3, 500000.0, torch.float32),
    "gqa2_bf16_disk": (4, 2, True, None, 10000.0, torch.bfloat16),
}


def make_config(heads, kv, tied, rope, theta):
    kw = dict(vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=INTER, num_hidden_layers=LAYERS,
              num_attention_heads=heads, num_key_value_heads=kv, head_dim=HIDDEN // heads, max_position_embeddings=256,
              rms_norm_eps=1e-5, tie_word_embeddings=tied, attention_bias=False, mlp_bias=False,
              bos_token_id=1, eos_token_id=2, pad_token_id=0)
    if V5:
        kw["rope_parameters"] = dict(rope or {"rope_type": "default"}, rope_theta=theta)
    else:
        kw["rope_theta"] = theta
        kw["rope_scaling"] = rope
    return LlamaConfig(**kw)


def build(outdir, name, spec, seed):
    heads, kv, tied, rope, theta, disk_dtype = spec
    write_fixture(LlamaForCausalLM, make_config(heads, kv, tied, rope, theta), os.path.join(outdir, "llama", name), name,
                  seed, disk_dtype, VOCAB, {"heads": heads, "kv_heads": kv, "tied": tied, "rope": rope, "rope_theta": theta})


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    torch.set_num_threads(min(8, torch.get_num_threads()))
    for i, (name, spec) in enumerate(MODELS.items()):
        build(sys.argv[1], name, spec, seed=1000 + i)


if __name__ == "__main__":
    main()
