#!/usr/bin/env python3
"""Writes a random-weight model in Hugging Face format for benchmarks: python3 scripts/make_random_model.py CONFIG_JSON OUT_DIR

Any model_type transformers knows (bench/configs/ holds Qwen2.5-3B- and Qwen3-4B-shaped configs); transformers' own
init (seed 0), saved in bf16 as safetensors. Needs torch and transformers; a CUDA device makes it fast but is optional.
"""
import os
import sys
import time

import torch
from transformers import AutoConfig, AutoModelForCausalLM


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    config_path, out = sys.argv[1], sys.argv[2]
    t0 = time.time()
    config = AutoConfig.from_pretrained(config_path)
    torch.manual_seed(0)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = AutoModelForCausalLM.from_config(config)
    # Parameters only: model.to(bf16) would also round the float32 rotary inv_freq buffer.
    for p in model.parameters():
        p.data = p.data.to(torch.bfloat16)
    model.save_pretrained(out)
    n = sum(p.numel() for p in model.parameters())
    print(f"{config.model_type}: {n / 1e9:.2f}B params -> {out} ({time.time() - t0:.0f}s)")


if __name__ == "__main__":
    main()
