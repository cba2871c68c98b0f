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
import json
import os
import sys

import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM

V5 = int(transformers.__version__.split(".")[0]) >= 5
VOCAB, HIDDEN, INTER, LAYERS = 300, 64, 128, 2
B, T, NEW = 3, 10, 16

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


def init_weights(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
            elif "embed_tokens" in name:
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))


def r(x):
    return [r(v) for v in x] if isinstance(x, list) else round(float(x), 6)


def build(outdir, name, spec, seed):
    heads, kv, tied, rope, theta, disk_dtype = spec
    torch.manual_seed(seed)
    config = make_config(heads, kv, tied, rope, theta)
    try:
        model = LlamaForCausalLM._from_config(config, attn_implementation="eager")
    except TypeError:
        config._attn_implementation = "eager"
        model = LlamaForCausalLM(config)
    init_weights(model, seed)
    model = model.to(disk_dtype)
    d = os.path.join(outdir, "llama", name)
    os.makedirs(d, exist_ok=True)
    model.save_pretrained(d)
    # The reference is the model as transformers reloads it from disk, computed in fp32: exactly the stored values,
    # and buffers rebuilt at load (RoPE's inv_freq in fp32; `model.to(bf16)` above rounded the in-memory one).
    model = LlamaForCausalLM.from_pretrained(d, attn_implementation="eager").float().eval()
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = 0
    model.generation_config.do_sample = False

    g = torch.Generator().manual_seed(seed + 1)
    ids = torch.randint(3, VOCAB, (B, T), generator=g)
    with torch.no_grad():
        logits = model(input_ids=ids).logits.float()
        lp = torch.log_softmax(logits, -1)
        logprobs = torch.zeros(B, T)
        logprobs[:, 1:] = lp[:, :-1].gather(-1, ids[:, 1:, None]).squeeze(-1)

    greedy = []
    for b in range(B):
        prompt = ids[b : b + 1, : T - 2 - b]
        with torch.no_grad():
            # Reference path 1: argmax of full forwards (no cache), step by step.
            seq = prompt.clone()
            margins = []
            for _ in range(NEW):
                last = model(input_ids=seq).logits[0, -1].float()
                top2 = last.topk(2).values
                margins.append((top2[0] - top2[1]).item())
                seq = torch.cat([seq, last.argmax().view(1, 1)], 1)
            by_forward = seq[0, prompt.shape[1]:].tolist()
            # Reference path 2: model.generate (KV cache), greedy, no eos.
            try:
                out = model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=NEW,
                                     do_sample=False, eos_token_id=None, pad_token_id=0)
                by_generate = out[0, prompt.shape[1]:].tolist()
            except Exception as e:  # keep the fixture usable if generate's API moved
                print(f"warning: {name} prompt {b}: model.generate failed ({type(e).__name__}: {e}); using forward argmax")
                by_generate = None
        if by_generate is not None and by_generate != by_forward:
            print(f"warning: {name} prompt {b}: generate {by_generate} != forward argmax {by_forward} (near tie?)")
        tokens = by_generate if by_generate is not None and len(by_generate) == NEW else by_forward
        greedy.append({"prompt": prompt[0].tolist(), "tokens": tokens, "margins": r(margins),
                       "source": "generate" if tokens is by_generate else "forward argmax"})

    expected = {
        "meta": {"transformers": transformers.__version__, "torch": torch.__version__, "name": name,
                 "heads": heads, "kv_heads": kv, "tied": tied, "rope": rope, "rope_theta": theta,
                 "disk_dtype": str(disk_dtype).replace("torch.", "")},
        "input_ids": ids.tolist(),
        "logits": r(logits.tolist()),
        "logprobs": r(logprobs.tolist()),
        "greedy": greedy,
    }
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump(expected, f, separators=(",", ":"))
    size = sum(os.path.getsize(os.path.join(d, x)) for x in os.listdir(d))
    print(f"llama fixture {name}: {d} ({size / 1e6:.2f} MB), files {sorted(os.listdir(d))}")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    torch.set_num_threads(min(8, torch.get_num_threads()))
    for i, (name, spec) in enumerate(MODELS.items()):
        build(sys.argv[1], name, spec, seed=1000 + i)


if __name__ == "__main__":
    main()
