"""Test-wide settings."""
import torch

# The tests use tiny tensors and run two pytest workers on two cores: one intra-op thread
# per worker avoids OpenMP oversubscription, which made each tiny op take milliseconds.
torch.set_num_threads(1)
