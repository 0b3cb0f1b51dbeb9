"""Hints for a failing visible check: which classic mistake is it?

A check cell wraps its asserts in ``with explain(MulLayer):``. When one of them fails, ``explain`` tries the
student's class (or function) on a few inputs of its own, asks :mod:`bpcourse.mistakes` — the rules the hidden
tests use too — whether what came back is a classic mistake, and adds that mistake's hint to the message.
Anything else the code does (an exception, a wrong answer no rule knows) leaves the message as it was.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from . import _probe_deep, _probe_graphs, _probe_layers

PROBES = {**_probe_graphs.PROBES, **_probe_layers.PROBES, **_probe_deep.PROBES}


def diagnose(obj, name: str | None = None) -> str:
    """The hint for the classic mistake ``obj`` makes, or "" if none is recognised."""
    look = PROBES.get(name or getattr(obj, "__name__", ""))
    if look is None:
        return ""
    try:
        with np.errstate(all="ignore"):
            return look(obj) or ""
    except Exception:  # the student's code failed in its own way; the original message says enough
        return ""


@contextmanager
def explain(obj, name: str | None = None):
    """Add the hint for a recognised classic mistake to a check that fails inside the block.

    A failed assert gets the hint on its message. An error raised by the student's code itself (say a
    ValueError from comparing arrays) is kept as the cause, with the hint in an AssertionError after it.
    An unfinished exercise (NotImplementedError) passes through untouched.
    """
    try:
        yield
    except NotImplementedError:
        raise
    except Exception as exc:
        message = str(exc)
        hint = "" if "Hint:" in message else diagnose(obj, name)
        if not hint:
            raise
        if isinstance(exc, AssertionError):
            raise AssertionError(f"{message}\nHint: {hint}") from None
        raise AssertionError(f"{type(exc).__name__}: {message}\nHint: {hint}") from exc
