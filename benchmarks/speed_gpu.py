"""GPU speed of rnnkit's triton engine against torch.nn (cuDNN), after checking its numbers on the GPU.

One run does, in order:

1. correctness on the device: the triton engine against the reference engine (outputs, final states and every
   gradient) for RNN, LSTM (with a projection), GRU and their layer-norm forms, with lengths and reverse, in
   float64 and float32, and bfloat16/float16 against float32 to their rounding; any failure is printed and makes
   the exit status 1 (the timings still run, marked);
2. timings side by side, forward (no_grad) and forward+backward, µs per time step (CUDA events, median of
   ``--repeats`` calls taken in turn): torch.nn (cuDNN), rnnkit ``engine="triton"`` and ``engine="auto"``, for
   LSTM and GRU at (B, T, I, H) = (1,1024,256,256), (8,512,256,256), (8,512,512,512), (32,1024,128,128),
   (32,1024,1024,1024), (64,256,512,512), (256,128,1024,1024) in float32, bfloat16 and float16, with ratios;
3. the layer-norm LSTM (which cuDNN cannot run): triton against the reference and bptt engines.

Rows left when ``--budget`` seconds have passed are listed as skipped, so one run fits its slot.

    python benchmarks/speed_gpu.py --json runs/speed_gpu.json             # the whole table, ~5 minutes
    TRITON_INTERPRET=1 python benchmarks/speed_gpu.py --device cpu --quick  # the script itself, on a CPU
"""
from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
import time

import torch

import rnnkit

SIZES = [(1, 1024, 256, 256), (8, 512, 256, 256), (8, 512, 512, 512), (32, 1024, 128, 128),
         (32, 1024, 1024, 1024), (64, 256, 512, 512), (256, 128, 1024, 1024)]
QUICK_SIZES = [(1, 6, 8, 16), (3, 5, 8, 20)]
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
KINDS = {"lstm": (rnnkit.LSTM, torch.nn.LSTM), "gru": (rnnkit.GRU, torch.nn.GRU)}


def _timer(device: torch.device):
    """``time(fn) -> seconds`` for one call, with CUDA events on a GPU."""
    if device.type == "cuda":
        def timed(fn):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            return start.elapsed_time(end) / 1e3
        return timed

    def timed(fn):
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0
    return timed


def interleaved(fns: dict, repeats: int, device) -> dict:
    """Median seconds of each function, called in turn after one warm-up each (compiles included there)."""
    timed = _timer(device)
    for fn in fns.values():
        timed(fn)
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(timed(fn))
    return {name: statistics.median(t) for name, t in times.items()}


def _calls(module, x):
    def fwd():
        with torch.no_grad():
            module(x)

    def fwdbwd():
        module(x)[0].float().sum().backward()
        module.zero_grad(set_to_none=True)
    return fwd, fwdbwd


def _grads(layer, x, lengths, reverse_input):
    x = x.detach().requires_grad_()
    xin = x.flip(0) if reverse_input else x
    out, final = layer(xin, lengths=lengths)
    finals = final if isinstance(final, tuple) else (final,)
    loss = out.double().sin().sum() + sum(f.double().cos().sum() for f in finals)
    grads = torch.autograd.grad(loss, [x, *layer.parameters()])
    return [out, *finals, *grads]


CHECK_DTYPES = ((torch.float64, torch.float64, 1e-10), (torch.float32, torch.float32, 1e-4),
                (torch.bfloat16, torch.float32, 0.1), (torch.float16, torch.float32, 0.02))


def correctness(device: torch.device, quick: bool = False) -> list[dict]:
    """The triton engine against the reference engine on ``device``; one dict per case (``quick``: one layer,
    float64 and float32 only, for the interpreter)."""
    results = []
    T, layers = (6, 1) if quick else (20, 2)
    cases = [("RNN", {}), ("LSTM", {"proj_size": 8}), ("GRU", {}), ("RNN", {"layer_norm": True}),
             ("LSTM", {"layer_norm": True}), ("GRU", {"layer_norm": True})]
    lengths = torch.tensor([T, 5, 3, 1, T])
    for kind, extra in cases:
        for dtype, ref_dtype, tol in CHECK_DTYPES[:2] if quick else CHECK_DTYPES:
            torch.manual_seed(0)
            ours = getattr(rnnkit, kind)(16, 24, num_layers=layers, bidirectional=True, engine="triton", **extra)
            ref = getattr(rnnkit, kind)(16, 24, num_layers=layers, bidirectional=True, engine="reference", **extra)
            ref.load_state_dict(ours.state_dict())
            ours, ref = ours.to(device, dtype), ref.to(device, ref_dtype)
            x = torch.randn(T, 5, 16, device=device, dtype=ref_dtype)
            got = _grads(ours, x.to(dtype), lengths, True)
            want = _grads(ref, x, lengths, True)
            scale = [max(1.0, float(w.detach().abs().max())) for w in want]
            err = max(float((g.double() - w.double()).abs().max()) / s for g, w, s in zip(got, want, scale))
            row = {"cell": kind, "options": extra, "dtype": str(dtype).split(".")[1], "max_error": err, "tol": tol,
                   "ok": err <= tol}
            print(f"check {kind:4} {str(extra):22} {row['dtype']:8}: max error {err:.2e} (tolerance {tol:g}) "
                  f"{'ok' if row['ok'] else 'FAILED'}")
            results.append(row)
    return results


def speed(device, sizes, repeats: int, budget: float, started: float) -> list[dict]:
    rows = []
    for kind, (kit, nn) in KINDS.items():
        for B, T, I, H in sizes:
            for dname, dtype in DTYPES.items():
                row = {"cell": kind, "B": B, "T": T, "I": I, "H": H, "dtype": dname}
                rows.append(row)
                if time.perf_counter() - started > budget:
                    row["skipped"] = "budget"
                    continue
                torch.manual_seed(0)
                theirs = nn(I, H).to(device, dtype)
                modules = {"cudnn": theirs}
                for engine in ("triton", "auto"):
                    modules[engine] = kit(I, H, engine=engine).to(device, dtype)
                    modules[engine].load_state_dict(theirs.state_dict())
                x = torch.randn(T, B, I, device=device, dtype=dtype)
                for mode, index in (("fwd", 0), ("fwdbwd", 1)):
                    fns = {name: _calls(m, x)[index] for name, m in modules.items()}
                    try:
                        t = interleaved(fns, repeats, device)
                    except Exception as error:  # a kernel that fails to compile or run is a row, not the end
                        row[mode] = {"error": f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"}
                        continue
                    row[mode] = {name: 1e6 * s / T for name, s in t.items()}  # µs per step
                row["auto_runs"] = rnnkit.explain(modules["auto"], x).chosen
                print(_line(row))
    return rows


def _line(row) -> str:
    parts = [f"{row['cell']:4} B={row['B']:<3} T={row['T']:<4} I={row['I']:<4} H={row['H']:<4} {row['dtype']:8}"]
    for mode in ("fwd", "fwdbwd"):
        r = row.get(mode, {})
        if "error" in r:
            parts.append(f"{mode}: {r['error']}")
        elif r:
            parts.append(f"{mode} µs/step cudnn {r['cudnn']:8.2f} triton {r['triton']:8.2f} "
                         f"(x{r['cudnn'] / r['triton']:5.2f}) auto {r['auto']:8.2f} (x{r['cudnn'] / r['auto']:5.2f})")
    return " | ".join(parts) + f" | auto runs {row.get('auto_runs', '?')}"


def layer_norm_rows(device, sizes, repeats: int, budget: float, started: float) -> list[dict]:
    rows = []
    for B, T, I, H in sizes:
        row = {"cell": "lstm-ln", "B": B, "T": T, "I": I, "H": H, "dtype": "float32"}
        rows.append(row)
        if time.perf_counter() - started > budget:
            row["skipped"] = "budget"
            continue
        torch.manual_seed(0)
        layers = {e: rnnkit.LSTM(I, H, layer_norm=True, engine=e).to(device) for e in ("triton", "bptt", "reference")}
        x = torch.randn(T, B, I, device=device)
        for mode, index in (("fwd", 0), ("fwdbwd", 1)):
            t = interleaved({e: _calls(m, x)[index] for e, m in layers.items()}, repeats, device)
            row[mode] = {e: 1e6 * s / T for e, s in t.items()}
            r = row[mode]
            print(f"lstm-ln B={B} T={T} H={H} {mode}: µs/step triton {r['triton']:.2f} bptt {r['bptt']:.2f} "
                  f"reference {r['reference']:.2f} (triton x{r['reference'] / r['triton']:.1f} faster than reference)")
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", help="write every figure here as JSON")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, two repeats: the script itself")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--budget", type=float, default=270.0, help="seconds after which rows are skipped")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("speed_gpu: no CUDA device here; run it on a GPU machine", file=sys.stderr)
        return 2
    started = time.perf_counter()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu (Triton interpreter)"
    header = {"device": name, "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="minutes"),
              "torch": torch.__version__, "cudnn": torch.backends.cudnn.version() if device.type == "cuda" else None}
    print(f"# {header}")
    checks = correctness(device, args.quick)
    repeats = 2 if args.quick else args.repeats
    sizes = QUICK_SIZES if args.quick else SIZES
    rows = speed(device, sizes, repeats, args.budget, started)
    ln_sizes = QUICK_SIZES[:1] if args.quick else [(1, 1024, 256, 256), (8, 512, 256, 256), (64, 256, 512, 512)]
    rows += layer_norm_rows(device, ln_sizes, repeats, args.budget, started)
    skipped = [r for r in rows if "skipped" in r]
    if skipped:
        print(f"# {len(skipped)} rows skipped: the {args.budget:g} s budget was spent")
    print(f"# {time.perf_counter() - started:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({**header, "checks": checks, "rows": rows}, f, indent=1)
    return 0 if all(c["ok"] for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
