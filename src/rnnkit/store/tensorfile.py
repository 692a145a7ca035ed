"""Reading tensors from a safetensors file that may come from anyone.

safetensors holds raw numbers and a JSON header, nothing executable. What can still go wrong is a
file that does not fit the model it claims to belong to: every name, shape and dtype is checked
against the tensors the caller expects before any data is read.
"""

from __future__ import annotations

from pathlib import Path

import safetensors
import torch

from rnnkit.errors import RnnkitError

# torch dtype -> the name safetensors gives it in the file header
DTYPE_NAMES = {torch.float32: "F32", torch.float64: "F64", torch.uint8: "U8", torch.int64: "I64"}


def read_tensors(
    file: Path, expected: dict[str, torch.Tensor], error: type[RnnkitError], what: str
) -> dict[str, torch.Tensor]:
    """Tensors of ``file``, which must hold exactly the names of ``expected``, with their shapes and dtypes.

    ``expected`` may live on the meta device (shapes only). Anything wrong raises ``error`` naming
    ``file``; ``what`` says what the tensors must match (for example ``config.json``).
    """
    try:
        with safetensors.safe_open(str(file), framework="pt") as f:
            names = set(f.keys())
            missing, extra = sorted(set(expected) - names), sorted(names - set(expected))
            if missing or extra:
                raise error(
                    f"{file}: tensors do not match {what}"
                    + (f"; missing {', '.join(missing[:5])}" if missing else "")
                    + (f"; unexpected {', '.join(extra[:5])}" if extra else "")
                )
            for name in sorted(names):
                shape, dtype = tuple(f.get_slice(name).get_shape()), f.get_slice(name).get_dtype()
                want = expected[name]
                want_dtype = DTYPE_NAMES.get(want.dtype, str(want.dtype))
                if shape != tuple(want.shape) or dtype != want_dtype:
                    needs = f"{tuple(want.shape)} {want_dtype}"
                    raise error(f"{file}: tensor {name} is {shape} {dtype}, {what} needs {needs}")
            return {name: f.get_tensor(name) for name in names}
    except RnnkitError:
        raise
    except Exception as exc:  # safetensors raises its own error types for corrupt headers and data
        raise error(f"{file}: not a readable safetensors file ({exc})") from None
