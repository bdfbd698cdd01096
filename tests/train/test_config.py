"""TrainConfig rejects wrong types and values, naming what was expected."""
import pytest

from rnnkit.train import TrainConfig


@pytest.mark.parametrize("kwargs, error, text", [
    pytest.param(dict(lr="0.1"), TypeError, "expected lr to be float, got str '0.1'", id="lr-str"),
    pytest.param(dict(steps=2.5), TypeError, "expected steps to be int, got float 2.5", id="steps-float"),
    pytest.param(dict(steps=True), TypeError, "expected steps to be int, got bool True", id="steps-bool"),
    pytest.param(dict(tbptt=0), ValueError, "expected tbptt > 0 or None, got 0", id="tbptt-0"),
    pytest.param(dict(optimizer="lion"), ValueError, "unknown optimizer 'lion'; valid values are adam, adamw",
                 id="optimizer"),
    pytest.param(dict(nonfinite_factor=1.0), ValueError, r"expected nonfinite_factor in \(0, 1\), got 1.0",
                 id="factor"),
])
def test_bad_train_config(kwargs, error, text):
    with pytest.raises(error, match=text):
        TrainConfig(**kwargs)


def test_ints_are_accepted_for_floats_and_none_for_optionals():
    cfg = TrainConfig(lr=1, clip_norm=None, tbptt=None)
    assert cfg.lr == 1 and cfg.clip_norm is None
