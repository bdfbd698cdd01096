"""rnnkit's drop-ins are torch.nn's layers to code that dispatches on type: isinstance, torch.nn's weight lists
(``_flat_weights``, ``_flat_weights_names``, ``all_weights``) kept as torch.nn keeps them, weight-drop and init
loops written for torch.nn, pickling, and dynamic quantization (ported from PyTorch's test_nn.py RNN tests)."""
import copy
import io
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import rnnkit

KINDS = [("RNN", {}), ("LSTM", {}), ("GRU", {}), ("LSTM", {"proj_size": 3}), ("RNN", {"nonlinearity": "relu"})]
SETTINGS = [dict(num_layers=2, bidirectional=True), dict(bias=False), dict(num_layers=3, batch_first=True)]


def pair(kind, extra, settings, seed=0):
    torch.manual_seed(seed)
    kit = getattr(rnnkit, kind)(4, 6, **extra, **settings)
    torch.manual_seed(seed)
    ref = getattr(nn, kind)(4, 6, **extra, **settings)
    return kit, ref


@pytest.mark.parametrize("settings", SETTINGS, ids=["stacked-bi", "no-bias", "batch-first"])
@pytest.mark.parametrize("kind, extra", KINDS, ids=["rnn", "lstm", "gru", "lstm-proj", "rnn-relu"])
def test_the_drop_ins_are_torch_layers_with_torchs_weight_lists(kind, extra, settings):
    kit, ref = pair(kind, extra, settings)
    assert isinstance(kit, getattr(nn, kind)) and isinstance(kit, nn.RNNBase)
    others = {"RNN", "LSTM", "GRU"} - {kind}
    assert not any(isinstance(kit, getattr(nn, o)) for o in others)
    assert kit._flat_weights_names == ref._flat_weights_names
    assert all(w is getattr(kit, n) for w, n in zip(kit._flat_weights, kit._flat_weights_names))
    assert [[tuple(p.shape) for p in ws] for ws in kit.all_weights] == [[tuple(p.shape) for p in ws]
                                                                        for ws in ref.all_weights]
    for a, b in zip(kit._flat_weights, ref._flat_weights):  # torch.nn's init, same seed: the same numbers
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_moving_and_casting_refresh_the_flat_weights():
    kit = rnnkit.LSTM(3, 5, 2).double()
    assert all(w.dtype == torch.float64 and w is getattr(kit, n)
               for w, n in zip(kit._flat_weights, kit._flat_weights_names))
    out, _ = kit(torch.randn(4, 2, 3, dtype=torch.float64))
    assert out.dtype == torch.float64


def test_assigning_a_weight_updates_the_flat_weights_and_the_numbers():
    kit, ref = pair("GRU", {}, {})
    new = torch.randn(18, 6) * 0.3
    kit.weight_hh_l0 = nn.Parameter(new.clone())
    ref.weight_hh_l0 = nn.Parameter(new.clone())
    assert kit._flat_weights[kit._flat_weights_names.index("weight_hh_l0")] is kit.weight_hh_l0
    x = torch.randn(7, 3, 4)
    torch.testing.assert_close(kit(x)[0], ref(x)[0], rtol=0, atol=1e-6)


class WeightDrop(nn.Module):
    """AWD-LSTM's weight drop as written for torch.nn (Merity et al. 2017): the recurrent weight becomes a
    raw parameter, and a dropped copy is set on the layer before every forward."""

    def __init__(self, rnn: nn.RNNBase, p: float) -> None:
        super().__init__()
        self.rnn, self.p = rnn, p
        raw = rnn.weight_hh_l0
        del rnn._parameters["weight_hh_l0"]
        rnn.register_parameter("weight_hh_l0_raw", nn.Parameter(raw.data))

    def forward(self, x):
        setattr(self.rnn, "weight_hh_l0", F.dropout(self.rnn.weight_hh_l0_raw, self.p, training=self.training))
        return self.rnn(x)[0]


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_weight_drop_written_for_torch_nn_works(kind):
    kit, ref = pair(kind, {}, {})
    kit_wd, ref_wd = WeightDrop(kit, 0.5), WeightDrop(ref, 0.5)
    x = torch.randn(5, 2, 4)
    for model in (kit_wd, ref_wd):  # same generator state -> the same dropout mask
        torch.manual_seed(3)
        model.train()
        model.out = model(x)
    torch.testing.assert_close(kit_wd.out, ref_wd.out, rtol=0, atol=1e-6)
    kit_wd.out.sum().backward()
    ref_wd.out.sum().backward()
    torch.testing.assert_close(kit.weight_hh_l0_raw.grad, ref.weight_hh_l0_raw.grad, rtol=0, atol=1e-5)
    kit_wd.eval()
    ref_wd.eval()
    torch.testing.assert_close(kit_wd(x), ref_wd(x), rtol=0, atol=1e-6)


def test_an_init_loop_written_for_torch_nn_reaches_rnnkit_layers():
    model = nn.Sequential(rnnkit.LSTM(3, 4), rnnkit.GRU(4, 4, layer_norm=True))
    for m in model.modules():
        if isinstance(m, nn.RNNBase):
            for name, p in m.named_parameters():
                if name.startswith("weight_hh"):
                    nn.init.zeros_(p)
    assert all(float(p.abs().sum()) == 0 for m in model for n, p in m.named_parameters() if n.startswith("weight_hh"))


def test_layer_norm_layers_stay_rnnkit_layers_with_torchs_lists_and_their_gains():
    kit = rnnkit.LSTM(3, 5, layer_norm=True)
    assert isinstance(kit, nn.LSTM)
    assert kit._flat_weights_names == nn.LSTM(3, 5)._flat_weights_names  # the gains are rnnkit's own
    assert any(n.startswith("ln_") for n, _ in kit.named_parameters())
    with pytest.raises(ValueError, match="has no layer norm"):
        kit.to_torch()


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_deepcopy_and_pickling_keep_the_numbers(kind):
    kit = getattr(rnnkit, kind)(3, 5, 2)
    x = torch.randn(4, 2, 3)
    buffer = io.BytesIO()
    torch.save(kit, buffer)
    buffer.seek(0)
    for other in (copy.deepcopy(kit), torch.load(buffer, weights_only=False)):
        torch.testing.assert_close(other(x)[0], kit(x)[0], rtol=0, atol=0)
        assert all(w is getattr(other, n) for w, n in zip(other._flat_weights, other._flat_weights_names))


class Tagger(nn.Module):
    def __init__(self, rnn):
        super().__init__()
        self.rnn, self.head = rnn, nn.Linear(rnn.hidden_size, 3)

    def forward(self, x):
        return self.head(self.rnn(x)[0])


def quantized(module) -> bool:
    return type(module).__module__.startswith("torch.ao.nn.quantized.dynamic")


@pytest.mark.parametrize("dtype", [torch.qint8, torch.float16])
@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_quantize_dynamic_quantizes_rnnkit_layers_as_torch_quantizes_its_own(kind, dtype):
    torch.manual_seed(0)
    kit = Tagger(getattr(rnnkit, kind)(4, 8, 2))
    ref = Tagger(kit.rnn.to_torch())
    ref.head.load_state_dict(kit.head.state_dict())
    x = torch.randn(6, 3, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.ao.quantization announces its move to torchao
        warnings.simplefilter("ignore", UserWarning)
        q_kit = rnnkit.quantize_dynamic(kit, {getattr(nn, kind), nn.Linear}, dtype=dtype)
        q_ref = torch.ao.quantization.quantize_dynamic(ref, {getattr(nn, kind), nn.Linear}, dtype=dtype)
        left = torch.ao.quantization.quantize_dynamic(kit, {getattr(nn, kind)}, dtype=dtype)
        only_linear = rnnkit.quantize_dynamic(kit, {nn.Linear}, dtype=dtype)
    assert type(q_kit.rnn) is type(q_ref.rnn) and quantized(q_kit.rnn)
    torch.testing.assert_close(q_kit(x), q_ref(x), rtol=0, atol=0)
    assert type(kit.rnn) is getattr(rnnkit, kind)  # not inplace: the float model is untouched
    assert type(left.rnn) is getattr(rnnkit, kind)  # torch's own matches exact types: a subclass stays in float
    assert type(only_linear.rnn) is getattr(rnnkit, kind)  # what torch would not quantize stays rnnkit's


def test_quantize_dynamic_leaves_a_layer_norm_layer_in_float_and_says_so():
    model = Tagger(rnnkit.GRU(4, 8, layer_norm=True))
    with pytest.warns(UserWarning, match="rnn stays in float: torch has no quantized GRU with layer norm"):
        model_q = rnnkit.quantize_dynamic(model, {nn.GRU, nn.Linear})
    assert type(model_q.rnn) is rnnkit.GRU and quantized(model_q.head)


def test_to_torch_gives_torchs_layer_with_the_same_numbers():
    kit = rnnkit.LSTM(4, 6, 2, proj_size=3, bidirectional=True, batch_first=True).double()
    ref = kit.to_torch()
    assert type(ref) is nn.LSTM and ref.proj_size == 3 and ref.batch_first
    x = torch.randn(2, 5, 4, dtype=torch.float64)
    torch.testing.assert_close(ref(x)[0], kit(x)[0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_torch_jit_script_scripts_torchs_equivalent_layer(kind):
    torch.manual_seed(0)
    model = Tagger(getattr(rnnkit, kind)(3, 5, 2, batch_first=True)).eval()
    x = torch.randn(2, 6, 3)
    want = model(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit announces its deprecation
        scripted = torch.jit.script(model)
    torch.testing.assert_close(scripted(x), want, rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="has no layer norm"), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(getattr(rnnkit, kind)(3, 5, layer_norm=True))
