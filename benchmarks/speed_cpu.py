"""CPU speed of rnnkit's engines against torch.nn, and memory of memory-efficient BPTT.

Prints, in one run, forward and forward+backward times (median of 9 calls of each\ncolumn taken in turn, float32)
and their ratios against torch.nn.LSTM/GRU/RNN and against a Python loop over
torch.nn.LSTMCell with autograd, at (B, T, I, H) = (32, 100, 256, 256),
(16, 200, 64, 128), (64, 50, 512, 512), (1, 1000, 64, 64); a streaming row (forward
only, B=1, 1,000 calls of one step each carrying the state, as a live model runs);
then the peak memory and time of plain bptt against checkpoint_every=k at B=16,
T=10,000, H=256.

    python benchmarks/speed_cpu.py            # the whole table (~10 minutes on 2 cores)
    python benchmarks/speed_cpu.py --quick    # one size, fewer repeats
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

import torch

import rnnkit

SIZES = [(32, 100, 256, 256), (16, 200, 64, 128), (64, 50, 512, 512), (1, 1000, 64, 64)]
ENGINES = ("native", "fused", "bptt", "reference", "auto")
TORCH = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}
KIT = {"lstm": rnnkit.LSTM, "gru": rnnkit.GRU, "rnn": rnnkit.RNN}


def fwd_and_fwdbwd(module, x):
    def fwd():
        with torch.no_grad():
            module(x)

    def fwdbwd():
        out = module(x)[0]
        out.sum().backward()
        module.zero_grad(set_to_none=True)
    return fwd, fwdbwd


def interleaved(fns: dict, repeats: int) -> dict:
    """Median seconds of each function, called in turn ``repeats`` times after one warm-up each, so that
    every column of a row sees the same moments of a shared, noisy machine."""
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


class CellLoop(torch.nn.Module):
    """A Python loop over torch.nn.LSTMCell with autograd: what people write by hand."""

    def __init__(self, I, H):
        super().__init__()
        self.cell = torch.nn.LSTMCell(I, H)

    def forward(self, x):
        h = c = x.new_zeros(x.shape[1], self.cell.hidden_size)
        outs = []
        for x_t in x:
            h, c = self.cell(x_t, (h, c))
            outs.append(h)
        return torch.stack(outs), (h, c)


KINDS = ("lstm", "gru", "rnn", "lstm-ln")


def speed_rows(sizes, engines, repeats: int = 9, kinds=KINDS):
    rows = []
    for B, T, I, H in sizes:
        x = torch.randn(T, B, I)
        for kind in kinds:
            base_kind = kind.split("-")[0]
            ln = kind == "lstm-ln"
            modules = {"torch.nn": TORCH[base_kind](I, H)}
            if kind == "lstm":
                modules["LSTMCell loop"] = CellLoop(I, H)
            for engine in engines:
                if not (engine == "native" and ln):
                    modules[engine] = KIT[base_kind](I, H, engine=engine, layer_norm=ln)
            pairs = {name: fwd_and_fwdbwd(m, x) for name, m in modules.items()}
            fwd = interleaved({name: p[0] for name, p in pairs.items()}, repeats)
            fwdbwd = interleaved({name: p[1] for name, p in pairs.items()}, repeats)
            row = {"size": (B, T, I, H), "cell": kind, **{name: (fwd[name], fwdbwd[name]) for name in modules}}
            auto = modules["auto"]
            with torch.no_grad():
                inference = rnnkit.explain(auto, x).chosen
            row["auto picks"] = f"{inference}/{rnnkit.explain(auto, x).chosen}"
            rows.append(row)
            print(format_row(row), flush=True)
    return rows


def streaming_rows(steps: int = 1000, I: int = 64, H: int = 64):
    """Forward only, B=1: ``steps`` calls of one step each, the state carried from call to call."""
    rows = []
    xs = torch.randn(steps, 1, 1, I)
    for kind in ("lstm", "gru", "rnn"):
        modules = {"torch.nn": TORCH[kind](I, H)}
        modules.update({engine: KIT[kind](I, H, engine=engine) for engine in ("native", "fused", "bptt", "auto")})

        def stream(module):
            def run():
                with torch.no_grad():
                    state = None
                    for x in xs:
                        _, state = module(x, state)
            return run
        times = interleaved({name: stream(m) for name, m in modules.items()}, repeats=5)
        ref = times["torch.nn"]
        line = " | ".join(f"{name} {t * 1e3:.2f} ms (x{t / ref:.2f})" for name, t in times.items())
        print(f"streaming B=1 {kind:>4}: {steps} calls of one step, forward: {line}", flush=True)
        rows.append({"cell": kind, **times})
    return rows


def format_row(row) -> str:
    ref_f, ref_fb = row["torch.nn"]
    parts = [f"{str(row['size']):>20} {row['cell']:>8} | torch.nn {ref_f * 1e3:8.2f} / {ref_fb * 1e3:8.2f} ms"]
    for name, value in row.items():
        if name in ("size", "cell", "torch.nn", "auto picks"):
            continue
        f, fb = value
        parts.append(f"{name} {f * 1e3:.2f}/{fb * 1e3:.2f} ms (x{f / ref_f:.2f}/x{fb / ref_fb:.2f})")
    parts.append(f"auto->{row['auto picks']}")
    return " | ".join(parts)


def memory_probe(mode: str, B: int, T: int, I: int, H: int, k: int) -> dict:
    """Run once in this process: peak RSS growth over the state before forward, and the time."""
    torch.manual_seed(0)
    layer = rnnkit.LSTM(I, H, engine="bptt", checkpoint_every=k if mode == "efficient" else None)
    x = torch.randn(T, B, I)
    small = torch.randn(5, B, I)
    layer(small)[0].sum().backward()  # warm up allocator and kernels
    layer.zero_grad(set_to_none=True)
    before = _rss_kib()
    t0 = time.perf_counter()
    out, _ = layer(x)
    out.sum().backward()
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"mode": mode, "peak_mib": (peak - before) / 1024, "seconds": seconds}


def _rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() // 1024


def memory_rows(B, T, I, H, k, repeats: int = 3):
    """Each mode in fresh processes: peak memory (one run) and the median time of ``repeats`` runs."""
    # For the peak, a fixed mmap threshold makes glibc hand every large buffer back on free,
    # so the peak RSS follows the tensors alive rather than the allocator's caching. That
    # setting also makes every segment's buffers fresh pages, so time is measured without it.
    peak_env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "1048576"}
    rows = []
    for mode in ("plain", "efficient"):
        cmd = [sys.executable, __file__, "--memory-probe", mode, "--mem-shape", f"{B},{T},{I},{H},{k}"]
        peak = _probe(cmd, peak_env)["peak_mib"]
        seconds = statistics.median(_probe(cmd, dict(os.environ))["seconds"] for _ in range(repeats))
        rows.append({"mode": mode, "peak_mib": peak, "seconds": seconds})
    plain, eff = rows
    print(f"memory B={B} T={T} I={I} H={H}, LSTM fwd+bwd: plain bptt {plain['peak_mib']:.0f} MiB "
          f"in {plain['seconds']:.1f} s; checkpoint_every={k} {eff['peak_mib']:.0f} MiB in {eff['seconds']:.1f} s "
          f"(x{plain['peak_mib'] / eff['peak_mib']:.1f} less memory, x{eff['seconds'] / plain['seconds']:.2f} time; "
          f"times are medians of {repeats})", flush=True)
    return rows


def _probe(cmd, env) -> dict:
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one size, fewer repeats")
    parser.add_argument("--memory-probe", choices=["plain", "efficient"], help=argparse.SUPPRESS)
    parser.add_argument("--mem-shape", default="16,10000,256,256,100", help="B,T,I,H,k of the memory rows")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--cells", default=",".join(KINDS), help=f"comma-separated subset of {', '.join(KINDS)}")
    parser.add_argument("--skip-streaming", action="store_true")
    args = parser.parse_args()
    B, T, I, H, k = map(int, args.mem_shape.split(","))
    if args.memory_probe:
        print(json.dumps(memory_probe(args.memory_probe, B, T, I, H, k)))
        return
    print(f"rnnkit {rnnkit.__version__}, torch {torch.__version__}, python {platform.python_version()}, "
          f"{platform.machine()}, {torch.get_num_threads()} threads, {time.strftime('%Y-%m-%d')}")
    if not args.skip_memory:  # first, in fresh processes started before this one has run anything
        memory_rows(B, T, I, H, k)
        if I != 64:
            memory_rows(B, T, 64, H, k)
    print("times: forward / forward+backward, float32; (xA/xB) = ratio to torch.nn, lower is faster")
    kinds = tuple(k.strip() for k in args.cells.split(","))
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        parser.error(f"--cells: unknown {', '.join(unknown)}; expected a subset of {', '.join(KINDS)}")
    speed_rows(SIZES[:1] if args.quick else SIZES, ENGINES, repeats=3 if args.quick else 9, kinds=kinds)
    if not args.skip_streaming:
        streaming_rows(100 if args.quick else 1000)


if __name__ == "__main__":
    main()
