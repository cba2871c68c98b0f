#!/usr/bin/env python3
"""PyTorch peers of `atman-native bench llama`: python3 bench/llama.py MODEL_DIR OUT_JSON [eager|compile|compile64|all] [ITERS]

transformers AutoModelForCausalLM (the directory's model_type: llama, qwen2, qwen3, mistral), bf16,
attn_implementation="sdpa", on CUDA, on the same model directory:
  eager:    generate (sampling, temperature 1, top_k 0 / top_p 1, no eos, dynamic KV cache) at batch 1 (128-token
            prompt, 128 new tokens) and batch 64 (128-token prompts, 256 new tokens); training forward+backward
            B=8 x T=512, loss = mean of -log p(next token), every parameter requiring grad.
  compile:  generate with cache_implementation="static" and torch.compile(model.forward) (default mode), same cases.
One warm-up + ITERS (default 1) timed runs per generate case (median; the warm-up includes compilation), 1 + 3 for
training. Peak memory: torch.cuda.max_memory_allocated over the timed runs (weights included), GiB. A case that fails
becomes a table cell with its error; the JSON is rewritten after every case.
"""
import json
import sys
import time

import torch
import transformers
from transformers import AutoModelForCausalLM

VOCAB_IDS = 128000


def timed(fn, warmup, iters):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    samples = []
    for _ in range(iters):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return samples[len(samples) // 2], torch.cuda.max_memory_allocated() / 2**30


def load(model_dir):
    try:
        m = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16, attn_implementation="sdpa")
    except TypeError:
        m = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.bfloat16, attn_implementation="sdpa")
    m = m.cuda().eval()
    m.generation_config.eos_token_id = None
    m.generation_config.pad_token_id = 0
    return m


def gen_case(model, impl, batch, prompt_len, new, iters, static):
    r = dict(impl=impl, case="generate (sampling T=1)", batch=batch, promptLen=prompt_len, newTokens=new,
             tokensPerS=None, ms=None, peakGiB=None)
    try:
        g = torch.Generator().manual_seed(batch)
        ids = torch.randint(0, VOCAB_IDS, (batch, prompt_len), generator=g).cuda()
        kw = dict(attention_mask=torch.ones_like(ids), max_new_tokens=new, min_new_tokens=new, do_sample=True,
                  temperature=1.0, top_k=0, top_p=1.0, eos_token_id=None, pad_token_id=0)
        if static:
            kw["cache_implementation"] = "static"
        n = [0]

        def step():
            with torch.no_grad():
                out = model.generate(ids, **kw)
            n[0] = (out.shape[1] - prompt_len) * batch

        ms, peak = timed(step, 1, iters)
        r.update(ms=ms, tokensPerS=n[0] / (ms / 1000), peakGiB=peak)
    except Exception as e:  # noqa: BLE001 - a failing peer is a table cell
        r["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"
    return r


def train_case(model, impl, iters):
    r = dict(impl=impl, case="train fwd+bwd (mean -log p)", batch=8, promptLen=512, newTokens=0, tokensPerS=None,
             ms=None, peakGiB=None)
    try:
        model.train()
        for p in model.parameters():
            p.requires_grad_(True)
        g = torch.Generator().manual_seed(0)
        ids = torch.randint(0, VOCAB_IDS, (8, 512), generator=g).cuda()

        def step():
            logits = model(input_ids=ids).logits
            lp = torch.log_softmax(logits[:, :-1].float(), -1).gather(-1, ids[:, 1:, None]).squeeze(-1)
            (-lp).mean().backward()
            model.zero_grad(set_to_none=True)

        ms, peak = timed(step, 1, max(3, iters))
        r.update(ms=ms, tokensPerS=8 * 512 / (ms / 1000), peakGiB=peak)
    except Exception as e:  # noqa: BLE001
        r["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"
    finally:
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
            p.grad = None
        torch.cuda.empty_cache()
    return r


def main():
    model_dir, out_json = sys.argv[1], sys.argv[2]
    which = sys.argv[3] if len(sys.argv) > 3 else "all"
    iters = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    print(f"# llama peers: transformers {transformers.__version__}, torch {torch.__version__}, "
          f"{torch.cuda.get_device_name()}; 1 warm-up + {iters} timed run(s) per generate case", flush=True)
    model = load(model_dir)
    results = []

    def record(r):
        results.append(r)
        cell = f"{r['tokensPerS']:.1f}" if r["tokensPerS"] is not None else f"failed: {r.get('error')}"
        ms = f"{r['ms']:.0f}" if r["ms"] is not None else "-"
        peak = f"{r['peakGiB']:.2f}" if r["peakGiB"] is not None else "-"
        print(f"| {r['impl']} | {r['case']} | {r['batch']} | {r['promptLen']} | {r['newTokens'] or '-'} | {ms} | {cell} | {peak} |",
              flush=True)
        with open(out_json, "w") as f:
            json.dump({"device": torch.cuda.get_device_name(), "transformers": transformers.__version__,
                       "torch": torch.__version__, "results": results}, f, indent=2)

    print("| impl | case | batch | prompt | new tokens | ms / run | tokens/s | peak GiB |\n|---|---|---|---|---|---|---|---|",
          flush=True)
    if which in ("eager", "all"):
        impl = "transformers sdpa eager"
        record(gen_case(model, impl, 1, 128, 128, iters, False))
        record(gen_case(model, impl, 64, 128, 256, iters, False))
        record(train_case(model, impl, iters))
    if which in ("compile", "all", "compile64"):
        impl = "transformers sdpa static cache + torch.compile"
        model.forward = torch.compile(model.forward)
        if which != "compile64":
            record(gen_case(model, impl, 1, 128, 128, iters, True))
        record(gen_case(model, impl, 64, 128, 256, iters, True))


if __name__ == "__main__":
    main()
