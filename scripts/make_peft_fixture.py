#!/usr/bin/env python3
"""LoRA parity with PEFT, both ways (test/gpu/lora_parity.test.ts is the other side).

Usage:
  python3 scripts/make_peft_fixture.py OUTDIR
      Writes OUTDIR/lora/: base/ (a small random LlamaForCausalLM, config.json + model.safetensors, weights larger than
      transformers' default init as scripts/make_llama_fixture.py makes them) and one directory per adapter in ADAPTERS
      (adapter_config.json + adapter_model.safetensors from peft's save_pretrained, A and B both random and non-zero)
      with expected.json:
        meta:          versions, the LoraConfig
        input_ids:     [B][T] random token ids
        logits:        [B][T][vocab] fp32 logits of the PeftModel (adapter on), eager attention, rounded to 1e-6
        base_logits:   the same with the adapter disabled (model.disable_adapter())
        merged_logits: the same after merge_and_unload()
        greedy:        per prompt, 12 greedy tokens of the adapted model (argmax of full forwards)
  python3 scripts/make_peft_fixture.py --check-ours DIR
      Loads an adapter written by atman-native (DIR/adapter, with DIR/expected.json giving the base model directory,
      input_ids and atman-native's logits) with PeftModel.from_pretrained onto that base and compares the logits.
      Prints the largest difference; exits 1 when it exceeds 1e-4 or PEFT cannot load the adapter.
Needs: torch, transformers (4.x or 5.x), peft 0.x, safetensors. No GPU, no network (runs on the CPU, fp32).
scripts/gpu-check.sh runs both modes; copy fixtures/lora/ from its fixtures.tgz to test/fixtures/lora/ to commit it.
"""
import json
import os
import sys

import torch
import transformers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_reference import init_weights, r  # noqa: E402
from make_llama_fixture import VOCAB, make_config  # noqa: E402

import peft  # noqa: E402
from peft import LoraConfig, PeftModel, get_peft_model  # noqa: E402
from transformers import LlamaForCausalLM  # noqa: E402

B, T, NEW, SEED = 3, 10, 12, 4242
ALL = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
# name: (r, lora_alpha, target_modules)
ADAPTERS = {
    "all_r4": (4, 8, ALL),
    "qv_r8_alpha4": (8, 4, ["q_proj", "v_proj"]),
    "mlp_r2": (2, 16, ["gate_proj", "up_proj", "down_proj"]),
}
TOL = 1e-4


def load_base(d):
    return LlamaForCausalLM.from_pretrained(d, attn_implementation="eager").float().eval()


def logits_of(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits.float()


def greedy_of(model, prompt, n):
    seq = prompt.clone()
    with torch.no_grad():
        for _ in range(n):
            seq = torch.cat([seq, model(input_ids=seq).logits[0, -1].argmax().view(1, 1)], 1)
    return seq[0, prompt.shape[1]:].tolist()


def make(outdir):
    root = os.path.join(outdir, "lora")
    base_dir = os.path.join(root, "base")
    os.makedirs(base_dir, exist_ok=True)
    torch.manual_seed(SEED)
    config = make_config(4, 2, False, None, 10000.0)
    try:
        model = LlamaForCausalLM._from_config(config, attn_implementation="eager")
    except TypeError:
        config._attn_implementation = "eager"
        model = LlamaForCausalLM(config)
    init_weights(model, SEED)
    model.save_pretrained(base_dir)
    g = torch.Generator().manual_seed(SEED + 1)
    ids = torch.randint(3, VOCAB, (B, T), generator=g)
    for i, (name, (rank, alpha, targets)) in enumerate(ADAPTERS.items()):
        base = load_base(base_dir)
        cfg = LoraConfig(r=rank, lora_alpha=alpha, target_modules=targets, lora_dropout=0.0, bias="none", task_type="CAUSAL_LM")
        pm = get_peft_model(base, cfg)
        ga = torch.Generator().manual_seed(SEED + 10 + i)
        with torch.no_grad():
            for pname, p in pm.named_parameters():
                if "lora_A" in pname or "lora_B" in pname:
                    p.copy_(0.1 * torch.randn(p.shape, generator=ga))
        pm.eval()
        d = os.path.join(root, name)
        pm.save_pretrained(d)
        # The reference is the adapter as peft reloads it from disk.
        pm = PeftModel.from_pretrained(load_base(base_dir), d).eval()
        logits = logits_of(pm, ids)
        with pm.disable_adapter():
            base_logits = logits_of(pm, ids)
        greedy = [{"prompt": ids[b, : T - 2 - b].tolist(), "tokens": greedy_of(pm, ids[b : b + 1, : T - 2 - b], NEW)} for b in range(B)]
        merged = pm.merge_and_unload()
        merged_logits = logits_of(merged, ids)
        expected = {
            "meta": {"transformers": transformers.__version__, "torch": torch.__version__, "peft": peft.__version__,
                     "name": name, "r": rank, "lora_alpha": alpha, "target_modules": targets},
            "input_ids": ids.tolist(),
            "logits": r(logits.tolist()),
            "base_logits": r(base_logits.tolist()),
            "merged_logits": r(merged_logits.tolist()),
            "greedy": greedy,
        }
        with open(os.path.join(d, "expected.json"), "w") as f:
            json.dump(expected, f, separators=(",", ":"))
        print(f"lora fixture {name}: {d}, files {sorted(os.listdir(d))}, "
              f"adapter effect {float((logits - base_logits).abs().max()):.3f}")


def check_ours(d):
    with open(os.path.join(d, "expected.json")) as f:
        ours = json.load(f)
    try:
        pm = PeftModel.from_pretrained(load_base(ours["base"]), os.path.join(d, "adapter")).eval()
    except Exception as e:
        print(f"PEFT could not load the adapter atman-native wrote in {d}/adapter: {type(e).__name__}: {e}")
        sys.exit(1)
    ids = torch.tensor(ours["input_ids"])
    diff = float((logits_of(pm, ids) - torch.tensor(ours["logits"])).abs().max())
    with pm.disable_adapter():
        effect = float((logits_of(pm, ids) - torch.tensor(ours["logits"])).abs().max())
    ok = diff <= TOL and effect > 10 * TOL
    print(f"PEFT {peft.__version__} loads atman-native's adapter ({d}/adapter): max |logit difference| {diff:.2e} "
          f"(tolerance {TOL}); the adapter's effect {effect:.3f}: {'OK' if ok else 'MISMATCH'}")
    sys.exit(0 if ok else 1)


def main():
    torch.set_num_threads(min(8, torch.get_num_threads()))
    if len(sys.argv) == 3 and sys.argv[1] == "--check-ours":
        check_ours(sys.argv[2])
    elif len(sys.argv) == 2 and not sys.argv[1].startswith("-"):
        make(sys.argv[1])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
