"""Compile the triton engine's kernels for an NVIDIA GPU without one, and print what each costs on chip.

Triton compiles to a cubin for a target named here (default sm_90: H100/H200) with its own bundled ptxas;
``cuobjdump -res-usage`` then reads registers per thread and stack (spilled registers) per thread from it, and
Triton's metadata the shared memory per program. A kernel that needs more shared memory than the GPU has
would fail at launch; heavy spilling means slow steps. This says nothing about speed or numbers on a GPU
(``benchmarks/speed_gpu.py`` measures those); it shows the kernels build for the target at the launch settings
the engine uses.

    python benchmarks/triton_compile.py                    # sm_90, H = 128 .. 1024, bfloat16 and float32
    python benchmarks/triton_compile.py --arch 80 --sizes 256
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import tempfile

os.environ.pop("TRITON_INTERPRET", None)  # compile for the GPU, not the interpreter

import torch  # noqa: E402
import triton  # noqa: E402
import triton.language as tl  # noqa: E402
from triton.backends.compiler import GPUTarget  # noqa: E402
from triton.compiler import ASTSource  # noqa: E402

from rnnkit.kernels.triton import elman, gru, lstm  # noqa: E402
from rnnkit.kernels.triton.common import BLOCK_B, block, launch, slice_width  # noqa: E402

INTS = {"steps", "B", "H", "R"}
INDICES = {"sizes", "ends"}
POINTER = {torch.bfloat16: "*bf16", torch.float16: "*fp16", torch.float32: "*fp32"}


def compiled(fn, dtype, constants: dict, warps: int, arch: int):
    signature = {name: "constexpr" if name in constants else "i32" if name in INTS else
                 "*i32" if name in INDICES else POINTER[dtype] for name in fn.arg_names}
    return triton.compile(ASTSource(fn, signature, constants), target=GPUTarget("cuda", arch, 32),
                          options={"num_warps": warps})


def usage(kernel) -> tuple[str, str]:
    """(registers, stack bytes) per thread, from the cubin."""
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(kernel.asm["cubin"])
        f.flush()
        tool = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "cuobjdump")
        out = subprocess.run([tool, "-res-usage", f.name], capture_output=True, text=True).stdout
    regs, stack = re.search(r"REG:(\d+)", out), re.search(r"STACK:(\d+)", out)
    return (regs.group(1) if regs else "?"), (stack.group(1) if stack else "?")


def kernels(ln: bool, width: int, dtype) -> list:
    common = dict(BLOCK_B=BLOCK_B, BLOCK_H=block(width), BLOCK_K=slice_width(width, dtype), ACC=tl.float32)
    return [("elman forward", elman._forward, dict(TANH=True, LN=ln, EPS=1e-5, **common)),
            ("elman backward", elman._backward, dict(TANH=True, LN=ln, **common)),
            ("lstm forward", lstm._forward, dict(PROJ=False, LN=ln, HAS_BC=ln, EPS=1e-5, BLOCK_R=block(width),
                                                 **common)),
            ("lstm backward", lstm._backward, dict(PROJ=False, LN=ln, BLOCK_R=block(width), **common)),
            ("gru forward", gru._forward, dict(LN=ln, HAS_BHH=True, EPS=1e-5, **common)),
            ("gru backward", gru._backward, dict(LN=ln, **common))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", type=int, default=90, help="compute capability x 10 (90: H100/H200)")
    parser.add_argument("--sizes", default="128,256,512,1024", help="hidden sizes")
    args = parser.parse_args()
    print(f"# triton {triton.__version__}, target sm_{args.arch}; per kernel: warps, registers and stack per "
          f"thread, shared memory per program")
    for width in (int(s) for s in args.sizes.split(",")):
        warps = launch(1, width)["num_warps"]
        for dtype in (torch.bfloat16, torch.float32):
            for ln in (False, True):
                for name, fn, constants in kernels(ln, width, dtype):
                    tag = f"H={width:<5} {str(dtype)[6:]:8} {'ln   ' if ln else 'plain'} {name:15}"
                    try:
                        kernel = compiled(fn, dtype, constants, warps, args.arch)
                    except Exception as error:  # one line per kernel that does not build
                        print(f"{tag} FAILED {type(error).__name__}: {str(error).splitlines()[0][:160]}")
                        continue
                    regs, stack = usage(kernel)
                    print(f"{tag} warps {warps:2}  registers {regs:>3}  stack {stack:>5} B  "
                          f"shared {kernel.metadata.shared:>6} B", flush=True)


if __name__ == "__main__":
    main()
