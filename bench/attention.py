"""PyTorch peers of `atman-native bench attention`: the same shapes, cases, timing and columns, in one process.

    python3 bench/attention.py [ITERS] [OUT.json] [--small] [--warmup N] [--device cuda] [--peers flash,efficient,math,flex]

Peers (method and columns in bench/attention.md):
  torch-sdpa-flash      SDPA, flash backend, no bias at all (is_causal=True): the floor a biased kernel is held to.
  torch-sdpa-efficient  SDPA, memory-efficient backend, the bias materialized as a float mask [B, 1, T, T]
                        (keyBias[b, j] + causal -inf) built from keyBias inside the step, so its gradient reaches keyBias.
  torch-sdpa-math       SDPA, math backend (eager matmul + softmax + matmul), the same materialized mask.
  torch-flex            flex_attention under torch.compile, causal block mask, score_mod adding a captured keyBias[b, kv_idx].

Grouped-query heads (Hq = 24 over Hkv = 8):
  flash and flex get k, v with Hkv heads and enable_gqa=True (both kernels index the kv head of each query head;
  nothing is copied). efficient and math get k, v repeated to Hq heads with repeat_interleave inside the timed step
  (so the copy and, in backward, its sum are counted): whether the efficient backend accepts enable_gqa depends on the
  torch version, and the math backend would do the same repeat_interleave itself.

Each peer and case is run in its own try: a failure (out of memory, "LSE is not correctly aligned", a compile error)
becomes an error cell of the table, and the run goes on.
"""
import argparse
import contextlib
import datetime
import gc
import json
import time

import torch
import torch._dynamo
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

# Llama-3.2-3B attention at 4096 tokens per batch; the same lists as src/bench/attention.ts.
LLAMA_3B_SHAPES = [
    dict(B=8, T=512, Hq=24, Hkv=8, D=128),
    dict(B=4, T=1024, Hq=24, Hkv=8, D=128),
    dict(B=2, T=2048, Hq=24, Hkv=8, D=128),
    dict(B=1, T=4096, Hq=24, Hkv=8, D=128),
]
SMALL_SHAPES = [
    dict(B=2, T=64, Hq=4, Hkv=2, D=64),
    dict(B=1, T=128, Hq=4, Hkv=2, D=64),
]
DTYPE = torch.bfloat16


class Case:
    def __init__(self, grads, bias, qkv_grad, bias_grad, q_grad=False):
        self.grads = grads  # the label in the table's grads column
        self.bias = bias
        self.qkv_grad = qkv_grad
        self.bias_grad = bias_grad
        self.q_grad = q_grad  # q needs a gradient although k and v do not


BIAS_ONLY = Case("keyBias", bias=True, qkv_grad=False, bias_grad=True)  # the AtMan case: frozen model, mask gradient
ALL_GRADS = Case("q,k,v,keyBias", bias=True, qkv_grad=True, bias_grad=True)
NO_BIAS = Case("q,k,v", bias=False, qkv_grad=True, bias_grad=False)
# The memory-efficient backend decides whether to keep its log-sum-exp from q, k, v alone: when only the mask needs a
# gradient its backward can fail with "LSE is not correctly aligned". The usual workaround makes q need a gradient
# (dq is then computed and thrown away); this row measures it next to the plain keyBias row.
BIAS_ONLY_LSE_WORKAROUND = Case("keyBias (+q, LSE workaround)", bias=True, qkv_grad=False, bias_grad=True, q_grad=True)


def attention_flops(s, which):
    """FlashAttention-2's count: forward 4*B*Hq*T^2*D, halved for causal; backward 2.5x the forward."""
    fwd = 4 * s["B"] * s["Hq"] * s["T"] * s["T"] * s["D"] / 2
    return fwd if which == "fwd" else 3.5 * fwd


# ---- inputs -------------------------------------------------------------------------------------------------------


class Inputs:
    def __init__(self, s, case, device):
        torch.manual_seed(0)
        B, T, Hq, Hkv, D = s["B"], s["T"], s["Hq"], s["Hkv"], s["D"]
        self.q = torch.randn(B, Hq, T, D, device=device, dtype=DTYPE, requires_grad=case.qkv_grad or case.q_grad)
        self.k = torch.randn(B, Hkv, T, D, device=device, dtype=DTYPE, requires_grad=case.qkv_grad)
        self.v = torch.randn(B, Hkv, T, D, device=device, dtype=DTYPE, requires_grad=case.qkv_grad)
        self.key_bias = (
            torch.randn(B, T, device=device, dtype=torch.float32, requires_grad=case.bias_grad) if case.bias else None
        )
        # A fixed random output gradient, made once, outside the timed steps (the JS bench does the same).
        self.grad_out = torch.randn(B, Hq, T, D, device=device, dtype=DTYPE)

    def leaves(self):
        return [t for t in (self.q, self.k, self.v, self.key_bias) if t is not None and t.requires_grad]


# ---- peers: build(s, inputs, device) -> a function of no arguments returning the attention output ------------------


def build_flash(s, x, device):
    def step():
        return F.scaled_dot_product_attention(x.q, x.k, x.v, is_causal=True, enable_gqa=True)

    return step


def build_materialized_bias(s, x, device):
    T, group = s["T"], s["Hq"] // s["Hkv"]
    # The causal part is a constant: 0 on and below the diagonal, -inf above (built once, outside the steps).
    causal = torch.full((T, T), float("-inf"), device=device, dtype=torch.float32).triu(1)

    def step():
        # Built from keyBias in every step (keyBias changes at every optimizer step), so the gradient of the mask
        # flows back to keyBias: [T, T] + [B, 1, 1, T] -> [B, 1, T, T], broadcast over heads by SDPA. SDPA takes a
        # float mask in the query's dtype only, hence bf16.
        mask = (causal + x.key_bias[:, None, None, :]).to(DTYPE)
        k = x.k.repeat_interleave(group, dim=1)
        v = x.v.repeat_interleave(group, dim=1)
        return F.scaled_dot_product_attention(x.q, k, v, attn_mask=mask)

    return step


_FLEX = None


def build_flex(s, x, device):
    global _FLEX
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention

    if _FLEX is None:
        # One compiled function for all shapes; each shape and requires_grad pattern compiles once, in the warm-up.
        _FLEX = torch.compile(flex_attention, dynamic=False)

    def causal(b, h, q_idx, kv_idx):
        return q_idx >= kv_idx

    block_mask = create_block_mask(causal, B=None, H=None, Q_LEN=s["T"], KV_LEN=s["T"], device=device)
    key_bias = x.key_bias

    def score_mod(score, b, h, q_idx, kv_idx):
        return score + key_bias[b, kv_idx]

    def step():
        return _FLEX(x.q, x.k, x.v, score_mod=score_mod, block_mask=block_mask, enable_gqa=True)

    return step


class Peer:
    def __init__(self, key, name, build, context, cases):
        self.key = key
        self.name = name
        self.build = build
        self.context = context  # a fresh context manager for each use
        self.cases = cases


PEERS = [
    Peer("flash", "torch-sdpa-flash", build_flash, lambda: sdpa_kernel(SDPBackend.FLASH_ATTENTION), [NO_BIAS]),
    Peer(
        "efficient",
        "torch-sdpa-efficient",
        build_materialized_bias,
        lambda: sdpa_kernel(SDPBackend.EFFICIENT_ATTENTION),
        [BIAS_ONLY, BIAS_ONLY_LSE_WORKAROUND, ALL_GRADS],
    ),
    Peer("math", "torch-sdpa-math", build_materialized_bias, lambda: sdpa_kernel(SDPBackend.MATH), [BIAS_ONLY, ALL_GRADS]),
    Peer("flex", "torch-flex", build_flex, contextlib.nullcontext, [BIAS_ONLY, ALL_GRADS]),
]


# ---- measurement (as src/bench/attention.ts) ------------------------------------------------------------------------


def time_steps(step, prepare, iters, warmup, device):
    """`warmup` untimed steps, then `iters` timed ones, each between two synchronizes; the median in ms."""
    for _ in range(warmup):
        prepare()
        step()
    torch.cuda.synchronize(device)
    samples = []
    for _ in range(iters):
        prepare()
        torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        step()
        torch.cuda.synchronize(device)
        samples.append((time.perf_counter() - t0) * 1e3)
    samples.sort()
    return samples[len(samples) // 2]


def peak_of_step(step, prepare, device):
    """Peak allocated bytes during one step above what was allocated just before it (the inputs), in MiB."""
    prepare()
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    step()
    torch.cuda.synchronize(device)
    return (torch.cuda.max_memory_allocated(device) - before) / 2**20


def message(e):
    lines = str(e).strip().splitlines()
    return f"{type(e).__name__}: {lines[0] if lines else ''}"[:160]


def bench_case(peer, s, case, iters, warmup, device):
    r = dict(
        impl=peer.name,
        device=str(device),
        **s,
        dtype="bfloat16",
        causal=True,
        bias=case.bias,
        grads=case.grads,
        fwdMs=None,
        fwdBwdMs=None,
        fwdTflops=None,
        fwdBwdTflops=None,
        fwdPeakMiB=None,
        fwdBwdPeakMiB=None,
    )
    errors = []
    state = {}  # everything that holds GPU memory, dropped in `finally`
    try:
        x = state["x"] = Inputs(s, case, device)
        fn = state["fn"] = peer.build(s, x, device)
        leaves = x.leaves()

        def prepare():
            # Gradients are dropped before each step, so that none is accumulated into an existing .grad.
            for t in leaves:
                t.grad = None

        def fwd():
            fn()  # the output and its graph are freed when the call returns

        def fwd_bwd():
            fn().backward(x.grad_out)

        with peer.context():
            try:
                r["fwdMs"] = time_steps(fwd, prepare, iters, warmup, device)
                r["fwdTflops"] = attention_flops(s, "fwd") / (r["fwdMs"] * 1e-3) / 1e12
                r["fwdPeakMiB"] = peak_of_step(fwd, prepare, device)
            except Exception as e:  # noqa: BLE001 - any failure is a table cell
                errors.append(f"fwd: {message(e)}")
            try:
                r["fwdBwdMs"] = time_steps(fwd_bwd, prepare, iters, warmup, device)
                r["fwdBwdTflops"] = attention_flops(s, "fwdBwd") / (r["fwdBwdMs"] * 1e-3) / 1e12
                r["fwdBwdPeakMiB"] = peak_of_step(fwd_bwd, prepare, device)
                # The step must have produced every gradient it is timed for.
                missing = [t for t in leaves if t.grad is None]
                if missing:
                    errors.append(f"fwd+bwd: {len(missing)} of the inputs needing a gradient got none")
            except Exception as e:  # noqa: BLE001
                errors.append(f"fwd+bwd: {message(e)}")
        prepare()
    except Exception as e:  # noqa: BLE001 - inputs or the peer's setup failed
        errors.append(message(e))
    finally:
        state.clear()
        x = fn = leaves = None
        gc.collect()
        try:
            torch.cuda.synchronize(device)
            torch.cuda.empty_cache()
        except Exception as e:  # noqa: BLE001 - a sticky CUDA error: report it, the next cases will fail too
            errors.append(f"after the case: {message(e)}")
    if errors:
        r["error"] = "; ".join(errors)
    return r


# ---- output ---------------------------------------------------------------------------------------------------------


def fmt(x, digits):
    return "—" if x is None else f"{x:.{digits}f}"


def fmt_rate(x):
    return "—" if x is None else (f"{x:.1f}" if x >= 1 else f"{x:.3g}")


def table(results):
    lines = [
        "| impl | B | T | bias | grads | fwd ms | fwd TFLOP/s | fwd+bwd ms | fwd+bwd TFLOP/s | fwd peak MiB | fwd+bwd peak MiB | error |",
        "| --- | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r['impl']} | {r['B']} | {r['T']} | {'yes' if r['bias'] else 'no'} | {r['grads']} | "
            f"{fmt(r['fwdMs'], 3)} | {fmt_rate(r['fwdTflops'])} | {fmt(r['fwdBwdMs'], 3)} | {fmt_rate(r['fwdBwdTflops'])} | "
            f"{fmt(r['fwdPeakMiB'], 1)} | {fmt(r['fwdBwdPeakMiB'], 1)} | {r.get('error', '').replace('|', '/')} |"
        )
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("iters", nargs="?", type=int, default=20, help="timed steps per case, median reported (default 20)")
    p.add_argument("json", nargs="?", default=None, help="also write the results as JSON to this file")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps first (flex compiles in the first; default 5)")
    p.add_argument("--small", action="store_true", help="tiny shapes (Hq 4, Hkv 2, D 64, T 64 and 128): a smoke run")
    p.add_argument("--device", default="cuda", help="a CUDA device (default cuda)")
    p.add_argument("--peers", default="flash,efficient,math,flex", help="comma-separated subset of the peers")
    args = p.parse_args()
    if args.iters < 1:
        p.error("iters must be at least 1")
    if not torch.cuda.is_available():
        raise SystemExit("bench/attention.py needs a CUDA device (its peers are CUDA kernels)")
    wanted = [k.strip() for k in args.peers.split(",") if k.strip()]
    unknown = [k for k in wanted if k not in {peer.key for peer in PEERS}]
    if unknown:
        p.error(f"unknown peers {unknown}: use {', '.join(peer.key for peer in PEERS)}")
    peers = [peer for peer in PEERS if peer.key in wanted]
    device = torch.device(args.device)
    if device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())

    # Every (shape, requires_grad pattern) of flex is one more compile; the default limit (8) could be reached.
    for name in ("recompile_limit", "cache_size_limit"):
        if hasattr(torch._dynamo.config, name):
            setattr(torch._dynamo.config, name, 64)

    math_reduced = getattr(torch.backends.cuda, "fp16_bf16_reduction_math_sdp_allowed", None)
    meta = dict(
        bench="attention",
        device=str(device),
        deviceName=torch.cuda.get_device_name(device),
        capability=".".join(map(str, torch.cuda.get_device_capability(device))),
        torchVersion=torch.__version__,
        cudaVersion=torch.version.cuda,
        # False: the math backend computes bf16 attention in float32 (as the atman-native reference does).
        mathSdpBf16Reduction=math_reduced() if callable(math_reduced) else None,
        iters=args.iters,
        warmup=args.warmup,
        gqa=dict(flash="enable_gqa", efficient="repeat_interleave", math="repeat_interleave", flex="enable_gqa"),
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(),
    )
    print(
        f"PyTorch attention peers, {meta['deviceName']} (sm {meta['capability']}), torch {meta['torchVersion']} "
        f"(CUDA {meta['cudaVersion']}); causal, bf16 q/k/v, float32 keyBias [B, T]; median of {args.iters} steps after "
        f"{args.warmup} warm-up\n",
        flush=True,
    )
    results = []
    for s in SMALL_SHAPES if args.small else LLAMA_3B_SHAPES:
        for peer in peers:
            for case in peer.cases:
                results.append(bench_case(peer, s, case, args.iters, args.warmup, device))
    print(table(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(meta=meta, results=results), f, indent=2)


if __name__ == "__main__":
    main()
