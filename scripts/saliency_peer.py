#!/usr/bin/env python3
"""PyTorch + transformers peer of the "AtMan saliency" benchmark (GPU host). Prints ONE JSON object on stdout.

  python3 scripts/saliency_peer.py [--batch 8] [--seq 512] [--steps 30] [--completions 64] [--attn auto|sdpa|eager]
                                   [--config CONFIG.json | --model DIR] [--out FILE]

Synthetic batch (the TS side builds the same layout): rows of --seq random ids in [0, 128000), CoT span
[seq/4, seq-16), answer span [seq-16, seq), no padding. Measurements (bench/peers-README.md says what each means):
  mask_step:          one mask-optimization step (4D float mask with b = log sigmoid(theta), loss, backward to theta,
                      Adam), model frozen. 2 warm-ups, median of 5.
  train_step:         one full training forward+backward (all weights require grad, mean token NLL over all
                      positions, no mask bias, no optimizer step). 2 warm-ups, median of 5.
  full_optimization:  --completions rows in batches of --batch: K = --steps mask steps per batch, then the three
                      evaluation forwards (full, crucial suppressed, all CoT suppressed). One timed run.
Peak memory (torch.cuda.max_memory_allocated, reset before each measurement's timed part) includes the weights.
A failed measurement is reported ("oom": true for an OOM, "error": its first line) and the script goes on.
"""
import argparse
import time

import torch

import peer_common as pc


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--steps", type=int, default=30, help="K, mask steps per completion")
    ap.add_argument("--completions", type=int, default=64)
    pc.add_model_args(ap)
    a = ap.parse_args()
    if a.seq < 4 * (pc.ANSWER_LEN + 1) or a.batch < 1 or a.steps < 1 or a.completions < 1:
        ap.error("need --seq >= 68 (CoT [seq/4, seq-16) must be non-empty), --batch, --steps, --completions >= 1")
    return a


def mask_step_case(model, ids, cot_start):
    theta, opt = pc.new_theta(ids.shape[0], ids.shape[1] - pc.ANSWER_LEN - cot_start)
    res = pc.timed(lambda: pc.mask_step(model, ids, theta, opt, cot_start))
    del theta, opt
    pc.free_memory()
    return res


def train_step_case(model, ids):
    model.requires_grad_(True)

    def step():
        lp = pc.token_logprobs(model, ids, 1)   # every next-token position, full 128k-vocab logits
        (-lp).mean().backward()
        model.zero_grad(set_to_none=True)

    try:
        return pc.timed(step)
    finally:
        model.requires_grad_(False)
        model.zero_grad(set_to_none=True)
        pc.free_memory()


def full_optimization_case(model, all_ids, batch, cot_start, steps):
    parts = []
    try:
        pc.sync()
        pc.reset_peak()
        t0 = time.perf_counter()
        for i in range(0, all_ids.shape[0], batch):
            parts.append(pc.optimize_masks(model, all_ids[i:i + batch], cot_start, steps))
            pc.log(f"full optimization: {min(i + batch, all_ids.shape[0])}/{all_ids.shape[0]} completions")
        pc.sync()
        res = {"s": round(time.perf_counter() - t0, 3), "peak_gib": pc.peak_gib(),
               "oom": False, "stats": pc.summarize_rows(pc.merge_rows(parts))}
    except Exception as e:  # noqa: BLE001
        res = pc.failure(e)
    pc.free_memory()
    return res


def main():
    a = parse_args()
    real_stdout = pc.claim_stdout()
    cot_start = a.seq // 4
    ids = pc.random_ids(a.batch, a.seq, pc.SEED + 1)
    build = lambda attn: pc.build_model(attn, a.config, a.model)  # noqa: E731
    probe = lambda m: pc.mask_step(m, ids, *pc.new_theta(a.batch, a.seq - pc.ANSWER_LEN - cot_start), cot_start)  # noqa: E731
    model, attn, sdpa_error = pc.probe_attn(a.attn, build, probe)
    pc.free_memory()
    weights_gib = pc.allocated_gib()

    pc.log("mask_step ...")
    mask = mask_step_case(model, ids, cot_start)
    pc.log(f"mask_step: {mask}")
    pc.log("train_step ...")
    train = train_step_case(model, ids)
    pc.log(f"train_step: {train}")
    pc.log("full_optimization ...")
    all_ids = pc.random_ids(a.completions, a.seq, pc.SEED + 2)
    full = full_optimization_case(model, all_ids, a.batch, cot_start, a.steps)
    pc.log(f"full_optimization: {full}")

    result = dict(pc.meta(attn), sdpa_error=sdpa_error, weights_gib=weights_gib,
                  batch=a.batch, seq=a.seq, steps=a.steps, completions=a.completions,
                  cot=[cot_start, a.seq - pc.ANSWER_LEN], answer=[a.seq - pc.ANSWER_LEN, a.seq],
                  theta_init=pc.THETA_INIT, lr=pc.MASK_LR, lam=pc.MASK_LAMBDA, suppress_s=pc.SUPPRESS_S,
                  mask_step_ms=mask.get("ms"), mask_step_peak_gib=mask.get("peak_gib"), mask_step=mask,
                  train_step_ms=train.get("ms"), train_step_peak_gib=train.get("peak_gib"), train_step=train,
                  full_optimization_s=full.get("s"), full_optimization_peak_gib=full.get("peak_gib"),
                  full_optimization=full)
    pc.emit(result, real_stdout, a.out)


if __name__ == "__main__":
    main()
