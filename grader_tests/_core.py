"""What every hidden test shares: a seeded generator, a quiet call into student code,
our own central differences, and comparisons that explain themselves.

No reference solution lives here. Forward values are checked against the formulas the
notebooks state, and every backward against central differences of those same formulas,
computed here in float64 (``check_layer``): the reference never depends on what the
student's code returns, so a forward that answers differently near the checked point
cannot steer it, and reading this file gives no answer away. The student's forward runs
only at the points whose outputs are checked.

Comparisons follow the precision of what the student returns (``tolerances``): float64
(and longdouble, which the transcript stores as float64) is held to the tolerances the
check asks for; float32 gets a looser relative tolerance and an absolute one scaled by the
size of the expected values; float16 fails with a message that says why.
"""

from __future__ import annotations

import contextlib
import io
import warnings
import zlib

import numpy as np

from bpcourse import mistakes
from bpcourse.hints import has_hint, split_hint, with_hint
from bpcourse.i18n import N_, tr

from . import _replay
from ._replay import hidden_check, kind

__all__ = ["Failure", "hidden_check", "kind", "rng", "call", "num_vjp", "expect_close", "expect_true", "as_number",
           "matches", "replace_hint", "with_hint", "split_hint", "has_hint", "tolerances", "check_layer", "CASES"]

# The shapes every elementwise check runs on: a scalar, a vector, a non-square matrix, a batch of one.
CASES = [(), (5,), (3, 4), (1, 6)]


class Failure(AssertionError):
    """A hidden test failed; the message is written for the student."""

    def __init__(self, message: str):
        super().__init__(message)
        _minimal_tracebacks()
        session = _replay._session
        if session is not None and session.mode == "replay" and session.first_failure is None:
            session.first_failure = message


def _minimal_tracebacks() -> None:
    # In a graded notebook the student (and nbgrader's feedback) should see the message, not the
    # frames of the hidden test cell; IPython's Minimal mode prints only "Failure: ...".
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and hasattr(shell, "InteractiveTB"):
        shell.InteractiveTB.set_mode("Minimal")


def rng(name: str) -> np.random.Generator:
    """A generator seeded from the check's name: the same submission always sees the same numbers."""
    return np.random.default_rng(zlib.crc32(name.encode()))


@contextlib.contextmanager
def _quiet():
    # nbgrader scores a test cell 0 when anything reaches stderr, so a NumPy warning from
    # correct code must not escape; wrong values are caught by the comparisons instead.
    with warnings.catch_warnings(), np.errstate(all="ignore"), \
            contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def call(fn, *args, what: str):
    """Call student code quietly; turn its exceptions into a message that names the call.

    Every touch of a student object goes through here, so the grader can replay the check from a
    transcript (see ``_replay``): the result comes back as a plain copy (numbers, arrays, lists,
    dicts), and objects as handles that only ``call`` can use.
    """
    __tracebackhide__ = True
    status, value = _replay.invoke(fn, args, what, lambda f, a: _run(f, a, what))
    if status == "raise":
        raise Failure(value)
    return value


def _run(fn, args, what: str):
    try:
        with _quiet():
            return "ok", fn(*args)
    except NotImplementedError:
        return "raise", tr("{what} is not implemented yet (it raises NotImplementedError).", what=what)
    except _replay.ReplayError:
        raise
    except Exception as exc:  # student code may raise anything
        return "raise", tr("{what} raised {kind}: {exc}", what=what, kind=type(exc).__name__, exc=exc)


def num_vjp(f, x: np.ndarray, dout: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of sum(f(x) * dout) with respect to x (float64)."""
    __tracebackhide__ = True
    x = np.array(x, dtype=np.float64)
    dout = np.asarray(dout, dtype=np.float64)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        plus = np.sum(np.asarray(f(x.copy()), dtype=np.float64) * dout)
        x[idx] = old - h
        minus = np.sum(np.asarray(f(x.copy()), dtype=np.float64) * dout)
        x[idx] = old
        grad[idx] = (plus - minus) / (2 * h)
    return grad


# Single precision (float32, complex64) keeps about 7 digits: a correct answer is off by a few units in
# the last place, more where a sum cancels. 1e-3 relative and 1e-4 of the largest expected value absolute
# leave a wide margin for that, while the classic mistakes (a factor, a swap, a sign, a missing dout) are
# off by 30 % or more and still fail.
SINGLE_RTOL, SINGLE_ATOL_SCALE = 1e-3, 1e-4
HALF_PRECISION = N_("half precision (float16) keeps only about 3 significant digits, too few to check a "
                    "gradient. Compute in float32 or float64 (drop the float16 conversion).")


def _precision(value) -> str:
    """'half', 'single' or 'double': the precision of what the student returned, before any conversion."""
    if isinstance(value, (np.ndarray, np.generic)):
        dtype = value.dtype
    elif isinstance(value, (list, tuple)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                dtype = np.asarray(value).dtype
        except (TypeError, ValueError):
            return "double"  # not numbers: the conversion that follows says so
    else:
        return "double"  # Python numbers are double precision
    if dtype.kind == "f" and dtype.itemsize <= 2:
        return "half"
    if (dtype.kind == "f" and dtype.itemsize == 4) or (dtype.kind == "c" and dtype.itemsize == 8):
        return "single"
    return "double"


def tolerances(got, expected, what: str, *, rtol: float, atol: float) -> tuple[float, float]:
    """(rtol, atol) for comparing a student's value with ``expected``, by the precision ``got`` is in.

    float64 and wider keep what the caller asked for; float32 is allowed SINGLE_RTOL and an absolute
    error of SINGLE_ATOL_SCALE times the largest expected value; float16 is a Failure.
    """
    __tracebackhide__ = True
    precision = _precision(got)
    if precision == "half":
        raise Failure(with_hint(tr("{what} is in half precision (float16).", what=what), HALF_PRECISION))
    if precision == "single":
        scale = float(np.max(np.abs(np.asarray(expected, dtype=np.float64)), initial=0.0))
        return max(rtol, SINGLE_RTOL), max(atol, SINGLE_ATOL_SCALE * scale)
    return rtol, atol


def _as_array(value, what: str) -> np.ndarray:
    __tracebackhide__ = True
    if value is None:
        raise Failure(tr("{what} is None: did you forget to return it?", what=what))
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise Failure(tr("{what} should be a number or an array of numbers, got {kind}: {value!r:.100}",
                         what=what, kind=kind(value), value=value)) from None


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def _ratio_hint(got: np.ndarray, expected: np.ndarray, hints: dict) -> str:
    """Name a classic mistake when got is a constant multiple of expected (or its sign flip)."""
    return mistakes.ratio(got, expected, hints)


def expect_close(got, expected, what: str, *, rtol: float = 1e-5, atol: float = 1e-7,
                 hints: dict | None = None, shape_hint: str = "") -> None:
    """Fail with the worst index, expected vs got, and a hint for a recognised mistake (``hints`` and
    ``shape_hint`` may be English templates: the message translates them)."""
    __tracebackhide__ = True
    expected = np.asarray(expected, dtype=np.float64)
    if got is not None:
        rtol, atol = tolerances(got, expected, what, rtol=rtol, atol=atol)
    got = _as_array(got, what)
    if got.shape != expected.shape:
        if got.size == expected.size and got.ndim != expected.ndim and not shape_hint:
            shape_hint = N_("the numbers may be right: reshape it to the expected shape.")
        msg = tr("{what} has shape {shape}, expected {expected}.", what=what, shape=got.shape,
                 expected=expected.shape)
        raise Failure(with_hint(msg, shape_hint))
    bad = ~np.isclose(got, expected, rtol=rtol, atol=atol) | ~np.isfinite(got)
    if not bad.any():
        return
    err = np.where(np.isfinite(got), np.abs(got - expected), np.inf)
    idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(err)), err.shape)) if err.ndim else ()
    where = tr(" at index {index}", index=idx) if idx else ""
    msg = tr("{what} is wrong{where}: expected {expected}, got {got} ({bad} of {size} values wrong).", what=what,
             where=where, expected=_fmt(expected[idx]), got=_fmt(got[idx]), bad=int(bad.sum()), size=bad.size)
    if not np.isfinite(got[idx]):
        hint = N_("the value is inf or nan: an overflow somewhere (exp of a large number?).")
    else:
        hint = _ratio_hint(got, expected, hints or {})
    raise Failure(with_hint(msg, hint))


def as_number(value, what: str) -> float:
    """A student's single number as a float, or a Failure that says what came back instead."""
    __tracebackhide__ = True
    if _precision(value) == "half":
        raise Failure(with_hint(tr("{what} is in half precision (float16).", what=what), HALF_PRECISION))
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise Failure(tr("{what} should be a number, got {kind}: {value!r:.100}", what=what, kind=kind(value),
                         value=value)) from None
    expect_true(arr.size == 1, tr("{what} should be a single number, got an array of shape {shape}.", what=what,
                                  shape=arr.shape))
    return float(arr.reshape(()))


def matches(a, b, rtol: float = 1e-6, atol: float = 1e-9) -> bool:
    """Whether a student's value equals b (same shape, close): used to recognise a classic mistake."""
    if _precision(a) == "single":
        rtol = max(rtol, SINGLE_RTOL)
        atol = max(atol, SINGLE_ATOL_SCALE * float(np.max(np.abs(np.asarray(b, dtype=np.float64)), initial=0.0)))
    try:
        a = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return a.shape == np.shape(b) and bool(np.allclose(a, b, rtol=rtol, atol=atol))


def replace_hint(message: str, hint: str) -> str:
    """The failure message with its hint (in any language) replaced by a sharper one (translated if it is an
    English template)."""
    return with_hint(split_hint(message)[0], hint)


def expect_true(condition: bool, message: str) -> None:
    __tracebackhide__ = True
    if not condition:
        raise Failure(message)


def _copy(a):
    return a.copy() if isinstance(a, np.ndarray) else a


def check_layer(make, args: list, formula, name: str, grad_names: list[str], *,
                seed: str, hints: dict | None = None, grad_hints: dict | None = None,
                formula_text: str = N_("the formula")):
    """One forward/backward round trip of a layer built by ``make()``.

    ``formula(*inputs)`` is the grader's float64 implementation of the formula the notebook states.
    The student's forward runs once, at ``args``, and its output is compared with ``formula(*args)``.
    ``backward`` gets a random upstream gradient, and each returned gradient is compared with central
    differences of ``formula`` (named ``formula_text`` in messages), never of the student's forward: what
    the student's code would answer near ``args`` cannot move the reference. Returns the layer so callers
    can check extra attributes.
    """
    __tracebackhide__ = True
    points = [np.asarray(a, dtype=np.float64) for a in args]
    expected_out = formula(*points)
    layer = call(make, what=tr("creating {name}", name=name))
    out = call(layer.forward, *[_copy(a) for a in args], what=f"{name}.forward")
    expect_close(out, expected_out, tr("{name}.forward output", name=name), hints=hints)
    dout = rng(seed).standard_normal(np.shape(expected_out))
    if not np.shape(expected_out):
        dout = float(dout)
    grads = call(layer.backward, _copy(dout), what=f"{name}.backward")
    if len(args) == 1:
        grads = (grads,)
    elif not (isinstance(grads, (tuple, list)) and len(grads) == len(args)):
        length = tr(" of length {length}", length=len(grads)) if hasattr(grads, "__len__") else ""
        raise Failure(tr("{name}.backward should return {count} gradients ({names}), got {kind}{length}.",
                         name=name, count=len(args), names=", ".join(grad_names), kind=kind(grads), length=length))
    for i, gname in enumerate(grad_names):
        def f(z, i=i):
            return formula(*points[:i], z, *points[i + 1:])
        numeric = num_vjp(f, points[i], np.asarray(dout))
        expect_close(grads[i], numeric, tr("{name}.backward: {gname} (checked against numerical gradients of "
                                           "{formula})", name=name, gname=gname, formula=tr(formula_text)),
                     rtol=1e-4, atol=1e-6, hints=(grad_hints or {}).get(gname))
    return layer
