"""Layer-norm LSTM on the CPU: bptt and reference engines against plain torch.nn.LSTM.

Forward+backward, best of 5 calls, the three layers interleaved so that they share the
same moments of load. float32, torch's default threads.

    python benchmarks/layernorm_cpu.py
"""
from __future__ import annotations

import time

import torch

import rnnkit

SIZES = [(32, 100, 256, 256), (16, 200, 64, 128), (64, 50, 512, 512), (1, 1000, 64, 64)]


def forward_backward(module, x) -> None:
    out = module(x)[0]
    out.sum().backward()


def main() -> None:
    print(f"rnnkit {rnnkit.__version__}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{time.strftime('%Y-%m-%d')}")
    for B, T, I, H in SIZES:
        x = torch.randn(T, B, I)
        layers = {"torch.nn.LSTM": torch.nn.LSTM(I, H),
                  "bptt-ln": rnnkit.LSTM(I, H, layer_norm=True, engine="bptt"),
                  "reference-ln": rnnkit.LSTM(I, H, layer_norm=True, engine="reference")}
        best = dict.fromkeys(layers, float("inf"))
        for layer in layers.values():
            forward_backward(layer, x)  # warm-up
        for _ in range(5):
            for name, layer in layers.items():
                t0 = time.perf_counter()
                forward_backward(layer, x)
                best[name] = min(best[name], time.perf_counter() - t0)
        times = " ".join(f"{name} {sec * 1e3:.1f} ms" for name, sec in best.items())
        print(f"{(B, T, I, H)} {times} | bptt-ln / torch.nn {best['bptt-ln'] / best['torch.nn.LSTM']:.2f}, "
              f"reference / bptt {best['reference-ln'] / best['bptt-ln']:.2f}", flush=True)


if __name__ == "__main__":
    main()
