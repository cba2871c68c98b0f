#!/usr/bin/env python3
"""Writes the Hugging Face parity fixtures of the other model families for test/family_parity.test.ts: small
random Qwen2, Qwen3 and Mistral models and what transformers computes with them (as scripts/make_llama_fixture.py
does for Llama).

Usage: python3 scripts/make_family_fixtures.py OUTDIR
Needs: torch, transformers (4.x or 5.x; Qwen3 needs >= 4.51), safetensors. No network, no GPU (runs on CPU).
scripts/gpu-check.sh runs it with the other fixture scripts, copies OUTDIR/{qwen2,qwen3,mistral} into test/fixtures/
before the GPU suite (which holds the parity test) and returns them in fixtures.tgz: copy them to test/fixtures/ to
commit them.

For each model (see MODELS) it writes OUTDIR/<family>/<name>/: config.json and model.safetensors from save_pretrained
(as transformers writes them: 5.x puts rope settings in rope_parameters), and expected.json in the layout of the Llama
fixtures:
  meta:       versions, family, model name, config summary
  input_ids:  [B][T] random token ids (B = 3, T = 10)
  logits:     [B][T][vocab] float32 logits of model(input_ids) (eager attention, fp32), rounded to 1e-6
  logprobs:   [B][T]: entry t = log_softmax(logits[:, t-1])[ids[t]] for t >= 1, 0 at t = 0
  greedy:     per prompt: model.generate(prompt, max_new_tokens=16, do_sample=False) with no eos, and the top-1 minus
              top-2 logit margin at each step
Weights are re-initialised with larger values than transformers' default init (std 0.02 gives almost flat logits);
biases (Qwen2's q/k/v) get std 0.1 like the weights, norm weights (Qwen3's q_norm/k_norm too) 1 + N(0, 0.01).
The output is deterministic (fixed seeds, CPU).
"""
import os
import sys

import torch
import transformers

from fixture_reference import write_fixture

V5 = int(transformers.__version__.split(".")[0]) >= 5
VOCAB, HIDDEN, INTER, LAYERS = 300, 64, 128, 2


def classes(family):
    if family == "qwen2":
        return transformers.Qwen2Config, transformers.Qwen2ForCausalLM
    if family == "qwen3":
        return transformers.Qwen3Config, transformers.Qwen3ForCausalLM
    return transformers.MistralConfig, transformers.MistralForCausalLM


# name: (family, attention heads, kv heads, head_dim or None, tied, rope theta, on-disk dtype, extra config)
MODELS = {
    # Qwen2.5-like: q/k/v biases, large rope_theta, tied embeddings, a sliding_window that use_sliding_window leaves off.
    "qwen2_bias_tied": ("qwen2", 4, 2, None, True, 1000000.0, torch.float32,
                        dict(use_sliding_window=False, sliding_window=4096, max_window_layers=LAYERS)),
    # bf16 weights on disk, loaded as float32 (the reference is computed from the reloaded model).
    "qwen2_untied_bf16_disk": ("qwen2", 4, 4, None, False, 10000.0, torch.bfloat16, dict(use_sliding_window=False)),
    # Qwen3: q/k head norms, head_dim 32 with hidden 64 and 4 heads (not hidden / heads), no projection bias.
    "qwen3_headdim32": ("qwen3", 4, 2, 32, False, 1000000.0, torch.float32, dict(use_sliding_window=False)),
    "qwen3_tied_mqa": ("qwen3", 4, 1, 16, True, 1000000.0, torch.float32, dict(use_sliding_window=False)),
    # Mistral v0.2/v0.3-like (sliding_window null) and v0.1-like with a window longer than every sequence here.
    "mistral_nowindow": ("mistral", 4, 2, None, False, 1000000.0, torch.float32, dict(sliding_window=None)),
    "mistral_window32": ("mistral", 4, 1, 16, False, 10000.0, torch.float32, dict(sliding_window=32)),
}


def make_config(family, heads, kv, head_dim, tied, theta, extra):
    kw = dict(vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=INTER, num_hidden_layers=LAYERS,
              num_attention_heads=heads, num_key_value_heads=kv, max_position_embeddings=256,
              rms_norm_eps=1e-5, tie_word_embeddings=tied, bos_token_id=1, eos_token_id=2, pad_token_id=0, **extra)
    if head_dim is not None:
        kw["head_dim"] = head_dim
    if V5:
        kw["rope_parameters"] = {"rope_type": "default", "rope_theta": theta}
    else:
        kw["rope_theta"] = theta
    return classes(family)[0](**kw)


def build(outdir, name, spec, seed):
    family, heads, kv, head_dim, tied, theta, disk_dtype, extra = spec
    meta = {"family": family, "heads": heads, "kv_heads": kv, "head_dim": head_dim, "tied": tied, "rope_theta": theta,
            "extra": dict(extra)}
    write_fixture(classes(family)[1], make_config(family, heads, kv, head_dim, tied, theta, extra),
                  os.path.join(outdir, family, name), name, seed, disk_dtype, VOCAB, meta)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    torch.set_num_threads(min(8, torch.get_num_threads()))
    for i, (name, spec) in enumerate(MODELS.items()):
        build(sys.argv[1], name, spec, seed=2000 + i)


if __name__ == "__main__":
    main()
