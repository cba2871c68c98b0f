"""PyTorch peer of `atman-native bench overhead`: the same cases, timed the same way (median of 5 runs)."""
import json
import sys
import time

import torch


def time_calls(fn, iters, device, repeats=5):
    for _ in range(min(iters, 2000)):
        fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        for _ in range(iters):
            fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        runs.append((time.perf_counter_ns() - t0) / 1e3 / iters)
    runs.sort()
    return runs[len(runs) // 2]


def main():
    device = sys.argv[1] if len(sys.argv) > 1 else "cpu"
    iters = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    out = sys.argv[3] if len(sys.argv) > 3 else None
    results = []
    for n in (1, 1024):
        shape = (1,) if n == 1 else (1024, 1024)
        a = torch.randn(shape, device=device)
        b = torch.randn(shape, device=device)
        k = iters if n == 1 else max(200, iters // 10)
        label = "add 1 element" if n == 1 else "add 1024x1024"

        def op():
            c = a + b  # freed by refcounting at the end of the call
            del c

        results.append({"case": f"{label}, python torch", "device": device, "usPerCall": time_calls(op, k, device)})
    print("| case | device | µs per call |")
    print("| --- | --- | ---: |")
    for r in results:
        print(f"| {r['case']} | {r['device']} | {r['usPerCall']:.2f} |")
    if out:
        with open(out, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
