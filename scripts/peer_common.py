"""Shared parts of the PyTorch + transformers peers (scripts/saliency_peer.py, scripts/grpo_peer.py).

Model: LlamaForCausalLM with the Llama-3.2-3B-Instruct config, random weights from transformers' own init under
torch.manual_seed(SEED) (as scripts/llama3b_parity.py), or loaded from a saved directory (--model DIR). Parameters
are bf16; buffers (the rotary inv_freq) stay float32, as from_pretrained leaves them.

AtMan mask optimization, exactly what the TS side mirrors (bench/peers-README.md lists every constant):
  theta [B, nCot] float32 = THETA_INIT, s = sigmoid(theta), b = log s (logsigmoid, float32, cast to bf16);
  attention mask [B, 1, T, T] bf16 = 0 on and below the diagonal, finfo(bf16).min above, plus b on the CoT key
  columns [cotStart, cotEnd) of every query row >= cotStart (causal positions only);
  loss = sum over the batch of ( -sum_answer log p(token) + LAMBDA * mean(s) ), Adam(lr 0.1) on theta, K steps;
  evaluation: log p(answer) with no bias, with the crucial tokens (s > 0.5) suppressed, with all CoT suppressed;
  suppressed = bias log(SUPPRESS_S) = log(1e-4) ~ -9.21 (multiplies that key's attention weight by 1e-4).
"""
import gc
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F
import transformers
from transformers import LlamaConfig, LlamaForCausalLM

SEED = 1234
VOCAB_IDS = 128000          # random token ids are drawn from [0, VOCAB_IDS): below Llama 3's special tokens
ANSWER_LEN = 16             # the last 16 tokens of a row are the answer
THETA_INIT = 5.0            # s = sigmoid(5) = 0.9933, b = -0.0067: the mask starts (almost) open
MASK_LR, MASK_LAMBDA = 0.1, 1.0
SUPPRESS_S = 1e-4           # a suppressed key's s in the evaluation forwards (bias log 1e-4)
CRUCIAL = 0.5               # crucial CoT tokens: final s > 0.5
DEFAULT_CONFIG = ".gpu/shared/models/llama-3.2-3b-instruct/config.json"
# The benchmarks run on CUDA; PEER_DEVICE=cpu exists only for a smoke test of the code with a tiny config.
DEVICE = os.environ.get("PEER_DEVICE", "cuda")
ON_CUDA = DEVICE == "cuda"


def add_model_args(ap):
    """The options both peers share: attention implementation, model (random from a config, or saved), output."""
    ap.add_argument("--attn", choices=["auto", "sdpa", "eager"], default="auto",
                    help="auto: sdpa, and eager if sdpa fails (the sdpa error is reported)")
    ap.add_argument("--config", default=DEFAULT_CONFIG, help="model config.json (random weights)")
    ap.add_argument("--model", default=None, help="a saved model directory instead of random weights")
    ap.add_argument("--out", default=None, help="also write the JSON here")


def sync():
    if ON_CUDA:
        torch.cuda.synchronize()


def reset_peak():
    if ON_CUDA:
        torch.cuda.reset_peak_memory_stats()


def peak_gib():
    return gib(torch.cuda.max_memory_allocated()) if ON_CUDA else None


def allocated_gib():
    return gib(torch.cuda.memory_allocated()) if ON_CUDA else None


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def claim_stdout():
    """Route everything printed from now on to stderr; return the real stdout for the one JSON object."""
    real = sys.stdout
    sys.stdout = sys.stderr
    return real


def emit(result, real_stdout, out_path):
    text = json.dumps(result, indent=1)
    if out_path:
        with open(out_path, "w") as f:
            f.write(text + "\n")
    real_stdout.write(text + "\n")
    real_stdout.flush()


def first_line(e):
    s = str(e).strip()
    return f"{type(e).__name__}: {s.splitlines()[0][:300] if s else ''}"


def is_oom(e):
    return isinstance(e, getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)) or "out of memory" in str(e).lower()


def free_memory():
    gc.collect()
    if ON_CUDA:
        torch.cuda.empty_cache()


def gib(n_bytes):
    return round(n_bytes / 2**30, 3)


def meta(attn):
    return {"device": torch.cuda.get_device_name() if ON_CUDA else DEVICE, "torch": torch.__version__,
            "transformers": transformers.__version__, "attn": attn, "dtype": "bfloat16", "seed": SEED}


def build_model(attn, config_path=DEFAULT_CONFIG, model_dir=None):
    """The frozen bf16 model on CUDA, eval mode, generation without eos (every row runs to max_new_tokens)."""
    t0 = time.time()
    if model_dir:
        try:
            model = LlamaForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16, attn_implementation=attn)
        except TypeError:  # older transformers spell it torch_dtype
            model = LlamaForCausalLM.from_pretrained(model_dir, torch_dtype=torch.bfloat16, attn_implementation=attn)
        model = model.to(DEVICE)
    else:
        config = LlamaConfig.from_pretrained(os.path.dirname(os.path.abspath(config_path)))
        torch.manual_seed(SEED)
        with torch.device(DEVICE):
            try:
                model = LlamaForCausalLM._from_config(config, attn_implementation=attn)
            except TypeError:
                config._attn_implementation = attn
                model = LlamaForCausalLM(config)
        # Parameters only: model.to(bf16) would also round the float32 rotary inv_freq buffer.
        for p in model.parameters():
            p.data = p.data.to(torch.bfloat16)
    model.eval().requires_grad_(False)
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = 0
    free_memory()
    n = sum(p.numel() for p in model.parameters())
    log(f"model: {n / 1e9:.2f}B params, attn {attn}, {time.time() - t0:.0f}s")
    return model


def random_ids(rows, cols, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, VOCAB_IDS, (rows, cols), generator=g).to(DEVICE)


def token_logprobs(model, ids, start, mask=None):
    """log p(ids[:, t]) for t in [start, T), float32 [B, T - start]. Logits only for the needed positions."""
    hidden = model.model(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
    logits = model.lm_head(hidden[:, start - 1:-1]).float()
    return logits.log_softmax(-1).gather(-1, ids[:, start:, None]).squeeze(-1)


def cot_mask(bias, seq_len, cot_start, dtype=torch.bfloat16):
    """[B, 1, T, T] additive mask: causal (finfo(dtype).min above the diagonal) + bias[B, nCot] on the CoT key
    columns [cot_start, cot_start + nCot) of the query rows >= cot_start."""
    dev = bias.device
    n_cot = bias.shape[1]
    causal = torch.ones(seq_len, seq_len, dtype=torch.bool, device=dev).tril()
    rows = torch.arange(seq_len, device=dev) >= cot_start
    cols = F.pad(bias.float(), (cot_start, seq_len - cot_start - n_cot))            # [B, T], 0 off the CoT
    full = cols[:, None, :] * (causal & rows[:, None])                             # [B, T, T]
    return full.masked_fill(~causal, torch.finfo(dtype).min).to(dtype)[:, None]


def mask_step(model, ids, theta, opt, cot_start):
    """One mask-optimization step on theta [B, nCot]: forward with b = log sigmoid(theta), backward, Adam."""
    mask = cot_mask(F.logsigmoid(theta), ids.shape[1], cot_start)
    answer_lp = token_logprobs(model, ids, ids.shape[1] - ANSWER_LEN, mask).sum(-1)
    loss = (-answer_lp + MASK_LAMBDA * torch.sigmoid(theta).mean(-1)).sum()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.detach()


def new_theta(rows, n_cot):
    theta = torch.full((rows, n_cot), THETA_INIT, device=DEVICE, dtype=torch.float32, requires_grad=True)
    return theta, torch.optim.Adam([theta], lr=MASK_LR)


def optimize_masks(model, ids, cot_start, steps):
    """K mask steps on one batch, then the three evaluation forwards. Returns per-row float lists."""
    T = ids.shape[1]
    theta, opt = new_theta(ids.shape[0], T - ANSWER_LEN - cot_start)
    for _ in range(steps):
        mask_step(model, ids, theta, opt, cot_start)
    a0 = T - ANSWER_LEN
    suppressed = math.log(SUPPRESS_S)
    with torch.no_grad():
        s = torch.sigmoid(theta)
        crucial = s > CRUCIAL
        full = token_logprobs(model, ids, a0).sum(-1)   # no bias: plain causal attention
        sup_c = token_logprobs(model, ids, a0, cot_mask(crucial.float() * suppressed, T, cot_start)).sum(-1)
        sup_all = token_logprobs(model, ids, a0, cot_mask(torch.full_like(s, suppressed), T, cot_start)).sum(-1)
    return {"mean_s": s.mean(-1).tolist(), "frac_crucial": crucial.float().mean(-1).tolist(),
            "logp_full": full.tolist(), "logp_suppress_crucial": sup_c.tolist(), "logp_suppress_all": sup_all.tolist()}


def merge_rows(parts):
    out = {}
    for p in parts:
        for k, v in p.items():
            out.setdefault(k, []).extend(v)
    return out


def summarize_rows(rows):
    """Means of the per-completion numbers (a sanity check that both sides optimize alike, not a timing)."""
    return {k: (round(statistics.fmean(v), 4) if v and all(math.isfinite(x) for x in v) else None)
            for k, v in rows.items()}


def probe_attn(requested, build, probe):
    """--attn auto: build with sdpa and run probe(model) once; on an error other than OOM, rebuild with eager.
    Returns (model, attn used, sdpa error text or None)."""
    if requested != "auto":
        return build(requested), requested, None
    model = build("sdpa")
    try:
        probe(model)
        return model, "sdpa", None
    except Exception as e:  # noqa: BLE001 - any sdpa failure means: measure eager instead
        if is_oom(e):
            return model, "sdpa", None
        err = first_line(e)
    log(f"sdpa failed ({err}); falling back to eager")
    del model
    free_memory()
    return build("eager"), "eager", err


def timed(fn, warmup=2, iters=5):
    """Median wall ms of fn (torch.cuda.synchronize around each run) and peak allocated GiB over the timed runs.
    A failure becomes {"oom": bool, "error": text} (see failure())."""
    try:
        for _ in range(warmup):
            fn()
        sync()
        reset_peak()
        samples = []
        for _ in range(iters):
            sync()
            t0 = time.perf_counter()
            fn()
            sync()
            samples.append((time.perf_counter() - t0) * 1000)
        return {"ms": round(statistics.median(samples), 3), "samples_ms": [round(x, 3) for x in samples],
                "peak_gib": peak_gib(), "oom": False}
    except Exception as e:  # noqa: BLE001 - a failed measurement is a result, not a crash
        res = failure(e)
    free_memory()
    return res


def failure(e):
    log(f"failed: {first_line(e)}")
    return {"oom": is_oom(e), "error": first_line(e)}
