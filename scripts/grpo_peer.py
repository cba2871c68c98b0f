#!/usr/bin/env python3
"""PyTorch + transformers peer of the "GRPO" benchmark (GPU host): an equivalent loop of HF generate, AtMan mask
optimization, log-probs and the policy update on the same batch shape. Prints ONE JSON object on stdout.

  python3 scripts/grpo_peer.py [--prompts 8] [--generations 8] [--new-tokens 256] [--prompt-len 128] [--steps 3]
                               [--saliency-steps 30] [--saliency-batch 8] [--micro-batch 8] [--attn auto|sdpa|eager]
                               [--config CONFIG.json | --model DIR] [--out FILE]

One GRPO step, phases timed separately (torch.cuda.synchronize between them):
  generate:  model.generate on P random prompts (ids in [0, 128000), --prompt-len each), G samples per prompt,
             sampling at temperature 1 from the full distribution (top_k 0, top_p 1), exactly --new-tokens new tokens
             (no eos), KV cache, bf16.
  saliency:  mask optimization (peer_common.optimize_masks) on EVERY completion: a random model's answers are never
             correct, so the bench forces saliency on all P*G. Row = prompt + completion; CoT = the first N-16
             generated tokens, answer = the last 16; batches of --saliency-batch, K = --saliency-steps.
  update:    no separate old-log-prob or reference pass: with num_iterations 1 TRL takes the ratio against the
             detached current log-probs, and beta = 0 (TRL's default) skips the reference model. GRPO loss, loss_type dapo (sum of per-token losses / all completion tokens of the step), epsilon 0.2
             (low = high), advantages ~ N(0, 1) per completion (seeded), micro-batches of --micro-batch with
             gradient accumulation, gradient checkpointing on, clip grad norm 1.0, torch.optim.AdamW directly on
             the bf16 parameters (its state is bf16 too: 2 x 6.4 GB instead of 24 GB of fp32 state), lr 1e-6,
             weight decay 0 (TRL defaults).
tokens_per_s = P * G * N generated tokens / the step's total time. Step 1 includes one-time costs (kernel
selection, optimizer state allocation); the median over --steps damps it.
"""
import argparse
import statistics
import time

import torch

import peer_common as pc

EPS, LR, MAX_GRAD_NORM = 0.2, 1e-6, 1.0


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--generations", type=int, default=8)
    ap.add_argument("--new-tokens", type=int, default=256)
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--saliency-steps", type=int, default=30)
    ap.add_argument("--saliency-batch", type=int, default=8)
    ap.add_argument("--micro-batch", type=int, default=8, help="rows per forward/backward in the update")
    pc.add_model_args(ap)
    a = ap.parse_args()
    if a.new_tokens <= pc.ANSWER_LEN or a.prompt_len < 1:
        ap.error(f"--new-tokens must exceed the answer length {pc.ANSWER_LEN}, --prompt-len must be >= 1")
    if min(a.prompts, a.generations, a.steps, a.saliency_steps, a.saliency_batch, a.micro_batch) < 1:
        ap.error("--prompts, --generations, --steps, --saliency-steps, --saliency-batch, --micro-batch must be >= 1")
    return a


def generate(model, prompts, a):
    with torch.no_grad():
        return model.generate(prompts, attention_mask=torch.ones_like(prompts), do_sample=True, temperature=1.0,
                              top_k=0, top_p=1.0, max_new_tokens=a.new_tokens, min_new_tokens=a.new_tokens,
                              num_return_sequences=a.generations, use_cache=True, eos_token_id=None, pad_token_id=0)


def saliency(model, seqs, a):
    parts = [pc.optimize_masks(model, seqs[i:i + a.saliency_batch], a.prompt_len, a.saliency_steps)
             for i in range(0, seqs.shape[0], a.saliency_batch)]
    return pc.summarize_rows(pc.merge_rows(parts))


def update(model, opt, seqs, adv, a):
    """dapo: every micro-batch adds sum(per-token loss) / (all completion tokens of the step) to the gradient."""
    model.train()
    n_tokens = seqs.shape[0] * (seqs.shape[1] - a.prompt_len)
    for i in range(0, seqs.shape[0], a.micro_batch):
        lp = pc.token_logprobs(model, seqs[i:i + a.micro_batch], a.prompt_len)
        ratio = torch.exp(lp - lp.detach())  # num_iterations 1: old log-probs = the detached current ones
        A = adv[i:i + a.micro_batch, None]
        per_token = -torch.min(ratio * A, ratio.clamp(1 - EPS, 1 + EPS) * A)
        (per_token.sum() / n_tokens).backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_GRAD_NORM)
    opt.step()
    opt.zero_grad(set_to_none=True)
    model.eval()
    return float(grad_norm)


def grpo_step(model, opt, step, a):
    """One step; returns {phase: ms}, per-phase peak GiB and a few sanity numbers."""
    times, peaks, info = {}, {}, {}

    def phase(name, fn):
        pc.sync()
        pc.reset_peak()
        t0 = time.perf_counter()
        out = fn()
        pc.sync()
        times[name] = round((time.perf_counter() - t0) * 1000, 3)
        peaks[name] = pc.peak_gib()
        pc.log(f"step {step} {name}: {times[name]:.0f} ms, peak {peaks[name]} GiB")
        return out

    prompts = pc.random_ids(a.prompts, a.prompt_len, pc.SEED + 100 + step)
    torch.manual_seed(pc.SEED + 200 + step)  # the sampling
    seqs = phase("generate", lambda: generate(model, prompts, a))
    info["generated_tokens"] = int(seqs.shape[0] * (seqs.shape[1] - a.prompt_len))
    model.requires_grad_(False)  # frozen for the mask optimization: no weight gradients
    info["saliency"] = phase("saliency", lambda: saliency(model, seqs, a))
    adv = torch.randn(seqs.shape[0], generator=torch.Generator().manual_seed(pc.SEED + 300 + step)).to(pc.DEVICE)
    model.requires_grad_(True)
    info["grad_norm"] = phase("update", lambda: update(model, opt, seqs, adv, a))
    times["total"] = round(sum(times.values()), 3)
    return {"ms": times, "peak_gib": peaks, **info}


def main():
    a = parse_args()
    real_stdout = pc.claim_stdout()
    T = a.prompt_len + a.new_tokens
    probe_ids = pc.random_ids(min(a.saliency_batch, a.prompts * a.generations), T, pc.SEED + 1)
    build = lambda attn: pc.build_model(attn, a.config, a.model)  # noqa: E731
    probe = lambda m: pc.mask_step(m, probe_ids, *pc.new_theta(probe_ids.shape[0], a.new_tokens - pc.ANSWER_LEN),  # noqa: E731
                                   a.prompt_len)
    model, attn, sdpa_error = pc.probe_attn(a.attn, build, probe)
    del probe_ids
    pc.free_memory()
    weights_gib = pc.allocated_gib()
    # Checkpointing acts only in train mode (the update); generate and saliency run in eval mode.
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.eval()
    opt = torch.optim.AdamW(model.parameters(), lr=LR, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)

    pc.reset_peak()
    steps, peak = [], 0.0
    for step in range(a.steps):
        try:
            steps.append(grpo_step(model, opt, step, a))
            peak = max([peak, *(v for v in steps[-1]["peak_gib"].values() if v is not None)])
        except Exception as e:  # noqa: BLE001 - a failed step is reported; the next one is tried
            steps.append(pc.failure(e))
            model.eval()
            opt.zero_grad(set_to_none=True)
            pc.free_memory()
    done = [s for s in steps if "ms" in s]
    median = None
    if done:
        totals = sorted(s["ms"]["total"] for s in done)
        med_total = statistics.median(totals)
        median = {k: round(statistics.median(s["ms"][k] for s in done), 3) for k in done[0]["ms"]}
        median["total"] = round(med_total, 3)
    tokens = a.prompts * a.generations * a.new_tokens
    result = dict(pc.meta(attn), sdpa_error=sdpa_error, weights_gib=weights_gib,
                  prompts=a.prompts, generations=a.generations, new_tokens=a.new_tokens, prompt_len=a.prompt_len,
                  saliency_steps=a.saliency_steps, saliency_batch=a.saliency_batch, micro_batch=a.micro_batch,
                  loss_type="dapo", epsilon=EPS, beta=0.0, lr=LR, max_grad_norm=MAX_GRAD_NORM,
                  theta_init=pc.THETA_INIT, suppress_s=pc.SUPPRESS_S, saliency_on="all completions (forced)",
                  steps=steps, median_step_ms=median,
                  tokens_per_s=round(tokens / (median["total"] / 1000), 2) if median else None,
                  peak_gib=peak if done and pc.ON_CUDA else None, oom=any(s.get("oom") for s in steps))
    pc.emit(result, real_stdout, a.out)


if __name__ == "__main__":
    main()
