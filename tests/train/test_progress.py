"""Progress: a time-based bar for time-budgeted runs, plain lines (no redraws) when stderr is not a terminal."""
import io

import torch

from rnnkit.data.tasks import AddingTask
from rnnkit.models import SequenceModel
from rnnkit.train import TrainConfig, Trainer
from rnnkit.train.progress import Progress, clock


def test_clock_and_numbers_read_as_a_person_writes_them():
    assert clock(5) == "0:05" and clock(125) == "2:05" and clock(3725) == "1:02:05"
    out = io.StringIO()
    p = Progress(100, terminal=False, every_s=0.0, stream=out)
    p.update(1, loss=1.853191, **{"tok/s": 26084.3})
    assert "loss 1.853" in out.getvalue() and "tok/s 26,084" in out.getvalue() and "e+" not in out.getvalue()


def test_plain_lines_when_not_a_terminal():
    out = io.StringIO()
    p = Progress(10, budget_s=120.0, terminal=False, every_s=0.0, stream=out)
    for step in (1, 2, 3):
        p.update(step, loss=0.5)
    p.note("val bpc", 2.5)
    p.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 4 and "\r" not in out.getvalue()
    assert lines[0].startswith("step 1 of 10, 0:00 of 2:00: ") and lines[-1].endswith("loss 0.5, val bpc 2.5")


def test_a_time_budget_draws_elapsed_of_budget_not_a_step_eta():
    out = io.StringIO()
    p = Progress(1_000_000, budget_s=120.0, terminal=True, stream=out)
    p.update(7, loss=1.0)
    p.close()
    text = out.getvalue()
    assert "of 02:00" in text and "step 7" in text and "1000000" not in text


def test_a_step_budget_draws_steps():
    out = io.StringIO()
    p = Progress(50, terminal=True, stream=out)
    p.update(5)
    p.close()
    assert "5/50" in out.getvalue()


def test_a_training_run_into_a_log_file_writes_lines_not_redraws(tmp_path, capsys):
    torch.manual_seed(0)
    cfg = TrainConfig(steps=4, eval_every=2, eval_batches=1, tensorboard=False, max_minutes=5.0)
    Trainer(SequenceModel("rnn", 2, 4, 1), AddingTask(8, 4), cfg, tmp_path).fit()
    err = capsys.readouterr().err
    assert "\r" not in err and "step 2: val loss" in err
    assert err.splitlines()[-1].startswith("step 4 of 4, 0:00 of 5:00: ") and "val mse" in err.splitlines()[-1]


class _Pipe(io.StringIO):
    """A stream that counts how often it was flushed (a pipe's reader sees only flushed text)."""
    flushes = 0

    def flush(self):
        self.flushes += 1
        super().flush()


def test_a_message_reaches_a_pipe_at_once():
    pipe = _Pipe()
    progress = Progress(10, terminal=False, stream=pipe)
    before = pipe.flushes
    progress.write("checkpoint written")
    assert pipe.getvalue().endswith("checkpoint written\n") and pipe.flushes > before


def test_a_resumed_run_s_bar_starts_at_the_step_it_resumes_from():
    stream = io.StringIO()
    progress = Progress(100, initial=40, terminal=True, stream=stream)
    progress.update(41)
    progress.close()
    assert "41/100" in stream.getvalue() and " 0/100" not in stream.getvalue()


def test_a_message_on_a_terminal_is_written_above_the_bar():
    stream = io.StringIO()
    progress = Progress(10, terminal=True, stream=stream)
    progress.update(3)
    progress.write("step 3: val loss 0.25")
    progress.close()
    assert "step 3: val loss 0.25\n" in stream.getvalue()


def test_the_bar_follows_the_terminal_s_width():
    for budget in (None, 60.0):
        progress = Progress(10, budget_s=budget, terminal=True, stream=io.StringIO())
        assert progress._bar.dynamic_ncols
        progress.close()
