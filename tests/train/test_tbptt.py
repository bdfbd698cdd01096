"""Truncated BPTT: the state is carried from window to window, detached; resets act per sample."""
import torch

from rnnkit.data.batching import Batch, stream_lanes
from rnnkit.data.tasks import CopyTask
from rnnkit.models import SequenceModel
from rnnkit.train import TrainConfig, Trainer


class Spy(torch.nn.Module):
    """Wraps a model and records each training call's incoming state, outgoing state and output."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.calls = []

    def forward(self, x, state, resets):
        output, new_state = self.model(x, state, resets)
        if self.training:
            self.calls.append({"state_in": state, "state_out": new_state, "output": output.detach(),
                               "x": x})
        return output, new_state


def _cfg(**kw):
    base = dict(steps=4, eval_every=0, progress=False, tensorboard=False, clip_norm=None)
    return TrainConfig(**{**base, **kw})


def test_window_k_plus_1_starts_from_window_k_final_state_detached():
    torch.manual_seed(0)
    task = CopyTask(length=4, batch_size=3)  # T = 24: windows of 8 -> 3 steps per batch
    spy = Spy(SequenceModel("lstm", 10, 6, 9))
    result = Trainer(spy, task, _cfg(tbptt=8, steps=4)).fit()
    assert result.step == 4
    calls = spy.calls  # batch 0: windows 0, 1, 2; batch 1: window 0
    assert calls[0]["state_in"] is None and calls[3]["state_in"] is None  # a new batch starts from zeros
    for k in (0, 1):
        carried, final = calls[k + 1]["state_in"], calls[k]["state_out"]
        for c, f in zip(carried, final):
            assert torch.equal(c, f.detach())  # the same numbers ...
            assert c.grad_fn is None and not c.requires_grad  # ... cut from the graph
        assert final[0].grad_fn is not None  # the state that was carried did have a graph


def test_full_bptt_takes_one_step_per_batch():
    task = CopyTask(length=4, batch_size=3)
    spy = Spy(SequenceModel("gru", 10, 6, 9))
    Trainer(spy, task, _cfg(steps=2)).fit()
    assert [c["x"].shape[0] for c in spy.calls] == [24, 24]
    assert all(c["state_in"] is None for c in spy.calls)


class StreamTask(CopyTask):
    """Copy batches relaid as streams: lane 0 holds a 10-step and a 14-step sequence."""

    def batch(self, split, index):
        seq = super().batch(split, index)  # (24, B)
        lane = lambda b, start, stop: Batch(seq.x[start:stop, b:b + 1], seq.y[start:stop, b:b + 1],
                                            seq.weight[start:stop, b:b + 1])
        return stream_lanes([[lane(0, 0, 10), lane(0, 10, 24)], [lane(1, 0, 24)]])


def test_per_sample_reset_inside_a_streamed_window():
    torch.manual_seed(1)
    task = StreamTask(length=4, batch_size=2)
    spy = Spy(SequenceModel("rnn", 10, 6, 9))
    Trainer(spy, task, _cfg(tbptt=8, steps=3, lr=0.0)).fit()  # lr 0: the weights never move
    outputs = torch.cat([c["output"] for c in spy.calls])  # (24, 2, 9)
    x = task.batch("train", 0).x
    with torch.no_grad():
        fresh, _ = spy.model(x[10:, 0:1])  # lane 0's second sequence alone, from zeros
        whole, _ = spy.model(x[:, 1:2])  # lane 1, never reset
    assert torch.allclose(outputs[10:, 0:1], fresh, atol=1e-6)  # reset at t = 10, inside window 2 (8..15)
    assert torch.allclose(outputs[:, 1:2], whole, atol=1e-6)
    assert not torch.allclose(outputs[:10, 0:1], fresh[:10], atol=1e-3)
