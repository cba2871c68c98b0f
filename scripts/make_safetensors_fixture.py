#!/usr/bin/env python3
"""Writes the reference safetensors fixture for test/safetensors.test.ts.

Usage: python3 scripts/make_safetensors_fixture.py test/fixtures/safetensors
Needs: torch, safetensors. Writes <dir>/hf_all_dtypes.safetensors (saved by Hugging Face's own
safetensors.torch.save_file) and <dir>/hf_all_dtypes.json, which describes every tensor as
{name: {"dtype": atman dtype name, "shape": [...], "values": nested lists}}. float16/bfloat16 values
are written as the exact float32 values they represent. Everything is deterministic (no RNG).
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file

METADATA = {"format": "pt", "made_by": "scripts/make_safetensors_fixture.py"}


def tensors():
    ramp = torch.arange(12, dtype=torch.float64).reshape(3, 4)
    return {
        # Values with a short binary expansion are exact in every float dtype.
        "f32": (ramp * 0.75 - 3.5).to(torch.float32),
        "f16": (ramp * -0.125 + 1.5).to(torch.float16),
        "bf16": (ramp * 2.5 - 8.0).to(torch.bfloat16),
        "f64": ramp / 3.0,  # not exact in float32: checks that F64 is read as 64-bit
        "i64": torch.tensor([-(2**40), -1, 0, 1, 2**40 + 7], dtype=torch.int64),
        "i32": torch.tensor([[-(2**31), -5], [7, 2**31 - 1]], dtype=torch.int32),
        "bool": torch.tensor([[True, False, True], [False, False, True]]),
        "u8": torch.tensor([0, 1, 127, 128, 255], dtype=torch.uint8),
        "scalar_f32": torch.tensor(2.25, dtype=torch.float32),  # 0-dim
        "empty_i64": torch.zeros((0, 3), dtype=torch.int64),  # no bytes
        "odd_f16": torch.tensor([0.5, -2.0, 65504.0], dtype=torch.float16),  # odd byte count before others
    }


def describe(t):
    values = t.float() if t.dtype in (torch.float16, torch.bfloat16) else t
    return {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape), "values": values.tolist()}


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_safetensors_fixture.py OUTPUT_DIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    ts = tensors()
    save_file(ts, os.path.join(out, "hf_all_dtypes.safetensors"), metadata=METADATA)
    with open(os.path.join(out, "hf_all_dtypes.json"), "w") as f:
        json.dump({name: describe(t) for name, t in ts.items()}, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
