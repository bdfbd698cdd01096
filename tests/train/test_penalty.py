"""The vanishing-gradient regulariser Omega (Pascanu et al. 2013) against a hand computation."""
import pytest
import torch

import rnnkit
from rnnkit.data.tasks import AddingTask
from rnnkit.layers import record_states
from rnnkit.models import SequenceModel
from rnnkit.train import TrainConfig, Trainer, VanishingGradientPenalty, vanishing_gradient_penalty


def _hand_omega(cell, states, grads, alive=None):
    """Omega of a tanh Elman cell: J_k = diag(1 - h_{k+1}^2) W_hh, ratio ||v J|| / ||v|| per live (k, b)."""
    ratios = []
    for k in range(len(grads)):
        v = grads[k]  # (B, H)
        jac = (1 - states[k + 1] ** 2).unsqueeze(-1) * cell.weight_hh  # (B, H, H): d h_{k+1} / d h_k
        back = torch.einsum("bi,bij->bj", v, jac)  # v J, (B, H)
        for b in range(v.shape[0]):
            if v[b].norm() > 0 and (alive is None or alive[k, b]):
                ratios.append(back[b].norm() / v[b].norm())
    return torch.stack([(r - 1) ** 2 for r in ratios]).mean()


def _stepped(cell, x, lengths=None):
    """h_0 .. h_T stepped by hand in the graph (a finished sequence keeps its state)."""
    h = cell.init_state(x.shape[1], dtype=x.dtype)
    states = [h]
    for t in range(x.shape[0]):
        new = cell.step(x[t], h)[1]
        h = new if lengths is None else torch.where((t < lengths).unsqueeze(1), new, h)
        states.append(new)
    return states


@pytest.mark.parametrize("engine", ["reference", "bptt"])
def test_omega_matches_the_equation_for_a_tanh_rnn(engine):
    torch.manual_seed(0)
    task = AddingTask(length=7, batch_size=3)
    batch = task.batch("train", 0)
    model = SequenceModel("rnn", 2, 4, 1, engine=engine).double()
    x = batch.x.double()
    with record_states(model) as recorder:
        output, _ = model(x)
    loss = task.loss(output, batch)
    omega = vanishing_gradient_penalty(loss, recorder)
    assert recorder[0].engine == engine

    # by hand: the same forward stepped in the graph, dE/dh_{k+1} by autograd
    cell = model.rnn.cells[0]
    states = _stepped(cell, x)
    hand_loss = task.loss(model.head(torch.stack(states[1:])), batch)
    torch.testing.assert_close(hand_loss, loss, rtol=0, atol=1e-12)
    grads = torch.autograd.grad(hand_loss, states[1:])  # dE/dh_{k+1}, (B, H) each
    expected = _hand_omega(cell, [s.detach() for s in states], grads)
    torch.testing.assert_close(omega, expected, rtol=0, atol=1e-10)
    (g,) = torch.autograd.grad(omega, cell.weight_hh)
    assert g.abs().sum() > 0  # Omega reaches the parameters through the Jacobian
    assert all(p.grad is None for p in model.parameters())  # the state gradients came from autograd.grad


@pytest.mark.parametrize("engine", ["reference", "bptt"])
def test_steps_past_a_sequence_end_are_left_out(engine):
    torch.manual_seed(0)
    layer = rnnkit.RNN(2, 4, engine=engine, dtype=torch.float64)
    x = torch.randn(6, 3, 2, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 4])
    weight = torch.randn(6, 3, 4, dtype=torch.float64)
    with layer.recording() as recorder:
        out, h_n = layer(x, lengths=lengths)
    loss = (out * weight).sum() + (h_n ** 2).sum()
    omega = vanishing_gradient_penalty(loss, recorder.recordings)

    cell = layer.cells[0]
    states = _stepped(cell, x, lengths)
    held = [states[0]]
    for t, s in enumerate(states[1:]):
        held.append(torch.where((t < lengths).unsqueeze(1), s, held[-1]))
    ys = torch.stack([torch.where((t < lengths).unsqueeze(1), states[t + 1], 0.0) for t in range(6)])
    hand_loss = (ys * weight).sum() + (held[-1] ** 2).sum()
    grads = torch.autograd.grad(hand_loss, states[1:])
    alive = torch.arange(6).unsqueeze(1) < lengths  # (T, B)
    expected = _hand_omega(cell, [s.detach() for s in states], grads, alive)
    torch.testing.assert_close(omega, expected, rtol=0, atol=1e-10)


def test_trainer_minimises_loss_plus_weighted_omega():
    def final_weights(penalty):
        torch.manual_seed(0)
        model = SequenceModel("gru", 2, 6, 1)
        cfg = TrainConfig(steps=3, penalty=penalty, eval_every=0, progress=False, tensorboard=False)
        trainer = Trainer(model, AddingTask(10, 8), cfg)
        assert ("vanishing_gradient_penalty" in trainer.hooks) == (penalty > 0)
        trainer.fit()
        assert model.rnn._recorder is None  # recording only around each training forward
        return model.rnn.weight_hh_l0.detach().clone()

    assert not torch.equal(final_weights(0.0), final_weights(1.0))


def test_the_hook_adds_weight_times_omega_to_the_objective():
    torch.manual_seed(0)
    task = AddingTask(length=5, batch_size=2)
    model = SequenceModel("lstm", 2, 3, 1, engine="native").double()  # native cannot record: bptt runs instead
    trainer = Trainer(model, task, TrainConfig(steps=1, penalty=0.5, progress=False, tensorboard=False))
    hook = trainer.hooks["vanishing_gradient_penalty"]
    batch = task.batch("train", 0)
    x = batch.x.double()
    with hook.around_forward(trainer):
        output, _ = model(x)
    loss = task.loss(output, batch)
    term = hook.objective(trainer, loss)
    with record_states(model, fallback=True) as recorder:
        again, _ = model(x)
    omega = vanishing_gradient_penalty(task.loss(again, batch), recorder)
    torch.testing.assert_close(term, 0.5 * omega, rtol=0, atol=1e-12)
    assert "engine 'native' cannot record" in recorder.note
    with pytest.raises(ValueError, match="expected weight to be a number > 0, got 0"):
        VanishingGradientPenalty(0)


@pytest.mark.parametrize("weight", [0, -1.0, True, "0.1", None, float("nan")])
def test_a_penalty_weight_must_be_a_positive_number(weight):
    with pytest.raises(ValueError) as exc:
        VanishingGradientPenalty(weight)
    assert str(exc.value) == f"VanishingGradientPenalty: expected weight to be a number > 0, got {weight!r}"


def _one_step(c: float):
    """A tanh RNN (H=4) over one step and the loss c * sum(h_1): dE/dh_1 = c in every unit, ||v||^2 = 4 c^2."""
    torch.manual_seed(0)
    layer = rnnkit.RNN(2, 4, engine="reference", dtype=torch.float64)
    with record_states(layer) as recorder:
        out, _ = layer(torch.randn(1, 1, 2, dtype=torch.float64))
    return c * out.sum(), recorder


def test_no_back_flowing_gradient_gives_a_zero_scalar_penalty():
    loss, recorder = _one_step(0.0)
    omega = vanishing_gradient_penalty(loss, recorder)
    assert omega.shape == () and float(omega.detach()) == 0.0


def test_a_step_counts_only_when_its_gradient_norm_squared_is_above_eps():
    loss, recorder = _one_step(0.5)  # ||v||^2 = 1 exactly
    assert float(vanishing_gradient_penalty(loss, recorder, eps=1.0).detach()) == 0.0  # not above eps: no live step
    loss, recorder = _one_step(0.5)
    assert float(vanishing_gradient_penalty(loss, recorder, eps=0.5).detach()) > 0.0
