"""Test-wide settings."""
import os

# Triton kernels run on the CPU through Triton's interpreter (there is no GPU in CI). Triton reads
# this when it is imported, so it is set before anything can import it.
os.environ["TRITON_INTERPRET"] = "1"

import torch  # noqa: E402

# The tests use tiny tensors and run two pytest workers on two cores: one intra-op thread
# per worker avoids OpenMP oversubscription, which made each tiny op take milliseconds.
torch.set_num_threads(1)
