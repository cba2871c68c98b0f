#!/usr/bin/env python3
"""Writes the Hugging Face parity fixtures of the other model families for test/gpu/family_parity.test.ts: small
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
import json
import os
import sys

import torch
import transformers

V5 = int(transformers.__version__.split(".")[0]) >= 5
VOCAB, HIDDEN, INTER, LAYERS = 300, 64, 128, 2
B, T, NEW = 3, 10, 16


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
    family, heads, kv, head_dim, tied, theta, disk_dtype, extra = spec
    _, Model = classes(family)
    torch.manual_seed(seed)
    config = make_config(family, heads, kv, head_dim, tied, theta, extra)
    try:
        model = Model._from_config(config, attn_implementation="eager")
    except TypeError:
        config._attn_implementation = "eager"
        model = Model(config)
    init_weights(model, seed)
    model = model.to(disk_dtype)
    d = os.path.join(outdir, family, name)
    os.makedirs(d, exist_ok=True)
    model.save_pretrained(d)
    model = Model.from_pretrained(d, attn_implementation="eager").float().eval()
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
            seq = prompt.clone()
            margins = []
            for _ in range(NEW):
                last = model(input_ids=seq).logits[0, -1].float()
                top2 = last.topk(2).values
                margins.append((top2[0] - top2[1]).item())
                seq = torch.cat([seq, last.argmax().view(1, 1)], 1)
            by_forward = seq[0, prompt.shape[1]:].tolist()
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
        "meta": {"transformers": transformers.__version__, "torch": torch.__version__, "family": family, "name": name,
                 "heads": heads, "kv_heads": kv, "head_dim": head_dim, "tied": tied, "rope_theta": theta,
                 "extra": {k: v for k, v in extra.items()}, "disk_dtype": str(disk_dtype).replace("torch.", "")},
        "input_ids": ids.tolist(),
        "logits": r(logits.tolist()),
        "logprobs": r(logprobs.tolist()),
        "greedy": greedy,
    }
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump(expected, f, separators=(",", ":"))
    size = sum(os.path.getsize(os.path.join(d, x)) for x in os.listdir(d))
    print(f"{family} fixture {name}: {d} ({size / 1e6:.2f} MB), files {sorted(os.listdir(d))}")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    torch.set_num_threads(min(8, torch.get_num_threads()))
    for i, (name, spec) in enumerate(MODELS.items()):
        build(sys.argv[1], name, spec, seed=2000 + i)


if __name__ == "__main__":
    main()
