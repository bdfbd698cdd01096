"""Fixtures the experiment tests share."""
import pytest
import torch


@pytest.fixture
def one_thread():
    """Run the test with one torch thread (the experiments' documented setting), then restore the count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
