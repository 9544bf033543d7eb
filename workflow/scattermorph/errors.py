"""Exceptions raised by scattermorph, each naming the bad value and the fix."""

__all__ = ["ParameterError", "SimulationError", "InputFileError"]


class ParameterError(ValueError):
    """A physical or numerical parameter is out of its allowed range."""


class SimulationError(RuntimeError):
    """A simulation failed (e.g. the field blew up to NaN/inf)."""


class InputFileError(ValueError):
    """A user-supplied file is malformed or cannot be used."""
