"""PNG plots of the diagnostics (matplotlib, Agg backend; ``pip install 'rnnkit[plot]'``)."""
from __future__ import annotations

import math
from pathlib import Path

from rnnkit._write import atomic_write
from rnnkit.diagnostics.gates import TANH_GATES


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ImportError("rnnkit plots need matplotlib: pip install 'rnnkit[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


OUTSIDE = dict(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8, frameon=False)  # legends off the data


def _save(fig, path) -> Path:
    """Write ``fig`` (cropped to what it draws, legends outside the axes included) and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        atomic_write(path, lambda f: fig.savefig(f, dpi=110, format=path.suffix[1:] or "png", bbox_inches="tight"))
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)
    return path


def _positive(ys) -> list[float]:
    """Values a log axis can show; zeros, negatives and non-finite values become gaps."""
    return [y if y > 0 and math.isfinite(y) else float("nan") for y in ys]


def plot_curves(curves: dict, path, *, title: str, xlabel: str = "lag k (steps back from the last step)",
                ylabel: str = "||dL/dh_(T-k)|| / ||dL/dh_T||", reference: dict | None = None, yscale: str = "log",
                xscale: str = "linear", marker: str = "") -> Path:
    """Several curves ``label -> (xs, ys)`` on a log y axis (or ``yscale``), legend to the right of the axes.

    ``reference`` curves are dashed; when there are as many as ``curves``, the i-th one
    takes the colour of the i-th curve it is the reference of.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8.2, 4.2), layout="constrained")
    fix = _positive if yscale == "log" else list
    colours = [ax.plot(xs, fix(ys), marker, label=label)[0].get_color() for label, (xs, ys) in curves.items()]
    reference = reference or {}
    paired = len(reference) == len(curves)
    for i, (label, (xs, ys)) in enumerate(reference.items()):
        ax.plot(xs, fix(ys), "--", label=label, **({"color": colours[i], "alpha": 0.8} if paired else {}))
    ax.set_yscale(yscale)
    ax.set_xscale(xscale)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=11)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(**OUTSIDE)
    return _save(fig, path)


def plot_gradient_flow(flow, path, *, title: str = "gradient norm vs time step") -> Path:
    """||dL/dh_t|| against t on a log axis, one curve per layer and direction."""
    curves = {}
    for layer in range(flow.num_layers):
        for d in range(flow.num_directions):
            label = f"layer {layer}" + (" reverse" if d else "")
            curves[label] = (list(range(flow.length)), flow.norms[layer, d].tolist())
    return plot_curves(curves, path, title=title, xlabel="time step t", ylabel="gradient norm ||dL/dh_t||")


def plot_eigenvalues(spectra, path, *, title: str = "eigenvalues of each recurrent block W_h*") -> Path:
    """Eigenvalues of each recurrent block in the complex plane, with the unit circle."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 5.0), layout="constrained")
    t = [2 * math.pi * i / 256 for i in range(257)]
    ax.plot([math.cos(a) for a in t], [math.sin(a) for a in t], "k-", lw=1, label="unit circle |λ| = 1")
    for s in spectra:
        ax.scatter(s.eigenvalues.real.tolist(), s.eigenvalues.imag.tolist(), s=10,
                   label=f"{s.name}: spectral radius ρ = {s.radius:.3g}")
    ax.set_aspect("equal")
    ax.axhline(0, color="grey", lw=0.5)
    ax.axvline(0, color="grey", lw=0.5)
    ax.set_xlabel("Re λ")
    ax.set_ylabel("Im λ")
    ax.set_title(title, fontsize=11)
    ax.legend(**OUTSIDE)
    return _save(fig, path)


def plot_gates(gates, path, *, title: str = "gate saturation") -> Path:
    """Per gate and cell: the fraction of saturated values (left) and the mean value (right)."""
    plt = _pyplot()
    fig, (sat, mean) = plt.subplots(1, 2, figsize=(9.0, 3.8), layout="constrained")
    width = 0.8 / max(len(gates), 1)
    for i, g in enumerate(gates):
        names = list(g.saturated)
        xs = [j + (i - (len(gates) - 1) / 2) * width for j in range(len(names))]
        bars = sat.bar(xs, [g.saturated[n] for n in names], width, label=f"cell {i}")
        sat.bar_label(bars, [f"{g.saturated[n]:.1%}" for n in names], fontsize=7)
        mean.scatter(xs, [g.mean[n] for n in names], marker="D", s=30, zorder=3, label=f"cell {i}")
        for x, n in zip(xs, names):
            mean.annotate(f"{g.mean[n]:.3g}", (x, g.mean[n]), xytext=(6, 0), textcoords="offset points",
                          va="center", fontsize=7)
        ticks = [n + (" (tanh)" if n in TANH_GATES else "") for n in names]
        for ax in (sat, mean):
            ax.set_xticks(range(len(names)), ticks)
        mean.set_xlim(-0.6, len(names) - 0.1)  # room for the last value's label
    eps = gates[0].eps if gates else 0.05
    sat.set_ylim(0, 1.1)
    sat.set_ylabel("fraction of values saturated")
    sat.set_title(f"saturated: σ < {eps:g} or σ > {1 - eps:g}; |tanh| > {1 - eps:g}", fontsize=9)
    mean.set_ylim(-1.05, 1.05)
    mean.axhline(0, color="grey", lw=0.5)
    mean.set_ylabel("mean gate value")
    mean.set_title("mean over steps, samples, units (σ: 0..1, tanh: -1..1)", fontsize=9)
    for ax in (sat, mean):
        ax.set_xlabel("gate")
        ax.grid(True, axis="y", alpha=0.3)
    if len(gates) > 1:
        mean.legend(**OUTSIDE)
    fig.suptitle(title, fontsize=11)
    return _save(fig, path)


def plot_runs(groups: dict, path, *, title: str, ylabel: str) -> Path:
    """Repeated runs side by side: for each ``label -> values`` a bar at the mean, the runs as dots, min-max."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.8), layout="constrained")
    for i, (label, values) in enumerate(groups.items()):
        mean = sum(values) / len(values)
        ax.bar(i, mean, 0.6, alpha=0.6)
        ax.errorbar(i, mean, yerr=[[mean - min(values)], [max(values) - mean]], color="black", capsize=6)
        ax.scatter([i] * len(values), values, color="black", s=12, zorder=3)
        ax.annotate(f"{mean:.3g}", (i, mean), xytext=(10, 4), textcoords="offset points", fontsize=8)
    ax.set_xticks(range(len(groups)), list(groups))
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=11)
    ax.grid(True, axis="y", alpha=0.3)
    return _save(fig, path)
