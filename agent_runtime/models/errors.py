"""The one model error: the model cannot be used; the message is one line saying what to do."""

from __future__ import annotations


class ModelError(RuntimeError):
    """The model cannot be used; the message is one line saying what to do."""
