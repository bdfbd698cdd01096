import pytest

from rnnkit.reservoir import ESN, Reservoir, ReservoirConfig


@pytest.mark.parametrize("radius", [0.0, -0.5], ids=["zero", "negative"])
def test_spectral_radius_must_be_positive(radius):
    with pytest.raises(ValueError, match=r"expected spectral_radius > 0, got"):
        ReservoirConfig(spectral_radius=radius)


@pytest.mark.parametrize("leak", [0.0, -0.1, 1.5], ids=["zero", "negative", "above-one"])
def test_leak_rate_must_be_in_zero_one(leak):
    with pytest.raises(ValueError, match=r"expected leak_rate in \(0, 1\], got"):
        ReservoirConfig(leak_rate=leak)


def test_leak_rate_one_is_allowed():
    assert ReservoirConfig(leak_rate=1.0).leak_rate == 1.0


@pytest.mark.parametrize("field, value, message", [
    pytest.param("units", 0, r"expected units >= 1, got 0", id="units"),
    pytest.param("connectivity", 0.0, r"expected connectivity in \(0, 1\]", id="connectivity"),
    pytest.param("input_scaling", -1.0, r"expected input_scaling >= 0", id="input-scaling"),
    pytest.param("storage", "csc", r"unknown storage 'csc'", id="storage"),
    pytest.param("activation", "gelu", r"unknown activation 'gelu'", id="activation"),
    pytest.param("spectral_radius", float("nan"), r"expected spectral_radius to be finite", id="nan-radius"),
])
def test_other_bad_values(field, value, message):
    with pytest.raises(ValueError, match=message):
        ReservoirConfig(**{field: value})


def test_config_is_frozen():
    config = ReservoirConfig()
    with pytest.raises(AttributeError):
        config.units = 3


def test_wrong_types():
    with pytest.raises(TypeError, match="expected spectral_radius to be a number, got str"):
        ReservoirConfig(spectral_radius="0.9")
    with pytest.raises(TypeError, match="expected config to be a ReservoirConfig, got dict"):
        Reservoir(1, {"units": 3})


def test_feedback_needs_a_feedback_scaling():
    with pytest.raises(ValueError, match="feedback=True needs reservoir.feedback_scaling > 0"):
        ESN(ReservoirConfig(units=5), feedback=True)
    with pytest.raises(ValueError, match="feedback_size=2 needs config.feedback_scaling > 0"):
        Reservoir(1, ReservoirConfig(units=5), feedback_size=2)
