"""State helpers: one structure (tensor or tuple of tensors) kept through every operation."""
import torch

from rnnkit import _state


def test_helpers_keep_the_structure():
    h, c = torch.randn(3, 4, requires_grad=True), torch.randn(3, 2)
    assert _state.parts(h) == (h,) and _state.parts((h, c)) == (h, c)
    assert _state.rebuild(h, [c]) is c and _state.rebuild((h, c), [c, h]) == (c, h)
    doubled = _state.map_state(lambda s: 2 * s, (h, c))
    assert isinstance(doubled, tuple) and torch.equal(doubled[1], 2 * c)
    assert not _state.detach((h, c))[0].requires_grad and _state.detach(None) is None
    flat = _state.flatten((h, c))
    assert flat.shape == (3, 6)
    back = _state.split(flat, (h, c))
    assert torch.equal(back[0], h) and torch.equal(back[1], c) and _state.split(flat, h) is flat
    alive = torch.tensor([True, False, True])
    new, old = (torch.ones(3, 4), torch.ones(3, 2)), (torch.zeros(3, 4), torch.zeros(3, 2))
    picked = _state.select(alive, new, old)
    assert picked[0][:, 0].tolist() == [1, 0, 1] and picked[1][:, 1].tolist() == [1, 0, 1]
    assert _state.select(alive, new[0], old[0]).sum() == 8
