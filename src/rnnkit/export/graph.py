"""A small builder of ONNX graphs: operators by name, constants from arrays, fresh value names.

Why by hand rather than through ``torch.onnx.export``: rnnkit's recurrent layers run on a compiled
loop that no exporter can trace, and the exporters' own RNN paths are where exports go wrong
(``pack_padded_sequence`` models exported with silently wrong outputs, pytorch#48460 and #28423; GRUs
with wrong numbers or a frozen time dimension from the newer exporter, pytorch#189225 and #191855).
Each rnnkit layer maps onto one standard ONNX operator (``GRU``, ``LSTM``, ``RNN``, ``Gather``,
``Conv`` ...), so the graph is written directly with the ``onnx`` package's helpers, every dimension
that varies (batch, time) symbolic, and checked by ``onnx.checker``.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 18  # ScatterND with reduction, Reduce* with axes as an input


class Graph:
    """Nodes, constants, inputs and outputs of one ONNX graph under construction.

    ``op("Add", a, b)`` appends a node and returns the name of its output (a list of names for
    ``outputs > 1``); ``const(array)`` stores an initializer and returns its name.
    """

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.outputs: list[onnx.ValueInfoProto] = []
        self._count = 0

    def _name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def input(self, name: str, dtype: int, shape: list[str | int]) -> str:
        """Declare an input of element type ``dtype`` (``TensorProto.INT64`` ...) and ``shape``, whose
        strings are symbolic dimensions (``"batch"``, ``"time"``)."""
        self.inputs.append(helper.make_tensor_value_info(name, dtype, shape))
        return name

    def output(self, value: str, name: str, dtype: int, shape: list[str | int]) -> None:
        """Publish ``value`` as the graph output ``name``."""
        self.nodes.append(helper.make_node("Identity", [value], [name]))
        self.outputs.append(helper.make_tensor_value_info(name, dtype, shape))

    def const(self, value: np.ndarray | float | int | list, dtype: type | None = None, hint: str = "const") -> str:
        """An initializer holding ``value`` (float32 unless ``dtype`` or an integer array says otherwise)."""
        array = np.asarray(value, dtype=dtype)
        if dtype is None and array.dtype.kind == "f":
            array = array.astype(np.float32)
        name = self._name(hint)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def ints(self, *values: int) -> str:
        """An int64 vector constant (shapes, axes, indices)."""
        return self.const(np.array(values, dtype=np.int64), hint="ints")

    def scalar(self, value: float | int) -> str:
        """A 0-d constant: int64 for an int, float32 for a float."""
        return self.const(np.array(value, dtype=np.int64 if isinstance(value, int) else np.float32), hint="scalar")

    def dim(self, x: str, axis: int) -> str:
        """The size of ``x`` along ``axis``, as a one-element int64 vector."""
        return self.op("Gather", self.op("Shape", x), self.ints(axis))

    def slice(self, x: str, start: int | str, end: int | str | None = None, axis: int = 0) -> str:
        """``x[start:end]`` along ``axis``; ints are constants, strings one-element vectors, None the end."""
        bound = np.iinfo(np.int64).max if end is None else end
        start, bound = (self.ints(v) if isinstance(v, int) else v for v in (start, bound))
        return self.op("Slice", x, start, bound, self.ints(axis))

    def unsqueeze(self, x: str, *axes: int) -> str:
        return self.op("Unsqueeze", x, self.ints(*axes))

    def squeeze(self, x: str, *axes: int) -> str:
        return self.op("Squeeze", x, self.ints(*axes))

    def op(self, op_type: str, *inputs: str, outputs: int = 1, **attributes) -> str | list[str]:
        names = [self._name(op_type.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), names, **attributes))
        return names[0] if outputs == 1 else names

    def model(self, name: str, doc: str, metadata: dict[str, str]) -> onnx.ModelProto:
        """The finished, checked model."""
        graph = helper.make_graph(self.nodes, name, self.inputs, self.outputs, self.initializers, doc_string=doc)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="rnnkit")
        model.ir_version = 9  # readable by onnxruntime 1.16 and later
        helper.set_model_props(model, metadata)
        onnx.checker.check_model(model, full_check=True)
        return model


FLOAT, INT64 = TensorProto.FLOAT, TensorProto.INT64
