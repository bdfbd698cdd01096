"""Speed of the parallel-scan cells (MinGRU, MinLSTM) against torch.nn.GRU and against step mode.

Prints, in one run, forward+backward times (median of repeats, float32, I = H) at
(B, T, H) = (16, 512, 256), (16, 4096, 256), (1, 65536, 256): torch.nn.GRU of the same
width (oneDNN/ATen on CPU, cuDNN on GPU), and rnnkit.MinGRU / MinLSTM with each scan
form (``step``: T sequential steps; ``chunked``; ``log``; ``fused``, the compiled loop, on CPU;
``triton`` on GPU), with the
ratio of each to torch.nn.GRU and to step mode. Runs unchanged on a GPU (``--device cuda``).

    python benchmarks/speed_scan.py                  # CPU, all three sizes (~3 minutes on 2 cores)
    python benchmarks/speed_scan.py --device cuda    # the same against cuDNN
    python benchmarks/speed_scan.py --quick          # the first size only
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time

import torch

import rnnkit

SIZES = [(16, 512, 256), (16, 4096, 256), (1, 65536, 256)]


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def timeit(fn, device: str, budget: float = 2.0, max_repeats: int = 9, min_repeats: int = 3) -> float:
    """Median seconds of ``fn()`` after one warm-up, repeated within about ``budget`` seconds."""
    fn()
    sync(device)
    times = []
    start = time.perf_counter()
    while len(times) < min_repeats or (time.perf_counter() - start < budget and len(times) < max_repeats):
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def fwdbwd(module, x, device):
    def once():
        out = module(x)[0]
        out.sum().backward()
        module.zero_grad(set_to_none=True)
    # torch.nn.GRU at T = 65,536 on a CPU takes seconds per call: fewer repeats there
    long = x.shape[0] * x.shape[1] >= 65536 and device == "cpu"
    return timeit(once, device, budget=1.0 if long else 2.0, min_repeats=1 if long else 3)


def modes(device: str) -> list[str]:
    out = ["step", "chunked", "log"]
    if device == "cpu":
        out.append("fused")
    if device == "cuda":
        from rnnkit.kernels.triton import missing
        if missing() is None:
            out.append("triton")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--quick", action="store_true", help="the first size only")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device
    name = torch.cuda.get_device_name() if device == "cuda" else platform.processor() or platform.machine()
    print(f"rnnkit {rnnkit.__version__}, torch {torch.__version__}, python {platform.python_version()}, "
          f"{name}, {torch.get_num_threads()} threads, {time.strftime('%Y-%m-%d')}")
    print("forward+backward, float32, I = H; (xG / xS) = ratio to torch.nn.GRU / to the same layer in step "
          "mode, lower is faster")
    for B, T, H in SIZES[:1] if args.quick else SIZES:
        torch.manual_seed(0)
        x = torch.randn(T, B, H, device=device)
        gru = torch.nn.GRU(H, H).to(device)
        base = fwdbwd(gru, x, device)
        label = "cuDNN" if device == "cuda" else "torch.nn"
        print(f"({B}, {T}, {H})  GRU {label} {base * 1e3:9.2f} ms")
        for layer in (rnnkit.MinGRU, rnnkit.MinLSTM):
            cells = []
            step = None
            for mode in [*modes(device), None]:
                net = layer(H, H, scan_mode=mode).to(device)
                t = fwdbwd(net, x, device)
                if mode == "step":
                    step = t
                shown = "auto" if mode is None else mode
                cells.append(f"{shown} {t * 1e3:.2f} ms (x{t / base:.3f}/x{t / step:.2f})")
            print(f"    {layer.__name__:8s} " + " | ".join(cells))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
