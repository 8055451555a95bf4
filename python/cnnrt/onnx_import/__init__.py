"""ONNX front end: read a model safely, check it, convert it to cnnrt's IR."""
from .reader import Weights, open_model, read_model
from .convert import check_supported, to_ir

__all__ = ["read_model", "open_model", "Weights", "to_ir", "check_supported"]
