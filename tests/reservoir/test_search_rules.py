"""The batched search's columns mean what the single-reservoir measures mean; its settings do what they say."""
import pytest
import torch

from rnnkit.data import mackey_glass
from rnnkit.reservoir import ESN, Reservoir, ReservoirConfig
from rnnkit.reservoir import search as search_module
from rnnkit.reservoir.batched import BatchedReservoir
from rnnkit.reservoir.diagnostics import echo_state_check, memory_capacity
from rnnkit.reservoir import normal_equations
from rnnkit.reservoir.normal_equations import NormalSums, solve_all
from rnnkit.reservoir.readouts import solve_fallback
from rnnkit.reservoir.search import search
from tests.reservoir.exact import exact_ridge

DT = torch.float64


@pytest.mark.parametrize("radius", [0.9, 1.3])
def test_esp_distance_is_what_echo_state_check_measures_for_that_reservoir(monkeypatch, radius):
    monkeypatch.setattr(search_module, "_chunk", lambda res: 64)  # 300 steps in 5 chunks, the last one short
    torch.manual_seed(1)  # the global generator in another state than the check's own (seed 0)
    config = ReservoirConfig(units=30, connectivity=0.3, spectral_radius=radius)
    batched = search_module._echo_state_distances(BatchedReservoir(1, [config]), steps=300)
    single = echo_state_check(Reservoir(1, config, dtype=DT), steps=300, init_scale=1.0).distances
    assert float(batched[0]) == pytest.approx(float(single[-1]), rel=1e-10)


def test_memory_capacity_depends_on_its_seed_as_the_single_measure_does():
    torch.manual_seed(1)  # the global generator in another state than the measures' own
    config = ReservoirConfig(units=20, connectivity=0.5)
    sizes = dict(train=600, test=300, washout=50, alpha=1e-4)
    got = [float(search_module.memory_capacities(BatchedReservoir(1, [config]), seed=s, **sizes)[0]) for s in (0, 3)]
    want = [memory_capacity(Reservoir(1, config, dtype=DT), seed=s, **sizes).total for s in (0, 3)]
    assert got == pytest.approx(want, rel=1e-8) and got[0] != got[1]


def test_a_system_cholesky_refuses_gets_the_fallback_solution_and_the_others_cholesky():
    gen = torch.Generator().manual_seed(0)
    Z = torch.randn(50, 4, dtype=DT, generator=gen)
    good = Z.T @ Z
    singular = good.clone()
    singular[:, 0] = singular[:, 1]
    singular[0, :] = singular[1, :]  # symmetric, rank 3: not positive definite
    gram = torch.stack([good, singular])  # (R=2, D+1, D+1)
    cross = torch.randn(2, 4, 1, dtype=DT, generator=gen)
    sol = solve_all(gram, cross, torch.tensor([0.0], dtype=DT))[0]  # ridge 0: penalty adds nothing
    torch.testing.assert_close(sol[0], torch.linalg.solve(good, cross[0]), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(sol[1], solve_fallback(singular, cross[1]), rtol=0, atol=0)
    assert torch.isfinite(sol).all()


def test_a_tiny_ridge_scores_what_the_exact_ridge_solution_scores():
    # states with a mean (bias scaling 1) and ridge 1e-12: the unshifted Gram scored 2.7e-3 against the exact
    # solution's 9.87e-4 (173 % off); shifted by the first chunk's means, 1.3e-4 relative
    u = torch.tanh(mackey_glass(3001) - 1).view(-1, 1)
    X, Y = u[:-1], u[1:]
    base = ReservoirConfig(units=60, connectivity=0.2, bias_scaling=1.0, input_scaling=0.3)
    alpha, train, warmup = 1e-12, 2500, 100
    result = search(X, Y, spectral_radius=[0.9], leak_rate=[0.5], ridge=[alpha], base=base, train=train,
                    warmup=warmup, include_input=False)
    states, _ = BatchedReservoir(1, [result.config()]).run(X)
    W, c = exact_ridge(states[warmup:train, 0], Y[warmup:train].double(), alpha)
    truth = Y[train:].double()
    exact = float((states[train:, 0] @ W.T + c - truth).pow(2).mean().sqrt() / truth.std(unbiased=False))
    assert result.rows[0]["val_nrmse"] == pytest.approx(exact, rel=1e-3)


def test_progress_reports_every_training_chunk_up_to_the_total(monkeypatch):
    monkeypatch.setattr(search_module, "_chunk", lambda res: 100)
    s = mackey_glass(500, seed=0)
    z = ((s - s.mean()) / s.std())[:, None]
    seen = []
    search(z[:-1], z[1:], spectral_radius=[0.9], leak_rate=[1.0], ridge=[1e-6], train=350, warmup=20,
           base=ReservoirConfig(units=10), progress=lambda done, total: seen.append((done, total)))
    assert seen == [(100, 350), (200, 350), (300, 350), (350, 350)]


@pytest.mark.parametrize("shapes", [((100, 1), (90, 1)), ((100,), (100, 1)), ((100, 1), (100,))])
def test_inputs_and_targets_must_be_one_series_of_the_same_length(shapes):
    X, Y = torch.zeros(shapes[0], dtype=DT), torch.zeros(shapes[1], dtype=DT)
    with pytest.raises(ValueError, match=r"^search: expected X \(T, I\) and Y \(T, O\) of one series with the same T"):
        search(X, Y, spectral_radius=[0.9], leak_rate=[1.0], ridge=[1e-6])


def test_storage_chooses_each_group_layout_and_config_keeps_each_configs_own():
    dense, sparse = ReservoirConfig(units=30, seed=0), ReservoirConfig(units=30, seed=1, storage="sparse")
    layouts = {mode: [g.w.layout for g in BatchedReservoir(1, [dense, sparse], storage=mode).groups]
               for mode in ("config", "sparse", "dense")}
    assert layouts == {"config": [torch.strided, torch.sparse_csr], "sparse": [torch.sparse_csr] * 2,
                       "dense": [torch.strided] * 2}


def test_sparse_groups_on_the_cpu_run_in_the_compiled_loop(monkeypatch):
    from rnnkit.reservoir import batched as module
    if module.fused.missing(module.KERNEL) is not None:
        pytest.skip(f"the compiled reservoir loop is not built: {module.fused.missing(module.KERNEL)}")
    loaded, load = [], module.fused.load
    monkeypatch.setattr(module.fused, "load", lambda name: loaded.append(name) or load(name))
    config = ReservoirConfig(units=30, connectivity=0.2, storage="sparse")
    u = torch.randn(20, 1, dtype=DT, generator=torch.Generator().manual_seed(0))
    states, _ = BatchedReservoir(1, [config], storage="config").run(u)
    assert loaded == [module.KERNEL]
    dense, _ = BatchedReservoir(1, [config], storage="dense").run(u)  # torch's loop
    torch.testing.assert_close(states, dense, rtol=0, atol=1e-12)


def test_feedback_is_refused_with_the_reason():
    with pytest.raises(ValueError) as exc:
        BatchedReservoir(1, [ReservoirConfig(units=40, feedback_scaling=0.1)])
    assert str(exc.value) == ("BatchedReservoir: expected feedback_scaling=0 (output feedback is not batched), "
                              "got 0.1")


def test_memory_capacity_names_a_bad_split_size():
    res = Reservoir(1, ReservoirConfig(units=10), dtype=DT)
    for name in ("train", "test"):
        with pytest.raises(ValueError) as exc:
            memory_capacity(res, **{name: 0})
        assert str(exc.value) == f"memory_capacity: expected {name} >= 1, got 0"


def test_an_esn_holds_no_state_before_it_has_seen_input():
    assert ESN(ReservoirConfig(units=10)).state is None


def test_the_spectral_radius_of_a_sparse_matrix_is_that_of_its_dense_form():
    from rnnkit.reservoir.diagnostics import spectral_radius
    w = torch.randn(12, 12, dtype=DT, generator=torch.Generator().manual_seed(0))
    w[w.abs() < 1.0] = 0.0
    assert spectral_radius(w.to_sparse()) == pytest.approx(spectral_radius(w), rel=1e-12)
    assert spectral_radius(w.to_sparse_csr()) == pytest.approx(spectral_radius(w), rel=1e-12)


def test_a_reservoir_run_that_needs_gradients_gives_the_same_states_and_a_gradient():
    res = Reservoir(1, ReservoirConfig(units=10, connectivity=0.5), dtype=DT)
    x = torch.randn(6, 2, 1, dtype=DT, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want, _ = res.run(x, torch.zeros(2, 10, dtype=DT))
    x.requires_grad_(True)
    got, _ = res.run(x, torch.zeros(2, 10, dtype=DT))  # a reservoir inside a trained model: autograd's path
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
    got.sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


@pytest.mark.parametrize("fold", [2, 16])  # folded into the total between chunks, or only at the end
@pytest.mark.parametrize("D", [3, 7, 10])  # fewer columns than blocks, and blocks of unequal widths
def test_normal_sums_over_chunks_are_the_gram_and_cross_products_of_the_shifted_features(monkeypatch, D, fold):
    monkeypatch.setattr(normal_equations, "FOLD_EVERY", fold)
    gen = torch.Generator().manual_seed(D)
    F = 2 + torch.randn(23, 3, D, generator=gen, dtype=DT)  # (C, R, D): 23 steps of 3 reservoirs
    Y = torch.randn(23, 2, generator=gen, dtype=DT)
    sums = NormalSums(F[:8], 2, 8)
    for a, b in ((0, 8), (8, 16), (16, 23)):  # the last chunk short
        sums.add(F[a:b], Y[a:b])
    gram, cross = sums.result()
    torch.testing.assert_close(sums.shift[0], F[:8].mean(0), rtol=0, atol=1e-15)
    for r in range(3):
        Z = torch.cat([F[:, r] - F[:8, r].mean(0), torch.ones(23, 1, dtype=DT)], 1)  # (C, D+1)
        torch.testing.assert_close(gram[r], Z.T @ Z, rtol=1e-13, atol=1e-12)
        torch.testing.assert_close(cross[r], Z.T @ Y, rtol=1e-13, atol=1e-12)
