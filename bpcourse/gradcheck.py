"""Gradient checking: compare a backward pass with central differences.

The idea (cs231n's gradient check): pick a random upstream gradient ``dout``, turn
``f`` into the scalar ``sum(f(x) * dout)`` and differentiate that numerically. The
result is the vector-Jacobian product your ``backward(dout)`` should return.

The step and the tolerance follow the precision your code computes in (the dtype of what
``f`` returns and of the gradient you pass; the lower one counts):

=========================  ==========  ===========  ======================================
precision                  step ``h``  tolerance    why
=========================  ==========  ===========  ======================================
float64 (and longdouble)   1e-5        1e-6         rounding noise ~1e-11, truncation ~1e-10
float32                    1e-2        1e-2         ~7 digits: noise eps·|f|/h ~1e-5 of |f|
float16                    —           —            ~3 digits: too few, a clear error
=========================  ==========  ===========  ======================================

For float32 each perturbed input is rounded to float32 first and the difference is divided
by the step actually taken, so a float32 forward sees exactly the point it is evaluated at.
The float32 step is about twice eps^(1/3) (the textbook optimum for a central difference),
since the layers of this course have small third derivatives; a classic mistake (a factor
of 2, a flipped sign, a missing dout) still has a relative error of 1/3 or more. Passing
``h=`` or ``tol=`` overrides the choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .i18n import tr

__all__ = [
    "Precision",
    "precision_of",
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
        raise TypeError(tr("{name} must be a number or an array of numbers, got {kind}: {x!r:.80}",
                           name=name, kind=type(x).__name__, x=x)) from None
    if not np.all(np.isfinite(arr)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0]) if arr.ndim else ()
        raise ValueError(tr("{name} contains a non-finite value ({value}) at index {index}; "
                            "a gradient can only be checked at a finite point", name=name, value=arr[bad], index=bad))
    return arr


@dataclass(frozen=True)
class Precision:
    """How finely a precision resolves numbers, and the step and tolerance a gradient check uses for it."""

    name: str
    h: float        # central-difference step
    tol: float      # largest relative error that passes
    floor: float    # relative errors are measured against at least floor * max(1, |gradient|)
    dtype: type     # perturbed inputs are rounded to this before f sees them


DOUBLE = Precision("float64", 1e-5, 1e-6, 1e-3, np.float64)
SINGLE = Precision("float32", 1e-2, 1e-2, 1e-2, np.float32)


def precision_of(*values, what: str = "f") -> Precision:
    """The lowest precision among ``values`` (arrays or numbers): DOUBLE or SINGLE; float16 is a TypeError."""
    found = DOUBLE
    for value in values:
        dtype = getattr(value, "dtype", None)
        if not isinstance(dtype, np.dtype):
            try:
                dtype = np.asarray(value).dtype
            except (TypeError, ValueError):
                continue  # not numbers: the conversion that follows says so
        if dtype.kind == "f" and dtype.itemsize <= 2:
            raise TypeError(tr("{what} computes in half precision (float16), which keeps only about 3 significant "
                               "digits: too few to check a gradient with central differences. Compute in float32 or "
                               "float64 instead", what=what))
        if (dtype.kind == "f" and dtype.itemsize == 4) or (dtype.kind == "c" and dtype.itemsize == 8):
            found = SINGLE
    return found


def _require_callable(f, name: str = "f") -> None:
    if not callable(f):
        raise TypeError(tr("{name} must be a function, got {kind}: {f!r:.80}", name=name, kind=type(f).__name__, f=f))


def _scalar(value, what: str) -> float:
    arr = np.asarray(value, dtype=np.float64)
    if arr.size != 1:
        raise ValueError(tr("{what} must return a single number, got an array of shape {shape}; "
                            "pass dout= to check an array-valued function", what=what, shape=arr.shape))
    return float(arr.reshape(()))


def numerical_derivative(f: Callable, x: float, h: float = 1e-4) -> float:
    """Central difference (f(x+h) - f(x-h)) / 2h of a function of one number."""
    _require_callable(f)
    x = float(_as_float_array(x, "x"))
    return (_scalar(f(x + h), "f") - _scalar(f(x - h), "f")) / (2 * h)


def numerical_gradient(f: Callable, x, h: float | None = None) -> np.ndarray:
    """Gradient of a scalar-valued ``f`` at ``x`` by central differences, one entry at a time.

    ``f`` receives a float64 array shaped like ``x``; the caller's ``x`` is never modified. Without
    ``h`` the step follows the precision of what ``f`` returns (see the module docstring).
    """
    return _numeric(f, x, None, h)[0]


def numerical_vjp(f: Callable, x, dout, h: float | None = None) -> np.ndarray:
    """``dout``-weighted gradient of an array-valued ``f``: what ``backward(dout)`` should return."""
    return _numeric(f, x, dout, h)[0]


def _numeric(f: Callable, x, dout, h: float | None, also=()) -> tuple[np.ndarray, Precision]:
    """(central differences of f, or of sum(f * dout), at x; the precision assumed).

    ``also`` holds more values whose precision counts (the analytic gradient). With ``h`` None the step
    follows the precision, and below float64 each perturbed entry is rounded to that precision and the
    difference divided by the step actually taken; an explicit ``h`` is used exactly as given.
    """
    _require_callable(f)
    x = _as_float_array(x, "x")
    out = f(x.copy())
    if dout is None:
        _scalar(out, "f")
        weighted = lambda z: _scalar(f(z), "f")  # noqa: E731
    else:
        dout = _as_float_array(dout, "dout")
        if np.shape(out) != dout.shape:
            raise ValueError(tr("dout has shape {dout_shape} but f(x) has shape {out_shape}; "
                                "the upstream gradient must have the shape of the output",
                                dout_shape=dout.shape, out_shape=np.shape(out)))
        weighted = lambda z: float(np.sum(np.asarray(f(z), dtype=np.float64) * dout))  # noqa: E731
    precision = precision_of(out, what="f")
    if also and precision_of(*also, what=tr("your gradient")) is SINGLE:
        precision = SINGLE
    rounded = h is None and precision is not DOUBLE
    h = precision.h if h is None else h
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        plus_at, minus_at = old + h, old - h
        if rounded:
            plus_at, minus_at = float(precision.dtype(plus_at)), float(precision.dtype(minus_at))
        x[idx] = plus_at
        plus = weighted(x.copy())
        x[idx] = minus_at
        minus = weighted(x.copy())
        x[idx] = old
        grad[idx] = (plus - minus) / ((plus_at - minus_at) if rounded else 2 * h)
    return grad, precision


def rel_error(a, b) -> float:
    """Largest elementwise |a - b| / max(|a| + |b|, 1e-8): scale-free, so 1e-7 is good for any size."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(tr("cannot compare arrays of shapes {a} and {b}", a=a.shape, b=b.shape))
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
    precision: str = "float64"
    h: float = 1e-5

    @property
    def ok(self) -> bool:
        return self.max_rel_error <= self.tol

    def __bool__(self) -> bool:
        return self.ok

    def report(self) -> str:
        verdict = tr("OK") if self.ok else tr("WRONG")
        text = tr("{name}: {verdict} (max relative error {error:.1e}, tolerance {tol:.0e}; {precision}, step "
                  "h={h:.0e})", name=self.name, verdict=verdict, error=self.max_rel_error, tol=self.tol,
                  precision=self.precision, h=self.h)
        if not self.ok:
            text += tr("\n  worst at index {index}: numerical gradient {expected:.6g}, your backward gave {got:.6g}",
                       index=self.worst_index, expected=self.expected, got=self.got)
            if self.hint:
                text += tr("\n  hint: {hint}", hint=tr(self.hint))
        return text

    __str__ = report


def _hint(numeric: np.ndarray, analytic: np.ndarray) -> str:
    """Recognise a few classic mistakes from the ratio between the two gradients."""
    if not np.any(numeric):
        return "" if not np.any(analytic) else tr("the true gradient is zero everywhere here")
    if not np.any(analytic):
        return tr("your gradient is all zeros: did you return before multiplying by dout?")
    mask = np.abs(numeric) > 1e-6
    ratio = analytic[mask] / numeric[mask]
    if np.allclose(ratio, ratio[0], rtol=1e-4):
        r = ratio[0]
        if np.isclose(r, -1):
            return tr("the sign is flipped")
        if abs(r) > 1:
            return tr("your gradient is {r:.4g} times too large", r=r)
        return tr("your gradient is {inverse:.4g} times too small", inverse=1 / r)
    return ""


def check_gradient(f: Callable, x, analytic, dout=None, name: str = "gradient",
                   tol: float | None = None, h: float | None = None) -> GradCheck:
    """Compare ``analytic`` with the numerical gradient of ``f`` at ``x``.

    Without ``dout``, ``f`` must return one number; with ``dout``, ``analytic`` is
    checked against the vector-Jacobian product ``dout`` · ∂f/∂x. Step and tolerance
    follow the precision of ``f``'s output and of ``analytic`` (the lower one) unless
    ``h`` / ``tol`` are given; the report says which precision was assumed.
    """
    precision_of(analytic, what=tr("{name}: your gradient", name=name))  # float16 is refused before anything runs
    numeric, precision = _numeric(f, x, dout, h, also=(analytic,))
    h = precision.h if h is None else h
    tol = precision.tol if tol is None else tol
    try:
        analytic = np.asarray(analytic, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(tr("{name}: the analytic gradient must be an array of numbers, got {kind}",
                           name=name, kind=type(analytic).__name__)) from None
    if analytic.shape != numeric.shape:
        raise ValueError(tr("{name} has shape {shape}, expected {expected} (the shape of x)",
                            name=name, shape=analytic.shape, expected=numeric.shape))
    extra = {"precision": precision.name, "h": h}
    if not np.all(np.isfinite(analytic)):
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(analytic))[0]) if analytic.ndim else ()
        return GradCheck(name, float("inf"), idx, float(numeric[idx]), float(analytic[idx]), tol,
                         tr("your gradient has inf or nan here"), **extra)
    # Central differences carry noise (~1e-10 in float64, ~1e-5 in float32), so where the true gradient is 0
    # a pure relative error would be huge for correct code; the floor scales with the gradient's own size.
    floor = precision.floor * max(1.0, float(np.max(np.abs(numeric), initial=0.0)))
    err = np.abs(numeric - analytic) / np.maximum(np.abs(numeric) + np.abs(analytic), floor)
    idx = np.unravel_index(int(np.argmax(err)), err.shape) if err.ndim else ()
    idx = tuple(int(i) for i in idx)
    return GradCheck(name, float(err[idx]), idx, float(numeric[idx]), float(analytic[idx]), tol,
                     _hint(numeric, analytic), **extra)
