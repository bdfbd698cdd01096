"""Building and loading the C++ kernels of :mod:`rnnkit.kernels.fused`.

Each source compiles into a module named after the source, the CPU capability it
targets and a hash of its text and of the headers here that it includes, so an edited
source or another machine kind never loads a stale build. ``-fopenmp`` makes
``at::parallel_for`` split work across torch's threads (without it the header compiles to
a serial loop). Vectorised code (ATen's ``Vectorized``) is compiled for AVX2 where torch
reports AVX2 or AVX-512, else for the generic capability.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import threading
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
_modules: dict = {}  # source name -> loaded module
_failures: dict = {}  # source name -> why it could not be built
_lock = threading.Lock()


def _capability() -> tuple[str, list[str]]:
    """The capability to compile for and its flags."""
    if torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512"):
        return "avx2", ["-mavx2", "-mfma", "-DCPU_CAPABILITY=AVX2", "-DCPU_CAPABILITY_AVX2"]
    return "default", ["-DCPU_CAPABILITY=DEFAULT", "-DCPU_CAPABILITY_DEFAULT"]


def _name(source: str) -> str:
    text = (HERE / f"{source}.cpp").read_bytes()
    headers = sorted(set(re.findall(rb'#include "([\w.]+\.h)"', text)))  # the shared headers it includes
    text += b"".join((HERE / h.decode()).read_bytes() for h in headers)
    digest = hashlib.sha256(text).hexdigest()[:10]
    capability, _ = _capability()
    return f"rnnkit_{source}_{capability}_{digest}"


def _build_dir(name: str) -> Path:
    from torch.utils.cpp_extension import get_default_build_root
    root = os.environ.get("TORCH_EXTENSIONS_DIR") or get_default_build_root()
    return Path(root) / name


def sources() -> list[str]:
    """The names of the C++ sources here (``min_scan`` for ``min_scan.cpp``)."""
    return sorted(p.stem for p in HERE.glob("*.cpp"))


def built(source: str) -> bool:
    """Whether ``source`` is compiled and cached (loading it then takes no compile)."""
    return source in _modules or (_build_dir(_name(source)) / f"{_name(source)}.so").exists()


def _compiler_problem() -> str | None:
    compiler = os.environ.get("CXX", "c++")
    if shutil.which(compiler) is None:
        return f"no C++ compiler ({compiler!r} is not on PATH): install g++ (or set CXX)"
    try:
        from torch.utils.cpp_extension import verify_ninja_availability
        verify_ninja_availability()
    except RuntimeError:
        return "ninja is not installed: pip install ninja"
    return None


def load(source: str):
    """The compiled module of ``<source>.cpp``, built now if no cached build exists; raises RuntimeError."""
    with _lock:
        if source in _modules:
            return _modules[source]
        if source in _failures:
            raise RuntimeError(_failures[source])
        problem = _compiler_problem()
        if problem is None:
            problem = _compile(source)
        if problem is not None:
            _failures[source] = problem
            raise RuntimeError(problem)
        return _modules[source]


def _compile(source: str) -> str | None:
    """Build (or load the cached build of) ``source``; None on success, else why it failed."""
    from torch.utils.cpp_extension import load as cpp_load
    name = _name(source)
    build_dir = _build_dir(name)
    build_dir.mkdir(parents=True, exist_ok=True)
    fresh = not built(source)
    if fresh:
        print(f"rnnkit: compiling the fused CPU kernels ({source}.cpp) once for this machine; "
              "later runs load the cached build", file=sys.stderr, flush=True)
    _, flags = _capability()
    try:
        _modules[source] = cpp_load(name=name, sources=[str(HERE / f"{source}.cpp")], build_directory=str(build_dir),
                                    extra_cflags=["-O3", "-fopenmp", *flags],
                                    extra_ldflags=["-fopenmp"], verbose=False)
    except Exception as err:  # a compiler error, a linker error, a broken cache: all mean "not available"
        text = str(err).strip()
        # torch puts the compiler's output inside the exception: show it once, then one line that refers to it
        print(f"rnnkit: building {source}.cpp failed:\n{text}", file=sys.stderr, flush=True)
        first = text.splitlines()[0] if text else type(err).__name__
        return f"the fused CPU kernels failed to build ({first}); the compiler's output is printed above"
    return None


def missing(source: str) -> str | None:
    """Why ``source`` cannot be loaded (building it if needed), or None when it is ready."""
    try:
        load(source)
    except RuntimeError as err:
        return str(err)
    return None


def build_all(jobs: int | None = None) -> dict[str, str]:
    """Build every source that has no cached build, ``jobs`` at a time (default: one per core), each in
    its own process (one compiler each); returns {source: why it failed} for those that did not build."""
    import subprocess
    todo = [s for s in sources() if not built(s)]
    jobs = max(1, jobs or os.cpu_count() or 1)
    failed, running = {}, []
    while todo or running:
        while todo and len(running) < jobs:
            source = todo.pop(0)
            code = f"from rnnkit.kernels.fused import load; load({source!r})"
            running.append((source, subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)))
        source, process = running.pop(0)
        _, err = process.communicate()
        sys.stderr.write(err)
        if process.returncode != 0:
            failed[source] = err.strip().splitlines()[-1] if err.strip() else f"exit status {process.returncode}"
    return failed
