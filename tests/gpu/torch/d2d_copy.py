#!/usr/bin/env python3
"""Device-to-device copy bandwidth on GPU 0, the ceiling the Prism GPU targets refer to.

Tensor.copy_ between two contiguous CUDA tensors of one dtype is a cudaMemcpyAsync
(cudaMemcpyDeviceToDevice) in PyTorch. Each size is copied 3 times untimed, then 20 times,
each timed alone with CUDA events; the median is reported. Bandwidth counts every byte read
and written (2 x size), as prism_reduce_bench and perf/RESULTS.md do.

Prints one line per size:  D2D_GBPS <bytes> <GB/s> <median us>
"""
import argparse
import json
import statistics
import sys

import torch


def measure(nbytes: int, iters: int) -> dict:
    src = torch.empty(nbytes, dtype=torch.uint8, device="cuda")
    src.fill_(0x3C)
    dst = torch.zeros_like(src)
    for _ in range(3):
        dst.copy_(src)
    torch.cuda.synchronize()
    if not torch.equal(dst, src):
        raise RuntimeError(f"copy of {nbytes} bytes is wrong")
    seconds = []
    for _ in range(iters):
        start = torch.cuda.Event(enable_timing=True)
        stop = torch.cuda.Event(enable_timing=True)
        start.record()
        dst.copy_(src)
        stop.record()
        stop.synchronize()
        seconds.append(start.elapsed_time(stop) * 1e-3)
    median = statistics.median(seconds)
    del src, dst
    torch.cuda.empty_cache()
    return {"bytes": nbytes, "median_us": median * 1e6, "gbps": 2.0 * nbytes / median / 1e9,
            "min_us": min(seconds) * 1e6, "max_us": max(seconds) * 1e6, "iters": iters}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1G,256M", help="comma-separated sizes, K/M/G suffix")
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()

    if not torch.cuda.is_available():
        print("D2D copy: FAIL: torch sees no CUDA device", file=sys.stderr)
        return 1
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    sizes = [int(s[:-1]) * units[s[-1].upper()] if s[-1].upper() in units else int(s)
             for s in args.sizes.split(",")]
    print(f"device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, "
          f"CUDA {torch.version.cuda}")
    results = [measure(n, args.iters) for n in sizes]
    for r in results:
        print(f"D2D_GBPS {r['bytes']} {r['gbps']:.1f} {r['median_us']:.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": torch.cuda.get_device_name(0), "results": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
