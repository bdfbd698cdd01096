"""Dynamic quantization of models holding rnnkit's LSTM and GRU layers.

``torch.ao.quantization.quantize_dynamic`` picks the modules to quantize by their exact
type (``type(module)``, not ``isinstance``): it leaves any subclass of ``nn.LSTM`` in float,
a user's own as well as rnnkit's. :func:`quantize_dynamic` takes the same arguments and
also serves rnnkit's layers: each ``rnnkit.LSTM``/``GRU`` that torch would quantize as an
``nn.LSTM``/``nn.GRU`` (by the same ``qconfig_spec``, where ``rnnkit.LSTM`` and ``nn.LSTM`` name
the same layers) becomes torch's dynamically quantized layer, built from the layer's
weights, so it computes exactly what torch's quantized layer computes. Layers torch would
leave in float stay the rnnkit layers they were. A layer-norm layer has no quantized torch
counterpart: it stays in float, with a warning naming it.
"""
from __future__ import annotations

import copy
import warnings

import torch
from torch import nn

from rnnkit.layers.rnn import GRU, LSTM

TORCH_TYPE = {LSTM: nn.LSTM, GRU: nn.GRU}


def _spec(qconfig_spec):
    """``qconfig_spec`` with rnnkit's layer types written as torch.nn's."""
    if isinstance(qconfig_spec, dict):
        return {TORCH_TYPE.get(k, k): v for k, v in qconfig_spec.items()}
    if isinstance(qconfig_spec, (set, frozenset, list, tuple)):
        return {TORCH_TYPE.get(k, k) for k in qconfig_spec}
    return qconfig_spec


def _replace(model: nn.Module, name: str, module: nn.Module) -> nn.Module:
    """Put ``module`` at ``name`` in ``model`` (``""``: the model itself) and return the model."""
    if not name:
        return module
    parent, _, leaf = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, leaf, module)
    return model


def quantize_dynamic(model: nn.Module, qconfig_spec=None, dtype=torch.qint8, mapping=None, inplace: bool = False):
    """``torch.ao.quantization.quantize_dynamic`` for models holding rnnkit's layers (same arguments, same
    result for everything else). Example: ``quantize_dynamic(model, {nn.LSTM, nn.Linear}, dtype=torch.qint8)``."""
    model = model if inplace else copy.deepcopy(model)
    originals = {}
    for name, module in list(model.named_modules()):
        if type(module) not in TORCH_TYPE:
            continue
        if module.layer_norm:
            warnings.warn(f"rnnkit.quantize_dynamic: {name or type(module).__name__} stays in float: torch has no "
                          f"quantized {type(module).__name__} with layer norm", stacklevel=2)
            continue
        originals[name] = module
        model = _replace(model, name, module.to_torch())
    model = torch.ao.quantization.quantize_dynamic(model, _spec(qconfig_spec), dtype=dtype, mapping=mapping,
                                                   inplace=True)
    for name, module in originals.items():
        if type(model.get_submodule(name) if name else model) is TORCH_TYPE[type(module)]:  # torch kept it in float
            model = _replace(model, name, module)
    return model
