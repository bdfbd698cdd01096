"""Optimizers and schedules: warm-up, cosine and step learning rates."""
import math

import pytest
import torch

from rnnkit.train import TrainConfig
from rnnkit.train.optim import build_optimizer, build_scheduler, lr_factor


@pytest.mark.parametrize("name, cls", [("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW),
                                       ("sgd", torch.optim.SGD), ("rmsprop", torch.optim.RMSprop)])
def test_optimizer_by_name(name, cls):
    opt = build_optimizer([torch.nn.Parameter(torch.zeros(2))], TrainConfig(optimizer=name, lr=0.1))
    assert type(opt) is cls and opt.param_groups[0]["lr"] == 0.1


def test_warmup_then_cosine_to_min_lr():
    cfg = TrainConfig(lr=1.0, steps=14, warmup_steps=4, schedule="cosine", min_lr=0.1)
    factors = [lr_factor(s, cfg) for s in range(15)]
    assert factors[:4] == [0.25, 0.5, 0.75, 1.0]
    assert factors[4] == 1.0 and factors[9] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi / 2)))
    assert factors[14] == pytest.approx(0.1)


def test_step_schedule_and_scheduler_drives_the_optimizer():
    cfg = TrainConfig(lr=1.0, schedule="step", step_size=2, gamma=0.5)
    opt = build_optimizer([torch.nn.Parameter(torch.zeros(1))], cfg)
    sched = build_scheduler(opt, cfg)
    seen = []
    for _ in range(5):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == [1.0, 1.0, 0.5, 0.5, 0.25]


def test_resuming_a_checkpoint_that_does_not_record_its_lr_keeps_the_configured_one():
    from rnnkit.train.optim import retune
    cfg = TrainConfig(lr=0.01, schedule="cosine", steps=100)
    param = torch.nn.Parameter(torch.zeros(2))
    optimizer = build_optimizer([param], cfg)
    scheduler = build_scheduler(optimizer, cfg)
    retune(optimizer, scheduler, cfg, {"schedule": "constant"})  # saved without "lr": assume the same
    assert scheduler.base_lrs == [0.01]
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.01 * lr_factor(scheduler.last_epoch, cfg))
