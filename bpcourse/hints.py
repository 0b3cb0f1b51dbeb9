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
from .i18n import LANGUAGES, N_, tr, translate

PROBES = {**_probe_graphs.PROBES, **_probe_layers.PROBES, **_probe_deep.PROBES}

# The word before every hint in a message ("...\nHint: ..."), English "Hint:", Korean "힌트:". Code that looks
# for a hint in a message uses the functions below, which know every language's label.
HINT = N_("Hint:")


def hint_labels() -> tuple[str, ...]:
    """HINT in every language ("Hint:", "힌트:"), to recognise a hint whatever language added it."""
    return tuple(dict.fromkeys(translate(HINT, language) for language in LANGUAGES))


def has_hint(message: str) -> bool:
    """Whether ``message`` already carries a hint, in any language."""
    return any(label in message for label in hint_labels())


def split_hint(message: str) -> tuple[str, str]:
    """(the message before its first hint line, the rest) of "...\nHint: hint"; (message, "") without a hint."""
    found = [i for i in (message.find(f"\n{label}") for label in hint_labels()) if i >= 0]
    if not found:
        return message, ""
    head, rest = message[:min(found)], message[min(found) + 1:]
    return head, rest.split(":", 1)[1].removeprefix(" ")


def with_hint(message: str, hint: str) -> str:
    """``message`` with ``hint`` (translated if it is an English template) on a line of its own: "...\nHint: ...";
    ``message`` itself if there is no hint."""
    return f"{message}\n{tr(HINT)} {tr(hint)}" if hint else message


def diagnose(obj, name: str | None = None) -> str:
    """The hint for the classic mistake ``obj`` makes (in the language in use), or "" if none is recognised."""
    look = PROBES.get(name or getattr(obj, "__name__", ""))
    if look is None:
        return ""
    try:
        with np.errstate(all="ignore"):
            return tr(look(obj) or "")
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
        hint = "" if has_hint(message) else diagnose(obj, name)
        if not hint:
            raise
        if isinstance(exc, AssertionError):
            raise AssertionError(with_hint(message, hint)) from None
        raise AssertionError(with_hint(f"{type(exc).__name__}: {message}", hint)) from exc
