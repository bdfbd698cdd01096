"""Batched reservoirs equal R separate reservoirs; a search's readouts and scores equal R x A single fits."""
import warnings

import pytest
import torch

from rnnkit.data import mackey_glass
from rnnkit.reservoir import ESN, Reservoir, ReservoirConfig, Ridge
from rnnkit.reservoir.batched import BatchedReservoir
from rnnkit.reservoir.search import search

DT = torch.float64


def _configs(storage="dense"):
    base = ReservoirConfig(units=40, connectivity=0.3, bias_scaling=0.3, storage=storage)
    return [ReservoirConfig(**{**base.__dict__, "spectral_radius": sr, "leak_rate": a, "input_scaling": s,
                               "seed": seed})
            for sr, a, s, seed in [(0.9, 1.0, 0.5, 0), (1.2, 0.3, 1.0, 0), (0.5, 0.7, 0.2, 1), (1.0, 1.0, 2.0, 3)]]


@pytest.mark.parametrize("storage, compiled", [("dense", True), ("sparse", True), ("sparse", False)],
                         ids=["dense", "sparse", "sparse-without-a-compiler"])
def test_batched_states_equal_separate_reservoirs(storage, compiled, monkeypatch):
    if not compiled:  # the step loop in Python that serves sparse groups where the compiled kernel cannot
        from rnnkit.reservoir import batched as module
        monkeypatch.setattr(module.fused, "missing", lambda kernel: "no C++ compiler (test)")
    configs = _configs(storage)
    u = torch.randn(300, 2, dtype=DT, generator=torch.Generator().manual_seed(0))
    start = torch.randn(len(configs), 40, dtype=DT, generator=torch.Generator().manual_seed(1)) * 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch's beta warning about sparse CSR is not the user's to see
        batched = BatchedReservoir(2, configs, storage=storage)
        assert len(batched.groups) == 3  # seeds 0, 1, 3: the two seed-0 configs share one raw draw
        layout = torch.sparse_csr if storage == "sparse" else torch.strided
        assert all(g.w.layout == layout for g in batched.groups)
        states, last = batched.run(u, start)
    for r, c in enumerate(configs):
        single, single_last = Reservoir(2, c, dtype=DT).run(u[:, None], start[r:r + 1])  # (T, 1, N)
        torch.testing.assert_close(states[:, r], single[:, 0], atol=1e-10, rtol=0)
        torch.testing.assert_close(last[r], single_last[0], atol=1e-10, rtol=0)


def test_batched_rejects_mixed_sizes_and_feedback():
    with pytest.raises(ValueError, match="expected every config with units=40"):
        BatchedReservoir(1, [ReservoirConfig(units=40), ReservoirConfig(units=41)])
    with pytest.raises(ValueError, match="feedback_scaling=0"):
        BatchedReservoir(1, [ReservoirConfig(units=40, feedback_scaling=0.1)])
    with pytest.raises(ValueError, match=r"expected u of shape \(T, 1\)"):
        BatchedReservoir(1, [ReservoirConfig(units=40)]).run(torch.zeros(5, 2, dtype=DT))


@pytest.fixture(scope="module")
def series():
    s = mackey_glass(1601, seed=0)
    z = ((s - s.mean()) / s.std())[:, None]
    return z[:-1], z[1:]


@pytest.mark.parametrize("include_input", [True, False])
def test_search_readouts_and_scores_equal_single_fits(series, include_input):
    X, Y = series
    base = ReservoirConfig(units=30, connectivity=0.3, bias_scaling=0.2)
    result = search(X, Y, spectral_radius=[0.8, 1.1], leak_rate=[0.5, 1.0], input_scaling=[0.5], seeds=[0, 1],
                    ridge=[1e-9, 1e-5, 1e-1], base=base, train=1200, warmup=100, include_input=include_input)
    assert len(result.rows) == 2 * 2 * 2 * 3
    scores = [r["val_nrmse"] for r in result.rows]
    assert scores == sorted(scores) and result.best is result.rows[0]
    for row in result.rows:
        esn = ESN(result.config(row), Ridge(row["ridge"]), include_input=include_input)
        esn.fit(X[:1200], Y[:1200], warmup=100)
        pred = esn.predict(X[1200:], reset=False)  # continues from the training state, as the search does
        truth = Y[1200:]
        nrmse = float(((pred - truth) ** 2).mean().sqrt() / truth.std(unbiased=False))
        # two exact solvers agree as far as the normal equations' conditioning allows: measured 2.2e-8 at
        # ridge 1e-9, 6.9e-10 at 1e-5, 1.0e-12 at 0.1
        rel = {1e-9: 1e-7, 1e-5: 1e-8, 1e-1: 1e-10}[row["ridge"]]
        assert row["val_nrmse"] == pytest.approx(nrmse, rel=rel, abs=1e-14)
        fitted = esn.predict(X[:1200])[100:]  # fresh state, like the training drive
        train = float(((fitted - Y[100:1200]) ** 2).mean().sqrt() / Y[100:1200].std(unbiased=False))
        assert row["train_nrmse"] == pytest.approx(train, rel=1e-7, abs=1e-12)


def test_echo_state_check_separates_forgetting_from_self_sustained(series):
    X, Y = series
    result = search(X, Y, spectral_radius=[0.5, 3.0], leak_rate=[1.0], ridge=[1e-6], train=1200,
                    base=ReservoirConfig(units=50, connectivity=0.3), echo_state_check=True)
    by_radius = {r["spectral_radius"]: r["esp_distance"] for r in result.rows}
    assert by_radius[0.5] < 1e-6 < by_radius[3.0]


def test_bad_grids_are_refused(series):
    X, Y = series
    with pytest.raises(ValueError, match="expected at least one value for leak_rate"):
        search(X, Y, spectral_radius=[1.0], leak_rate=[], ridge=[1e-6])
    with pytest.raises(ValueError, match="expected 0 <= warmup < train < T=1600"):
        search(X, Y, spectral_radius=[1.0], leak_rate=[1.0], ridge=[1e-6], train=1600)


def test_memory_capacities_equal_the_single_reservoir_measure():
    from dataclasses import replace

    from rnnkit.reservoir.diagnostics import memory_capacity
    from rnnkit.reservoir.search import memory_capacities

    base = ReservoirConfig(units=30, connectivity=0.3)
    configs = [replace(base, spectral_radius=sr, leak_rate=a, seed=seed)
               for sr, a, seed in [(0.5, 1.0, 0), (0.95, 0.5, 0), (0.9, 1.0, 2)]]
    got = memory_capacities(BatchedReservoir(1, configs), train=1000, test=500, washout=100, alpha=1e-4)
    for r, c in enumerate(configs):
        want = memory_capacity(Reservoir(1, c, dtype=DT), train=1000, test=500, washout=100, alpha=1e-4).total
        assert float(got[r]) == pytest.approx(want, rel=1e-8)
