"""cnnrt's exceptions. Every failure a user can cause is one of these."""


class CnnrtError(Exception):
    """Base class of every cnnrt error."""


class ModelLoadError(CnnrtError):
    """The model file is unreadable, truncated or inconsistent."""


class UnsupportedOpError(CnnrtError):
    """The model uses ops, attributes or dtypes cnnrt cannot run.

    ``nodes`` lists (node name, op type, reason) for every offending node.
    """

    def __init__(self, message, nodes=None):
        super().__init__(message)
        self.nodes = list(nodes or [])


class InputError(CnnrtError):
    """A feed has the wrong name, rank, shape or dtype."""
