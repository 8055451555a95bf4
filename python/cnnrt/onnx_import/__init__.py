"""ONNX front end: read a model safely, check it, convert it to cnnrt's IR."""
from .reader import read_model
from .convert import check_supported, to_ir

__all__ = ["read_model", "to_ir", "check_supported"]
