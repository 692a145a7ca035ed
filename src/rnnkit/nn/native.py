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

import functools
import os
import warnings
from pathlib import Path
from subprocess import SubprocessError

import torch

SOURCE = Path(__file__).with_name("rnn_kernel.cpp")
# -ffast-math lets the gate loops vectorize; NaN and inf must still propagate (training stops on them).
# -fopenmp: at::parallel_for is a header template, parallel only when compiled with OpenMP.
CFLAGS = ["-O3", "-ffast-math", "-fno-finite-math-only", "-fopenmp"]


@functools.cache
def fast_bfloat16() -> bool:
    """Whether prediction computes the GRU's and LSTM's input projections in bfloat16.

    Only with the compiled loop (which reads bfloat16 gate inputs) and where the CPU multiplies
    bfloat16 natively (AMX or AVX-512 BF16): there the projection runs several times faster and its
    output is half the size. The recurrence itself stays float32, and so do training and every
    weight. ``RNNKIT_BF16=0`` turns it off.
    """
    if os.environ.get("RNNKIT_BF16", "1") == "0":
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
