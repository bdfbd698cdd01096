"""The vanishing-gradient regulariser Omega (Pascanu et al. 2013) against a hand computation."""
import torch

from rnnkit.data.tasks import AddingTask
from rnnkit.models import SequenceModel
from rnnkit.train import TrainConfig, Trainer, vanishing_gradient_penalty


def test_omega_matches_the_equation_for_a_tanh_rnn():
    torch.manual_seed(0)
    task = AddingTask(length=7, batch_size=3)
    batch = task.batch("train", 0)
    model = SequenceModel("rnn", 2, 4, 1).double()
    model.record_trace = True
    x = batch.x.double()
    output, _ = model(x)
    loss = task.loss(output, batch)
    omega = vanishing_gradient_penalty(loss, model.last_trace)

    # by hand: h_{k+1} = tanh(W_ih x_{k+1} + b + W_hh h_k), J_k = diag(1 - h_{k+1}^2) W_hh
    cell = model.rnn.cells[0]
    states = model.last_trace[0].states  # h_0 .. h_T, each (B, H)
    grads = torch.autograd.grad(loss, states[1:], retain_graph=True)  # dE/dh_{k+1}, (B, H) each
    ratios = []
    for k in range(7):
        v = grads[k]  # (B, H)
        jac = (1 - states[k + 1] ** 2).unsqueeze(-1) * cell.weight_hh  # (B, H, H): d h_{k+1} / d h_k
        back = torch.einsum("bi,bij->bj", v, jac)  # v J, (B, H)
        for b in range(3):
            if v[b].norm() > 0:
                ratios.append(back[b].norm() / v[b].norm())
    expected = torch.stack([(r - 1) ** 2 for r in ratios]).mean()
    assert torch.allclose(omega, expected, atol=1e-10)
    (g,) = torch.autograd.grad(omega, cell.weight_hh)
    assert g.abs().sum() > 0  # Omega reaches the parameters through the Jacobian


def test_trainer_minimises_loss_plus_weighted_omega():
    def final_weights(penalty):
        torch.manual_seed(0)
        model = SequenceModel("gru", 2, 6, 1)
        cfg = TrainConfig(steps=3, penalty=penalty, eval_every=0, progress=False, tensorboard=False)
        Trainer(model, AddingTask(10, 8), cfg).fit()
        assert model.record_trace is False  # switched back off after training
        return model.rnn.weight_hh_l0.detach().clone()

    assert not torch.equal(final_weights(0.0), final_weights(1.0))
