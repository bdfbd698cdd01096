"""PNG plots of the diagnostics (matplotlib, Agg backend; ``pip install 'rnnkit[plot]'``)."""
from __future__ import annotations

import math
from pathlib import Path

from rnnkit._write import atomic_write


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ImportError("rnnkit plots need matplotlib: pip install 'rnnkit[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    try:
        atomic_write(path, lambda f: fig.savefig(f, dpi=110, format=path.suffix[1:] or "png"))
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)
    return path


def plot_curves(curves: dict, path, *, title: str, xlabel: str = "lag k (steps back from the last step)",
                ylabel: str = "||dL/dh_(T-k)|| / ||dL/dh_T||", reference: dict | None = None) -> Path:
    """Several curves ``label -> (xs, ys)`` on a log y axis; ``reference`` curves are dashed."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for label, (xs, ys) in curves.items():
        ys = [y if y > 0 and math.isfinite(y) else float("nan") for y in ys]
        ax.plot(xs, ys, label=label)
    for label, (xs, ys) in (reference or {}).items():
        ax.plot(xs, [y if y > 0 else float("nan") for y in ys], "--", label=label)
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_gradient_flow(flow, path, *, title: str = "gradient norm vs time step") -> Path:
    """||dL/dh_t|| against t on a log axis, one curve per layer and direction."""
    curves = {}
    for layer in range(flow.num_layers):
        for d in range(flow.num_directions):
            label = f"layer {layer}" + (" reverse" if d else "")
            curves[label] = (list(range(flow.length)), flow.norms[layer, d].tolist())
    return plot_curves(curves, path, title=title, xlabel="time step t", ylabel="||dL/dh_t||")


def plot_eigenvalues(spectra, path, *, title: str = "eigenvalues of W_hh and the unit circle") -> Path:
    """Eigenvalues of each recurrent block in the complex plane, with the unit circle."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 5.2))
    t = [2 * math.pi * i / 256 for i in range(257)]
    ax.plot([math.cos(a) for a in t], [math.sin(a) for a in t], "k-", lw=1, label="|z| = 1")
    for s in spectra:
        ax.scatter(s.eigenvalues.real.tolist(), s.eigenvalues.imag.tolist(), s=10,
                   label=f"{s.name} (rho {s.radius:.3g})")
    ax.set_aspect("equal")
    ax.axhline(0, color="grey", lw=0.5)
    ax.axvline(0, color="grey", lw=0.5)
    ax.set_xlabel("Re")
    ax.set_ylabel("Im")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper right")
    return _save(fig, path)


def plot_gates(gates, path, *, title: str = "gate saturation") -> Path:
    """Bars: the fraction of saturated values per gate (and each gate's mean), per cell."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 3.8))
    width = 0.8 / max(len(gates), 1)
    for i, g in enumerate(gates):
        names = list(g.saturated)
        xs = [j + i * width for j in range(len(names))]
        ax.bar(xs, [g.saturated[n] for n in names], width, label=f"cell {i}: saturated")
        ax.scatter(xs, [g.mean[n] for n in names], color="k", marker="_", s=200, zorder=3,
                   label="mean value" if i == 0 else None)
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(names))], names)
    ax.set_ylim(0, 1)
    ax.set_ylabel(f"fraction saturated (eps {gates[0].eps:g}) / mean" if gates else "")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _save(fig, path)
