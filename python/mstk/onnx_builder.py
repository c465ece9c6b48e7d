"""A small helper for writing ONNX graphs node by node with the ``onnx`` package (no
torch): the exported models (the local generator's decoder, the fp32 MiniLM encoder)
are built with it."""

from __future__ import annotations

from typing import Any

import numpy as np


class GraphBuilder:
    """Accumulates nodes and initializers; names are generated and unique."""

    def __init__(self) -> None:
        from onnx import helper, numpy_helper

        self.helper = helper
        self.numpy_helper = numpy_helper
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._count = 0

    def _name(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def const(self, array: np.ndarray, stem: str = "const") -> str:
        name = self._name(stem)
        self.initializers.append(self.numpy_helper.from_array(np.array(array, order="C"), name))  # keeps 0-d scalars 0-d
        return name

    def ints(self, values: list[int]) -> str:
        return self.const(np.asarray(values, np.int64), "shape")

    def op(self, op_type: str, inputs: list[str], outputs: int | list[str] = 1, domain: str = "", **attrs: Any) -> Any:
        names = [self._name(op_type.lower()) for _ in range(outputs)] if isinstance(outputs, int) else outputs
        self.nodes.append(self.helper.make_node(op_type, inputs, names, domain=domain or None, **attrs))
        return names[0] if len(names) == 1 else names
