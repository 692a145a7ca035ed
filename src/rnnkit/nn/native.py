"""The compiled GRU and LSTM time loops (``rnn_kernel.cpp``): built on first use, cached, optional.

Why compiled: a GRU or LSTM step on a CPU is one small matrix product plus a few element-wise operations.
Issued from Python, each operation costs more in dispatch than in arithmetic, and the two directions
cannot run on the two cores at once. The C++ loop fuses each step's gate arithmetic into one pass
and gives each direction its own thread: the GRU's is 3-4x faster than the same loop in PyTorch
operations, the LSTM's 1.2-1.3x faster than ``nn.LSTM`` per direction (``bench/cells.py``).

The kernel is compiled with PyTorch's own extension builder the first time it is needed (about
20 s; cached under ``$TORCH_EXTENSIONS_DIR`` or ``~/.cache/torch_extensions``, rebuilt when the
source changes). Where no C++ compiler is available, rnnkit warns once and uses the pure-PyTorch
loops (:mod:`rnnkit.nn.gru`; PyTorch's LSTM kernel), which compute the same function.
``RNNKIT_NATIVE=0`` forces that path.
"""

from __future__ import annotations

import contextlib
import functools
import os
import warnings
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from subprocess import SubprocessError

import torch

SOURCE = Path(__file__).with_name("rnn_kernel.cpp")
# -ffast-math lets the gate loops vectorize; NaN and inf must still propagate (training stops on them).
# -fopenmp: at::parallel_for is a header template, parallel only when compiled with OpenMP.
CFLAGS = ["-O3", "-ffast-math", "-fno-finite-math-only", "-fopenmp"]


_FLOAT32_ONLY: ContextVar[bool] = ContextVar("float32_only", default=False)


def fast_bfloat16() -> bool:
    """Whether prediction computes the GRU's and LSTM's input projections in bfloat16.

    Opt-in (``RNNKIT_BF16=1``), and only with the compiled loop (which reads bfloat16 gate inputs) and
    where the CPU multiplies bfloat16 natively (AMX or AVX-512 BF16): there the projection runs several
    times faster, and the recurrent model predicts IMDB reviews about 20% faster, but probabilities move by up to 1e-3
    (IMDB test: median 1.5e-5, no label changed), so predictions would depend on the CPU and differ from
    an exported model's. The recurrence itself stays float32, and so do training and every weight.
    :func:`float32_only` turns it off while it lasts.
    """
    return _native_bfloat16() and not _FLOAT32_ONLY.get()


@contextlib.contextmanager
def float32_only() -> Iterator[None]:
    """Predictions inside compute in float32 throughout: the model's exact function, whatever the CPU
    (what an exported model is checked against)."""
    token = _FLOAT32_ONLY.set(True)
    try:
        yield
    finally:
        _FLOAT32_ONLY.reset(token)


@functools.cache
def _native_bfloat16() -> bool:
    if os.environ.get("RNNKIT_BF16", "0") != "1":
        return False
    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")  # private, so looked up defensively
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


@functools.cache
def rnn_ops():
    """``torch.ops.rnnkit`` with ``{gru,lstm}_forward``/``{gru,lstm}_backward``, or None when they cannot be built."""
    if os.environ.get("RNNKIT_NATIVE", "1") == "0":
        return None
    try:
        from torch.utils import cpp_extension

        cpp_extension.load(name="rnnkit_rnn", sources=[str(SOURCE)], extra_cflags=CFLAGS, is_python_module=False)
    except (OSError, RuntimeError, ImportError, SubprocessError) as error:
        reason = str(error).split(":", 1)[0].strip() or type(error).__name__  # the compiler log can be long
        warnings.warn(
            f"rnnkit: could not build the compiled GRU/LSTM loops ({reason}); using the slower pure-PyTorch loops",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    return torch.ops.rnnkit
