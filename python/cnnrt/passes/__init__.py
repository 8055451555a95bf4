"""Graph -> Graph passes, each a pure function in its own module.

PIPELINE runs in order; a pass that changed the graph appends its name to
Graph.applied (cnnrt info and the tests read it).
"""
from .remove_identity import remove_identity
from .fold_constants import fold_constants
from .fold_batchnorm import fold_batchnorm
from .fuse_activation import fuse_bias, fuse_residual, fuse_activation
from .eliminate_dead import eliminate_dead
from .fold_pad import fold_pad
from .layout import layout
from .concat_in_place import concat_in_place
from .cancel_transposes import cancel_transposes
from .recognize_activations import recognize_activations
from .fuse_pw_dw import fuse_pw_dw

PIPELINE = [
    remove_identity,
    fold_constants,
    recognize_activations,
    eliminate_dead,
    fold_pad,
    fold_batchnorm,
    fuse_bias,
    fuse_residual,
    fuse_activation,
    eliminate_dead,
    layout,
    cancel_transposes,
    concat_in_place,
    fuse_pw_dw,
]


def run_pipeline(graph, passes=None):
    for p in PIPELINE if passes is None else passes:
        graph = p(graph)
    return graph


__all__ = ["PIPELINE", "run_pipeline", "remove_identity", "fold_constants", "fold_batchnorm",
           "fuse_bias", "fuse_residual", "fuse_activation", "eliminate_dead", "fold_pad", "layout",
           "cancel_transposes", "concat_in_place", "recognize_activations", "fuse_pw_dw"]
