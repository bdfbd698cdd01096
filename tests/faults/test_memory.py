"""Memory: sizes that cannot fit are refused before allocating, with the bytes they would take; a forward
pass without autograd keeps nothing for a backward; 2,000 training steps run in flat memory."""
import subprocess
import sys

import pytest
import torch

import rnnkit
from rnnkit.reservoir import Reservoir, ReservoirConfig


def _python(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("build, text", [
    (lambda: rnnkit.LSTM(10, 1_000_000), "LSTMCell: input_size=10, hidden_size=1000000: its 5000048000000 weights "
                                         "would take 20 TB"),
    (lambda: rnnkit.GRU(10, 1_000_000, dtype=torch.float64), "would take 24 TB"),
    (lambda: rnnkit.RNN(10**7, 10**6), "its 11000002000000 weights would take 44 TB"),
    (lambda: Reservoir(1, ReservoirConfig(units=10**7)), "Reservoir: units=10000000: drawing its 10000000 x 10000000"),
])
def test_weights_that_cannot_fit_are_refused_before_allocating(build, text):
    with pytest.raises(MemoryError) as raised:  # what code written against torch's allocator catches
        build()
    assert isinstance(raised.value, ValueError) and text in str(raised.value)
    assert "of memory free on this machine" in str(raised.value)


def test_a_forward_whose_activations_cannot_fit_is_refused_before_allocating():
    layer = rnnkit.LSTM(1, 1000)
    x = torch.zeros(1, 10**7, 1)  # 40 MB of input; its states and gates would take hundreds of GB
    with pytest.raises(MemoryError, match="LSTM: a forward of 1 steps x batch 10000000 through 1 cell"):
        layer(x)


# Transparent huge pages off for the measuring process (prctl PR_SET_THP_DISABLE = 41): torch asks for them on
# large buffers, and with them the same run's peak RSS grew 1.16x or 3.5x the output at random (6 runs each on
# 2026-12-02: 1.16-3.55 with, 1.159-1.164 without). The bound is on what rnnkit keeps, not on page rounding.
MEASURE_NO_GRAD = """
import ctypes
ctypes.CDLL(None).prctl(41, 1, 0, 0, 0)
import resource, torch, rnnkit
torch.set_num_threads(1)
layer = getattr(rnnkit, "{kind}")(128, 128, engine="{engine}")
x = torch.randn(20000, 8, 128)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with torch.no_grad():
    y, _ = layer(x)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024 / (y.numel() * 4))
"""


@pytest.mark.parametrize("kind, engine", [("RNN", "bptt"), ("GRU", "bptt"), ("LSTM", "bptt")])
def test_a_forward_without_autograd_keeps_nothing_for_a_backward(kind, engine):
    # T = 20,000, B = 8, H = 128: the output is 82 MB; keeping the gates for a backward took +1.7 GB
    growth = float(_python(MEASURE_NO_GRAD.format(kind=kind, engine=engine)))
    assert growth < 3.5, f"peak memory grew by {growth:.1f}x the output"


LONG_RUN = """
import torch
from rnnkit.data.tasks import AddingTask
from rnnkit.models import SequenceModel
from rnnkit.train import TrainConfig, Trainer

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1])

torch.set_num_threads(1)
torch.manual_seed(0)
model = SequenceModel("lstm", 2, 16, 1)
config = TrainConfig(steps=2000, eval_every=250, checkpoint_every=250, progress=False, tensorboard=False)
trainer = Trainer(model, AddingTask(20, 8), config, "{out}")
marks = {{}}
trainer.add_callback("on_step_end", lambda t: marks.__setitem__(t.step, rss()) if t.step in (250, 2000) else None)
trainer.fit()
print(marks[250], marks[2000])
"""


def test_two_thousand_training_steps_run_in_flat_memory(tmp_path):
    at_250, at_2000 = map(int, _python(LONG_RUN.format(out=tmp_path / "run")).split())
    assert at_2000 <= 1.05 * at_250, f"RSS grew from {at_250} to {at_2000} pages"
