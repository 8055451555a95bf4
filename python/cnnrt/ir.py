"""cnnrt's own small graph: what the ONNX importer produces, what every pass
takes and returns, and what is lowered to the C++ runtime.

Plain data. Passes never mutate a Graph they are given: they return a new one
(node lists are copied; constant arrays are shared, never written).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Union

import numpy as np

Dim = Union[int, str, None]


@dataclass
class Value:
    name: str
    dtype: np.dtype
    shape: Optional[List[Dim]]  # None: rank unknown; str/None dims: symbolic/unknown


@dataclass
class Node:
    op: str
    name: str
    inputs: List[str]  # "" marks an absent optional input
    outputs: List[str]  # "" marks an output not requested
    attrs: Dict[str, object] = field(default_factory=dict)

    def where(self) -> str:
        return f"node '{self.name}' ({self.op})"


@dataclass
class Graph:
    name: str
    nodes: List[Node]
    inputs: List[Value]
    outputs: List[Value]
    consts: Dict[str, np.ndarray]
    shapes: Dict[str, Value] = field(default_factory=dict)  # inferred value info
    opset: int = 0
    applied: List[str] = field(default_factory=list)  # names of passes that changed something

    def replace(self, **kw) -> "Graph":
        return dataclasses.replace(self, **kw)

    def consumers(self) -> Dict[str, List[Node]]:
        out: Dict[str, List[Node]] = {}
        for n in self.nodes:
            for i in n.inputs:
                if i:
                    out.setdefault(i, []).append(n)
        return out

    def producers(self) -> Dict[str, Node]:
        return {o: n for n in self.nodes for o in n.outputs if o}

    def output_names(self) -> set:
        return {v.name for v in self.outputs}

    def static_shape(self, name: str) -> Optional[List[Dim]]:
        if name in self.consts:
            return list(self.consts[name].shape)
        v = self.shapes.get(name)
        if v is None:
            v = next((x for x in self.inputs + self.outputs if x.name == name), None)
        return None if v is None else v.shape
