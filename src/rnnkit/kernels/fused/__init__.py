"""Compiled CPU kernels: C++ sources here, built on first use with torch.utils.cpp_extension.

:func:`load` compiles a source once per machine kind (into torch's extension cache,
``~/.cache/torch_extensions`` unless ``TORCH_EXTENSIONS_DIR`` says otherwise), printing one
line while it does; later processes load the cached build. A missing compiler or a failed
build is reported by :func:`missing`, so ``engine="auto"`` falls back and ``explain`` says why.
"""
from rnnkit.kernels.fused.build import built, load, missing, sources

__all__ = ["load", "missing", "built", "sources"]
