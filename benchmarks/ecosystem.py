"""Which PyTorch tools work on rnnkit's layers, engine by engine: each cell of the table is tried, not assumed.

    python benchmarks/ecosystem.py            # prints the markdown table of docs/ecosystem.md

A cell reads "yes" when the tool ran and its numbers matched torch.nn's (or eager's) to 1e-5, "no: ..."
with the first words of the error otherwise.
"""
from __future__ import annotations

import time
import warnings

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad, jacrev, vmap

import rnnkit

ENGINES = ("auto", "bptt", "fused", "native", "reference")
TOL = 1e-5


KIND = "GRU"


def _pair(engine):
    torch.manual_seed(0)
    ours = getattr(rnnkit, KIND)(3, 4, engine=engine)
    theirs = getattr(nn, KIND)(3, 4)
    theirs.load_state_dict(ours.state_dict())
    return ours, theirs


def _close(a, b) -> None:
    if not torch.allclose(a, b, atol=TOL, rtol=0):
        raise AssertionError(f"differs by {(a - b).abs().max().item():.1e}")


def _params(m):
    return {k: v.detach() for k, v in m.named_parameters()}


def t_func_grad(ours, theirs, x):
    loss = lambda m: lambda p: functional_call(m, p, (x,))[0].square().sum()  # noqa: E731
    a, b = grad(loss(ours))(_params(ours)), grad(loss(theirs))(_params(theirs))
    for k in b:
        _close(a[k], b[k])


def t_jacrev(ours, theirs, x):
    jac = lambda m: jacrev(lambda x: functional_call(m, _params(m), (x,))[0])(x)  # noqa: E731
    _close(jac(ours), jac(theirs))


def t_vmap(ours, theirs, x):
    xs = x.transpose(0, 1)  # (B, T, I): B unbatched sequences
    _close(vmap(lambda s: ours(s)[0])(xs), torch.stack([theirs(s)[0] for s in xs]))


def t_double_backward(ours, theirs, x):  # a WGAN-GP style penalty
    def penalty(m):
        xx = x.clone().requires_grad_()
        (g,) = torch.autograd.grad(m(xx)[0].square().sum(), xx, create_graph=True)
        return torch.autograd.grad(g.square().sum(), m.weight_hh_l0)[0]
    _close(penalty(ours), penalty(theirs))


def t_compile_train(ours, theirs, x):
    out = torch.compile(ours)(x)[0]
    out.square().sum().backward()
    _close(out, theirs(x)[0])


def t_export(ours, theirs, x):
    _close(torch.export.export(ours.eval(), (x,)).module()(x)[0], theirs(x)[0])


def t_autocast(ours, theirs, x):
    with torch.no_grad():
        b = theirs(x)[0]  # float32: torch.nn's own LSTM fails under CPU bf16 autocast without AVX-512 BF16
        with torch.autocast("cpu", dtype=torch.bfloat16):
            a = ours(x)[0]
    if not torch.allclose(a.float(), b, atol=3e-2, rtol=0):  # bfloat16 keeps ~3 digits
        raise AssertionError("differs beyond bfloat16 rounding")


def t_autocast_train(ours, theirs, x):
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = ours(x)[0]
    out.float().square().sum().backward()


def t_clip_grad_norm(ours, theirs, x):
    ours(x)[0].square().sum().backward()
    theirs(x)[0].square().sum().backward()
    _close(nn.utils.clip_grad_norm_(ours.parameters(), 0.1), nn.utils.clip_grad_norm_(theirs.parameters(), 0.1))


def t_weight_norm(ours, theirs, x):
    nn.utils.parametrizations.weight_norm(ours, "weight_hh_l0")
    nn.utils.parametrizations.weight_norm(theirs, "weight_hh_l0")
    _close(ours(x)[0], theirs(x)[0])


def t_isinstance(ours, theirs, x):
    if not isinstance(ours, type(theirs)):
        raise AssertionError(f"isinstance(layer, nn.{KIND}) is False")


def t_rnnbase_dispatch(ours, theirs, x):  # what init loops, pruning and privacy tools test
    if not isinstance(ours, nn.RNNBase) or ours._flat_weights_names != theirs._flat_weights_names:
        raise AssertionError("not an nn.RNNBase with torch.nn's weight names")


def t_exact_type(ours, theirs, x):  # e.g. a table keyed by type(module)
    if type(ours) is not type(theirs):
        raise AssertionError(f"type(layer) is {type(ours).__module__}.{KIND}, a subclass of nn.{KIND}")


def _quantized(module) -> bool:
    return type(module).__module__.startswith("torch.ao.nn.quantized.dynamic")


def t_quantize_dynamic(ours, theirs, x):
    q = torch.ao.quantization.quantize_dynamic(nn.Sequential(ours), {type(theirs)}, dtype=torch.qint8)
    if not _quantized(q[0]):
        raise AssertionError("left in float (torch's matches exact types)")


def t_rnnkit_quantize_dynamic(ours, theirs, x):
    spec = {type(theirs)}
    a = rnnkit.quantize_dynamic(nn.Sequential(ours), spec, dtype=torch.qint8)
    b = torch.ao.quantization.quantize_dynamic(nn.Sequential(theirs), spec, dtype=torch.qint8)
    if not _quantized(b[0]):
        raise AssertionError(f"torch has no dynamically quantized {KIND}")
    _close(a(x)[0], b(x)[0])


def t_onnx(ours, theirs, x):
    import onnxruntime

    from rnnkit.jobs.export import onnx_bytes
    raw, inputs, _, _ = onnx_bytes(ours.eval(), {})
    session = onnxruntime.InferenceSession(raw, providers=["CPUExecutionProvider"])
    state = [np.zeros((1, x.shape[1], 4), np.float32) for _ in inputs[1:]]
    for t in range(x.shape[0]):
        y, *state = session.run(None, {"x": x[t].numpy(), **dict(zip(inputs[1:], state))})
        _close(torch.from_numpy(y), theirs(x[:t + 1])[0][-1].detach())


def t_ddp(ours, theirs, x):
    import tempfile

    import torch.distributed as dist
    with tempfile.NamedTemporaryFile() as f:
        dist.init_process_group("gloo", init_method=f"file://{f.name}", rank=0, world_size=1)
        try:
            model = nn.parallel.DistributedDataParallel(ours)
            model(x)[0].square().sum().backward()
        finally:
            dist.destroy_process_group()
    theirs(x)[0].square().sum().backward()
    _close(ours.weight_hh_l0.grad, theirs.weight_hh_l0.grad)


def t_compile_time(ours, theirs, x):
    """Seconds from torch.compile to the end of the first training step, each after a reset; the second of
    two rounds (the first pays torch's own one-off start-up)."""
    times = {}
    for _ in range(2):
        for name, layer in (("theirs", theirs), ("ours", ours)):
            torch._dynamo.reset()
            start = time.perf_counter()
            torch.compile(layer)(x)[0].square().sum().backward()
            times[name] = time.perf_counter() - start
    times = [times["ours"], times["theirs"]]
    ratio = times[0] / times[1]
    if ratio > 2:
        raise AssertionError(f"{times[0]:.2f} s, {ratio:.1f}x torch.nn's {times[1]:.2f} s")
    return f"{times[0]:.2f} s ({ratio:.1f}x torch.nn's)"


def t_jit_script(ours, theirs, x):
    torch.jit.script(ours)


TOOLS = {"torch.func.grad": t_func_grad, "torch.func.jacrev": t_jacrev, "torch.func.vmap": t_vmap,
         "double backward": t_double_backward, "torch.compile (train)": t_compile_train,
         "torch.export (inference)": t_export, "autocast inference (CPU bf16)": t_autocast,
         "autocast training (CPU bf16)": t_autocast_train,
         "torch.compile time (train, 1st call)": t_compile_time,
         "clip_grad_norm_": t_clip_grad_norm, "weight_norm": t_weight_norm, "DDP (gloo, 1 process)": t_ddp,
         "isinstance(m, nn.X)": t_isinstance, "isinstance(m, nn.RNNBase) dispatch (Opacus-style)": t_rnnbase_dispatch,
         "type(m) is nn.X": t_exact_type,
         "torch quantize_dynamic": t_quantize_dynamic, "rnnkit.quantize_dynamic": t_rnnkit_quantize_dynamic,
         "ONNX step graph in onnxruntime": t_onnx, "torch.jit.script": t_jit_script}


def main() -> None:
    global KIND
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    for KIND in ("LSTM", "GRU", "RNN"):
        table()


def table() -> None:
    print(f"\n{KIND}, against torch.nn.{KIND}:\n")
    print("| tool | " + " | ".join(ENGINES) + " |")
    print("|---|" + "---|" * len(ENGINES))
    for name, tool in TOOLS.items():
        cells = []
        for engine in ENGINES:
            ours, theirs = _pair(engine)
            x = torch.randn(5, 2, 3)
            try:
                said = tool(ours, theirs, x)
                cells.append("yes" if said is None else f"yes: {said}")
            except Exception as exc:  # noqa: BLE001  (a cell of the table, whatever failed)
                words = " ".join(str(exc).split())[:60] or type(exc).__name__
                cells.append(f"no: {words}")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
