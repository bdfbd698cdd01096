"""Code written against torch.nn catches rnnkit's errors: where torch.nn raises in the same situation,
rnnkit's error is an instance of torch's class as well as of the one rnnkit's rules ask for (ValueError for
shapes and values, TypeError for types), and it names what was expected."""
import pytest
import torch

import rnnkit

KINDS = ["RNN", "LSTM", "GRU"]


def _state(kind, shape):
    return (torch.zeros(shape), torch.zeros(shape)) if kind == "LSTM" else torch.zeros(shape)


CASES = {  # name -> (what to do with a layer class of kind, the class rnnkit's rule asks for, text)
    "input features": (lambda L, k: L(3, 4)(torch.randn(5, 2, 7)), ValueError, "expected input with 3 features"),
    "hx batch": (lambda L, k: L(3, 4)(torch.randn(5, 2, 3), _state(k, (1, 3, 4))), ValueError, "of shape (1, 2, 4)"),
    "hx layers": (lambda L, k: L(3, 4)(torch.randn(5, 2, 3), _state(k, (2, 2, 4))), ValueError, "of shape (1, 2, 4)"),
    "unbatched hx": (lambda L, k: L(3, 4)(torch.randn(5, 3), _state(k, (1, 2, 4))), ValueError, "of shape (1, 4)"),
    "input dtype": (lambda L, k: L(3, 4)(torch.randn(5, 2, 3, dtype=torch.float64)), TypeError,
                    "expected input of dtype torch.float32 (the dtype of the weights)"),
    "input dims": (lambda L, k: L(3, 4)(torch.randn(2, 5, 2, 3)), ValueError, "expected input with 3 dims"),
}


def _raised(fn):
    try:
        fn()
    except Exception as exc:  # noqa: BLE001  (the point is which class it is)
        return exc
    return None


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("kind", KINDS)
def test_errors_are_instances_of_torch_nns_class_and_of_rnnkits(kind, case):
    act, rule, text = CASES[case]
    theirs = _raised(lambda: act(getattr(torch.nn, kind), kind))
    ours = _raised(lambda: act(getattr(rnnkit, kind), kind))
    assert theirs is not None and ours is not None
    assert isinstance(ours, type(theirs)), f"torch.nn raises {type(theirs).__name__}, rnnkit {type(ours).__mro__}"
    assert isinstance(ours, rule) and text in str(ours)


@pytest.mark.parametrize("kind", ["RNN", "GRU"])
def test_proj_size_is_taken_and_refused_as_torch_nn_does(kind):
    assert getattr(rnnkit, kind)(3, 4, proj_size=0).proj_size == 0
    with pytest.raises(ValueError):
        getattr(torch.nn, kind)(3, 4, proj_size=2)
    with pytest.raises(ValueError, match=f"{kind}: proj_size is only supported by LSTM, got proj_size=2"):
        getattr(rnnkit, kind)(3, 4, proj_size=2)
