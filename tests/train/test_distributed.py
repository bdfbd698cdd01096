"""DDP with 2 CPU processes (gloo): training finishes and both ranks end with identical weights."""
import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from rnnkit.data.tasks import AddingTask
from rnnkit.models import SequenceModel
from rnnkit.train import TrainConfig, Trainer


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        torch.manual_seed(rank)  # different initial weights: DDP must broadcast rank 0's
        model = SequenceModel("gru", 2, 6, 1)
        task = AddingTask(length=8, batch_size=4)
        trainer = Trainer(model, task, TrainConfig(steps=4, eval_every=0, progress=False, tensorboard=False),
                          out if rank == 0 else None, device="cpu")
        result = trainer.fit()
        torch.save({"state": model.state_dict(), "step": result.step, "rank": trainer.ctx.rank,
                    "world": trainer.ctx.world, "first_x": task.batch("train", rank).x}, f"{out}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_two_gloo_processes_end_with_identical_weights(tmp_path):
    mp.start_processes(_worker, args=(_free_port(), str(tmp_path)), nprocs=2, join=True, start_method="spawn")
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert (r0["rank"], r1["rank"], r0["world"], r0["step"], r1["step"]) == (0, 1, 2, 4, 4)
    assert not torch.equal(r0["first_x"], r1["first_x"])  # the ranks trained on different batches
    for name, value in r0["state"].items():
        assert torch.equal(value, r1["state"][name]), name
    assert (tmp_path / "checkpoint.pt").exists() and not (tmp_path / "rank1").exists()


def test_one_process_on_the_cpu_is_rank_0_of_1_on_the_cpu():
    from rnnkit.train.distributed import setup
    ctx = setup("cpu")
    assert (ctx.rank, ctx.world, ctx.device) == (0, 1, torch.device("cpu"))
