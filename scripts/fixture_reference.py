"""What the parity fixtures hold, computed by transformers: shared by scripts/make_llama_fixture.py and
scripts/make_family_fixtures.py (one model family each; see their docstrings for the layout of expected.json)."""
import json
import os

import torch
import transformers

B, T, NEW = 3, 10, 16


def init_weights(model, seed):
    """Larger values than transformers' default init (std 0.02 gives almost flat logits): norm weights 1 + N(0, 0.01),
    embeddings std 0.5, every other weight and bias std 0.1."""
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


def greedy_reference(model, name, prompt):
    """Greedy continuation of one prompt by argmax of full forwards (no cache) and by model.generate (KV cache, no eos);
    generate's tokens when both agree in length, else the forward argmax. Margins: top-1 minus top-2 logit per step."""
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
            print(f"warning: {name}: model.generate failed ({type(e).__name__}: {e}); using forward argmax")
            by_generate = None
    if by_generate is not None and by_generate != by_forward:
        print(f"warning: {name}: generate {by_generate} != forward argmax {by_forward} (near tie?)")
    tokens = by_generate if by_generate is not None and len(by_generate) == NEW else by_forward
    return {"prompt": prompt[0].tolist(), "tokens": tokens, "margins": r(margins),
            "source": "generate" if tokens is by_generate else "forward argmax"}


def write_fixture(Model, config, d, name, seed, disk_dtype, vocab, meta):
    """Random-init `Model(config)`, saved to `d` in `disk_dtype`, and expected.json beside it: input_ids, logits and
    log-probs of a [B, T] batch and greedy continuations, computed in fp32 from the model as transformers reloads it
    (exactly the stored values, and buffers rebuilt at load, e.g. RoPE's inv_freq in fp32)."""
    torch.manual_seed(seed)
    try:
        model = Model._from_config(config, attn_implementation="eager")
    except TypeError:
        config._attn_implementation = "eager"
        model = Model(config)
    init_weights(model, seed)
    model = model.to(disk_dtype)
    os.makedirs(d, exist_ok=True)
    model.save_pretrained(d)
    model = Model.from_pretrained(d, attn_implementation="eager").float().eval()
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = 0
    model.generation_config.do_sample = False

    g = torch.Generator().manual_seed(seed + 1)
    ids = torch.randint(3, vocab, (B, T), generator=g)
    with torch.no_grad():
        logits = model(input_ids=ids).logits.float()
        lp = torch.log_softmax(logits, -1)
        logprobs = torch.zeros(B, T)
        logprobs[:, 1:] = lp[:, :-1].gather(-1, ids[:, 1:, None]).squeeze(-1)
    greedy = [greedy_reference(model, f"{name} prompt {b}", ids[b : b + 1, : T - 2 - b]) for b in range(B)]

    expected = {
        "meta": {"transformers": transformers.__version__, "torch": torch.__version__, "name": name, **meta,
                 "disk_dtype": str(disk_dtype).replace("torch.", "")},
        "input_ids": ids.tolist(),
        "logits": r(logits.tolist()),
        "logprobs": r(logprobs.tolist()),
        "greedy": greedy,
    }
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump(expected, f, separators=(",", ":"))
    size = sum(os.path.getsize(os.path.join(d, x)) for x in os.listdir(d))
    print(f"fixture {name}: {d} ({size / 1e6:.2f} MB), files {sorted(os.listdir(d))}")
