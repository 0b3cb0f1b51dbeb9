"""Gradient checking: compare a backward pass with central differences.

The idea (cs231n's gradient check): pick a random upstream gradient ``dout``, turn
``f`` into the scalar ``sum(f(x) * dout)`` and differentiate that numerically. The
result is the vector-Jacobian product your ``backward(dout)`` should return.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = [
    "numerical_derivative",
    "numerical_gradient",
    "numerical_vjp",
    "rel_error",
    "GradCheck",
    "check_gradient",
]


def _as_float_array(x, name: str) -> np.ndarray:
    """A float64 copy of ``x``; integer input is converted so that x + h is not truncated."""
    try:
        arr = np.array(x, dtype=np.float64, copy=True)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number or an array of numbers, got {type(x).__name__}: {x!r:.80}") from None
    if not np.all(np.isfinite(arr)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0]) if arr.ndim else ()
        raise ValueError(f"{name} contains a non-finite value ({arr[bad]}) at index {bad}; "
                         "a gradient can only be checked at a finite point")
    return arr


def _require_callable(f, name: str = "f") -> None:
    if not callable(f):
        raise TypeError(f"{name} must be a function, got {type(f).__name__}: {f!r:.80}")


def _scalar(value, what: str) -> float:
    arr = np.asarray(value, dtype=np.float64)
    if arr.size != 1:
        raise ValueError(f"{what} must return a single number, got an array of shape {arr.shape}; "
                         "pass dout= to check an array-valued function")
    return float(arr.reshape(()))


def numerical_derivative(f: Callable, x: float, h: float = 1e-4) -> float:
    """Central difference (f(x+h) - f(x-h)) / 2h of a function of one number."""
    _require_callable(f)
    x = float(_as_float_array(x, "x"))
    return (_scalar(f(x + h), "f") - _scalar(f(x - h), "f")) / (2 * h)


def numerical_gradient(f: Callable, x, h: float = 1e-5) -> np.ndarray:
    """Gradient of a scalar-valued ``f`` at ``x`` by central differences, one entry at a time.

    ``f`` receives a float64 array shaped like ``x``; the caller's ``x`` is never modified.
    """
    _require_callable(f)
    x = _as_float_array(x, "x")
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        plus = _scalar(f(x.copy()), "f")
        x[idx] = old - h
        minus = _scalar(f(x.copy()), "f")
        x[idx] = old
        grad[idx] = (plus - minus) / (2 * h)
    return grad


def numerical_vjp(f: Callable, x, dout, h: float = 1e-5) -> np.ndarray:
    """``dout``-weighted gradient of an array-valued ``f``: what ``backward(dout)`` should return."""
    _require_callable(f)
    x = _as_float_array(x, "x")
    dout = _as_float_array(dout, "dout")
    out_shape = np.shape(f(x.copy()))
    if out_shape != dout.shape:
        raise ValueError(f"dout has shape {dout.shape} but f(x) has shape {out_shape}; "
                         "the upstream gradient must have the shape of the output")
    return numerical_gradient(lambda z: np.sum(np.asarray(f(z), dtype=np.float64) * dout), x, h)


def rel_error(a, b) -> float:
    """Largest elementwise |a - b| / max(|a| + |b|, 1e-8): scale-free, so 1e-7 is good for any size."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare arrays of shapes {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-8)))


@dataclass
class GradCheck:
    """The outcome of one check; ``bool(check)`` says whether it passed."""

    name: str
    max_rel_error: float
    worst_index: tuple
    expected: float
    got: float
    tol: float
    hint: str = ""

    @property
    def ok(self) -> bool:
        return self.max_rel_error <= self.tol

    def __bool__(self) -> bool:
        return self.ok

    def report(self) -> str:
        verdict = "OK" if self.ok else "WRONG"
        text = f"{self.name}: {verdict} (max relative error {self.max_rel_error:.1e}, tolerance {self.tol:.0e})"
        if not self.ok:
            text += (f"\n  worst at index {self.worst_index}: numerical gradient {self.expected:.6g}, "
                     f"your backward gave {self.got:.6g}")
            if self.hint:
                text += f"\n  hint: {self.hint}"
        return text

    __str__ = report


def _hint(numeric: np.ndarray, analytic: np.ndarray) -> str:
    """Recognise a few classic mistakes from the ratio between the two gradients."""
    if not np.any(numeric):
        return "" if not np.any(analytic) else "the true gradient is zero everywhere here"
    if not np.any(analytic):
        return "your gradient is all zeros: did you return before multiplying by dout?"
    mask = np.abs(numeric) > 1e-6
    ratio = analytic[mask] / numeric[mask]
    if np.allclose(ratio, ratio[0], rtol=1e-4):
        r = ratio[0]
        if np.isclose(r, -1):
            return "the sign is flipped"
        if abs(r) > 1:
            return f"your gradient is {r:.4g} times too large"
        return f"your gradient is {1 / r:.4g} times too small"
    return ""


def check_gradient(f: Callable, x, analytic, dout=None, name: str = "gradient",
                   tol: float = 1e-6, h: float = 1e-5) -> GradCheck:
    """Compare ``analytic`` with the numerical gradient of ``f`` at ``x``.

    Without ``dout``, ``f`` must return one number; with ``dout``, ``analytic`` is
    checked against the vector-Jacobian product ``dout`` · ∂f/∂x.
    """
    numeric = numerical_gradient(f, x, h) if dout is None else numerical_vjp(f, x, dout, h)
    try:
        analytic = np.asarray(analytic, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: the analytic gradient must be an array of numbers, "
                        f"got {type(analytic).__name__}") from None
    if analytic.shape != numeric.shape:
        raise ValueError(f"{name} has shape {analytic.shape}, expected {numeric.shape} (the shape of x)")
    if not np.all(np.isfinite(analytic)):
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(analytic))[0]) if analytic.ndim else ()
        return GradCheck(name, float("inf"), idx, float(numeric[idx]), float(analytic[idx]), tol,
                         "your gradient has inf or nan here")
    # Central differences carry ~1e-10 of noise, so where the true gradient is 0 a pure relative
    # error would be huge for correct code; the floor scales with the gradient's own size.
    floor = 1e-3 * max(1.0, float(np.max(np.abs(numeric), initial=0.0)))
    err = np.abs(numeric - analytic) / np.maximum(np.abs(numeric) + np.abs(analytic), floor)
    idx = np.unravel_index(int(np.argmax(err)), err.shape) if err.ndim else ()
    idx = tuple(int(i) for i in idx)
    return GradCheck(name, float(err[idx]), idx, float(numeric[idx]), float(analytic[idx]), tol,
                     _hint(numeric, analytic))
