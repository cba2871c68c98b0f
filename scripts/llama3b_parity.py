#!/usr/bin/env python3
"""Reference side of the 3B-config parity check (GPU host): python3 scripts/llama3b_parity.py MODEL_DIR OUT_JSON [CONFIG]

Builds a LlamaForCausalLM with random weights (transformers' own init: normal std initializer_range = 0.02, norms 1;
torch.manual_seed(SEED)) and the exact config of Llama-3.2-3B-Instruct (CONFIG, default
.gpu/shared/models/llama-3.2-3b-instruct/config.json), saves it to MODEL_DIR in bfloat16 (save_pretrained), and
computes with transformers (bf16, sdpa, CUDA):
  ids:        P prompts x T tokens of random ids in [0, 128000) (seeded)
  top1:       argmax of the logits at every position [P][T]
  last:       the full last-position logits per prompt [P][V] (float, rounded)
  margin:     per prompt, top1 - top2 of the last-position logits (how close a near-tie is)
  greedy:     model.generate(do_sample=False, no eos) NEW new tokens per prompt
  fp32:       top1, last and greedy again with the same weights in float32 (the bf16 noise floor)
With PARITY_EXISTING=1, MODEL_DIR is an existing model (e.g. the trained models/tiny-arith) that is loaded instead of
built, and the prompt ids are drawn below its vocabulary size: a trained model's peaked distributions make the greedy
comparison in bf16 meaningful, which random weights (near-ties everywhere) cannot.
The weights are random, so the numbers test the arithmetic only. With std 0.02 and tied embeddings the residual
stream is dominated by the input embedding, so logits are fairly flat and greedy tends to repeat tokens: the
agreement numbers are a lower bar than a trained model's would be. src/bench/llama-parity.ts is the other side.
"""
import json
import os
import sys
import time

import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM

SEED, P, T, NEW = 1234, 4, 64, 48


def main():
    model_dir, out_json = sys.argv[1], sys.argv[2]
    cfg_path = sys.argv[3] if len(sys.argv) > 3 else ".gpu/shared/models/llama-3.2-3b-instruct/config.json"
    t0 = time.time()
    existing = os.environ.get("PARITY_EXISTING") == "1"
    if not existing:
        build_random(model_dir, cfg_path, t0)
    vocab = min(LlamaConfig.from_pretrained(model_dir).vocab_size, 128000)
    compute(model_dir, out_json, vocab, t0)


def build_random(model_dir, cfg_path, t0):
    config = LlamaConfig.from_pretrained(os.path.dirname(os.path.abspath(cfg_path)))
    torch.manual_seed(SEED)
    with torch.device("cuda"):
        try:
            model = LlamaForCausalLM._from_config(config, attn_implementation="sdpa")
        except TypeError:
            config._attn_implementation = "sdpa"
            model = LlamaForCausalLM(config)
    model = model.to(torch.bfloat16).eval()
    os.makedirs(model_dir, exist_ok=True)
    model.save_pretrained(model_dir)
    print(f"built and saved {sum(p.numel() for p in model.parameters()) / 1e9:.2f}B params in {time.time() - t0:.0f}s "
          f"(transformers {transformers.__version__}, torch {torch.__version__})", flush=True)

    del model
    torch.cuda.empty_cache()


def load(model_dir, dtype):
    try:
        model = LlamaForCausalLM.from_pretrained(model_dir, dtype=dtype, attn_implementation="sdpa")
    except TypeError:
        model = LlamaForCausalLM.from_pretrained(model_dir, torch_dtype=dtype, attn_implementation="sdpa")
    return model.cuda().eval()


def compute(model_dir, out_json, vocab, t0):
    # Compute with the model as transformers reloads it: model.to(bfloat16) above also rounded the rotary inv_freq
    # buffer to bf16 (relative error up to 3.3e-3), which from_pretrained does not (it stays float32), and .float()
    # does not undo. That rounding, not LlamaModel, made the first H100 runs disagree (0.29 logit std in fp32).
    model = load(model_dir, torch.bfloat16)
    assert model.model.rotary_emb.inv_freq.dtype == torch.float32

    g = torch.Generator().manual_seed(SEED + 1)
    ids = torch.randint(0, vocab, (P, T), generator=g).cuda()
    with torch.no_grad():
        logits = model(input_ids=ids).logits.float()
        top1 = logits.argmax(-1)
        last = logits[:, -1]
        top2 = last.topk(2, -1).values
        margin = (top2[:, 0] - top2[:, 1]).tolist()
        model.generation_config.eos_token_id = None
        model.generation_config.pad_token_id = 0
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=NEW, do_sample=False,
                             eos_token_id=None, pad_token_id=0)
    greedy = out[:, T:].tolist()
    # The bf16 noise floor: the weights as stored, computed in float32 by transformers (reloaded, not model.float():
    # for a model stored in float32 that would compute with the bf16-rounded weights).
    del model
    torch.cuda.empty_cache()
    model = load(model_dir, torch.float32)
    with torch.no_grad():
        logits32 = model(input_ids=ids).logits.float()
        out32 = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=NEW, do_sample=False,
                               eos_token_id=None, pad_token_id=0)
    res = {
        "meta": {"transformers": transformers.__version__, "torch": torch.__version__, "seed": SEED, "P": P, "T": T,
                 "new": NEW, "dtype": "bfloat16", "attn": "sdpa", "device": torch.cuda.get_device_name()},
        "ids": ids.tolist(),
        "top1": top1.tolist(),
        "last": [[round(float(v), 4) for v in row] for row in last.tolist()],
        "last_std": last.std(-1).tolist(),
        "margin": margin,
        "greedy": greedy,
        "fp32": {"top1": logits32.argmax(-1).tolist(),
                 "last": [[round(float(v), 4) for v in row] for row in logits32[:, -1].tolist()],
                 "greedy": out32[:, T:].tolist()},
    }
    with open(out_json, "w") as f:
        json.dump(res, f)
    print(f"logit std (last positions) {[round(s, 3) for s in res['last_std']]}, top1-top2 margins "
          f"{[round(m, 4) for m in margin]}; wrote {out_json} ({time.time() - t0:.0f}s)", flush=True)


if __name__ == "__main__":
    main()
