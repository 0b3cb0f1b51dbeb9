"""Hidden tests for notebook 02: numerical differentiation and the chain rule by hand.

Derivatives of the test functions are known in closed form; everything a student
backpropagates is checked against our own central differences of the formula the notebook
states (z = (x + y)², f = (x + y) z, f = sigmoid(w0 x0 + w1 x1 + w2), f = x sigmoid(w x + b)), never of the student's
forward: the student's f is only graded at the points where it is asked, so an f that answered
differently next to them cannot move the reference. A few classic mistakes (forward difference,
missing factor 2, an unswapped multiply gate, a lost sign at the *-1 node, a gradient overwritten at a branch)
are recognised and named.

Student code gets fresh copies (a new wrapper around each test function, new arrays) on every call, and
what it returns is read into plain data inside the call (``nb01.plain``). Every number it returns must be a
real number (Python, NumPy scalar or array, any precision but half); it is compared with tolerances by
that precision. Each exercise is graded on its own: no check calls another exercise's function.
"""

from __future__ import annotations

import math

import numpy as np

from bpcourse import mistakes
from bpcourse.i18n import N_, tr

from ._core import (
    Failure,
    call,
    expect_close,
    expect_true,
    hidden_check,
    kind,
    num_vjp,
    rng,
    split_hint,
    tolerances,
    with_hint,
)
from ._core import (
    matches as _close,
)
from .nb01 import number_problem, returning_plain

__all__ = ["check_numerical_diff", "check_chain_rule", "check_circuit", "check_sigmoid_gate", "check_swish_gate"]

# f, f', and the range of x: chosen so that with h = 1e-4 a forward difference is off by
# more than 3e-5 (relative) while a central one is within 4e-8, far either side of RTOL.
FUNCTIONS = [
    ("exp(x)", np.exp, np.exp, (0.5, 1.5)),
    ("x**3", lambda x: x ** 3, lambda x: 3 * x ** 2, (1.0, 3.0)),
    ("sin(x)", np.sin, np.cos, (0.3, 1.2)),
    ("log(x)", np.log, lambda x: 1 / x, (0.3, 0.8)),
]
RTOL = 1e-6
DEFAULT_H = 1e-4  # the notebook: "Write numerical_diff(f, x, h=1e-4)"
DEFAULT_H_TEXT = "1e-4"


def _fresh_fn(f):
    """A new function object around the grader's ``f`` for one call: student code holds only this copy."""
    def f_copy(t):
        return f(t)
    return f_copy


def _check_numbers(value, what: str, names: list[str] | None = None) -> None:
    """A Failure naming the entry, unless ``value`` is a real number, a real array, or a (nested) tuple or
    list of real numbers. Shapes are left to the comparison that follows."""
    __tracebackhide__ = True
    if isinstance(value, (tuple, list)):
        for i, item in enumerate(value):
            label = names[i] if names and len(names) == len(value) else f"{what}[{i}]"
            _check_numbers(item, label)
        return
    if isinstance(value, np.ndarray) and value.dtype.kind in "iuf":
        return
    problem = number_problem(value)
    if problem:
        raise Failure(tr("{what} should be a number, got {problem}.", what=what, problem=problem))


def _numbers_array(part) -> np.ndarray:
    """A checked number or sequence of numbers as an array that keeps its floating precision (float32 stays
    float32, so its tolerances apply; in a mixed sequence the narrowest float wins), integers as float64."""
    items = part if isinstance(part, (tuple, list)) else [part]
    floats = [np.asarray(v).dtype for v in items if np.asarray(v).dtype.kind == "f"]
    narrowest = min(floats, key=lambda d: d.itemsize) if floats else np.dtype(np.float64)
    if narrowest.itemsize >= 8:
        narrowest = np.dtype(np.float64)
    return np.asarray(part, dtype=narrowest)


def _fmt(v) -> str:
    if np.ndim(v):
        return "[" + ", ".join(f"{float(t):.4g}" for t in np.ravel(v)) + "]"
    return f"{float(v):.6g}"


# Two hints of _core.expect_close, as the English text it translates (the catalogue gives the same Korean).
OVERFLOW_HINT = "the value is inf or nan: an overflow somewhere (exp of a large number?)."
RESHAPE_HINT = "the numbers may be right: reshape it to the expected shape."
def _expect(got, expected, what: str, *, hints: dict | None = None, extra_hint: str = "", **kw) -> None:
    """expect_close, where ``extra_hint`` (a recognised mistake) wins; for one number only the named hints
    are kept, since any wrong number is a "constant multiple" of the right one and that says nothing."""
    __tracebackhide__ = True
    try:
        expect_close(got, expected, what, hints=hints, **kw)
    except Failure as exc:
        message, hint = split_hint(str(exc))
        # keep the named hints, overflow and shape hints, and ratio hints only where a ratio means something
        shape_hints = (kw.get("shape_hint", ""), RESHAPE_HINT, tr(RESHAPE_HINT))
        keep = (hint in (hints or {}).values() or "inf or nan" in hint or hint == tr(OVERFLOW_HINT)
                or np.size(expected) > 1 or message.startswith(what + " has shape") or hint in shape_hints)
        hint = extra_hint or (hint if keep else "")
        raise Failure(with_hint(message, hint)) from None


# ---- exercise 1 ---------------------------------------------------------------------------------------

CENTRAL = mistakes.CENTRAL


def _difference_hint(got, f, x, h=DEFAULT_H) -> str:
    return mistakes.difference(got, f, x, h)


# Which step does numerical_diff(f, x) take when no h is given? The accuracy checks below cannot tell: with
# any step from about 1e-7 to 1e-3 a central difference of a smooth function is well within their tolerance.
# For f(x) = x**3 the central difference is a polynomial in the step, with no accuracy to hide behind:
# (f(x+h) - f(x-h)) / (2h) = 3x² + h² exactly (the h³ terms of (x ± h)³ cancel). At x = 0 the result IS h²,
# so the step the code took reads off as sqrt(result), to rounding: 1e-8 for the required h = 1e-4, 1e-12
# for 1e-6, 1e-4 for 1e-2; a central difference with half steps, (f(x+h/2) - f(x-h/2)) / h, gives h²/4. At
# x = 3 it is 27 + h², which catches a step that grows with x (h² = 1e-8 there against rounding of about
# 1e-10, so the step is known to a few per cent). Any way of writing the central difference with h = 1e-4
# passes, since they are all the same number up to rounding: divided by 2h, by 2 and then h, by
# (x + h) - (x - h), as the mean of a forward and a backward difference, or with the step built from two
# halves (x + 2 * (h/2)). A forward or backward difference also gives h² at x = 0; the accuracy checks
# name those. The comparison is by precision (a float32 result gets float32 tolerances).
STEP_PROBES = ((0.0, 1e-6, 0.0), (3.0, 0.0, 1e-9))  # (x, rtol, atol) of the comparison with h = DEFAULT_H


def _shown_step(step: float) -> str:
    """The step with enough digits to differ from DEFAULT_H when it does."""
    for digits in range(3, 13):
        text = f"{step:.{digits}g}"
        if float(text) != DEFAULT_H or step == DEFAULT_H:
            return text
    return repr(step)


HALF_STEPS = mistakes.HALF_STEPS


def _cube_step(got, x: float) -> float | None:
    """The step h of a central difference of x**3 at x that returned ``got`` (it is 3x² + h²), if any."""
    value = float(np.asarray(got, dtype=np.float64).reshape(()))
    excess = value - 3 * x * x
    return math.sqrt(excess) if math.isfinite(excess) and excess > 0 else None


def _step_message(got, x: float, expected: float) -> str:
    value = float(np.asarray(got, dtype=np.float64).reshape(()))
    step = _cube_step(got, x)
    if step is not None:
        uses = tr("your code appears to use a step of {step}", step=_shown_step(step))
    else:
        uses = tr("your code's result fits no step h at all (it should be 3x² + h² with h > 0)")
    if step is not None and math.isclose(step, DEFAULT_H / 2, rel_tol=1e-2):
        hint = tr(HALF_STEPS)
    else:
        hint = tr(mistakes.DEFAULT_STEP)
    exact = "h²" if x == 0 else f"{3 * x * x:g} + h²"
    message = tr("numerical_diff(f, x) called without h should use the step the notebook asks for, the "
                 "default h={h}, but {uses}: for f(x) = x**3 the central difference "
                 "(f(x+h) - f(x-h)) / (2h) at x = {x:g} is exactly {exact}, which is {expected:.12g} for "
                 "h={h}; numerical_diff(f, {x:g}) gave {value:.12g}.",
                 h=DEFAULT_H_TEXT, uses=uses, x=x, exact=exact, expected=expected, value=value)
    return with_hint(message + ("" if x == 0 else tr(" Does your step change with x?")), hint)


def _real_number(got) -> bool:
    return not number_problem(got)


@hidden_check
def check_numerical_diff(numerical_diff) -> None:
    """Central differences with the default h on known derivatives, for float and int x, with h given, and
    whether the default step is the notebook's h=1e-4 (STEP_PROBES)."""
    __tracebackhide__ = True
    cube = FUNCTIONS[1][1]
    step_problem, step = "", None
    for x, rtol, atol in STEP_PROBES:
        what = tr("numerical_diff(f, {x:g}) with f(x) = x**3", x=x)
        got = call(returning_plain, numerical_diff, _fresh_fn(cube), x, what=what)
        expected = (cube(x + DEFAULT_H) - cube(x - DEFAULT_H)) / (2 * DEFAULT_H)
        # Not one number at all: the checks below say what is wrong with it.
        if not step_problem and _real_number(got) and not _close(got, expected, rtol=rtol, atol=atol):
            tolerances(got, expected, what, rtol=rtol, atol=atol)  # float16 fails here, with the reason
            step_problem = _step_message(got, x, expected)
            step = _cube_step(got, x) if np.size(got) == 1 else None

    g = rng("numerical_diff points")
    for label, f, df, (lo, hi) in FUNCTIONS:
        for x in (lo, *g.uniform(lo, hi, 2), hi):
            x = float(x)
            what = tr("numerical_diff(f, {x:.6g}) with f(x) = {label}", x=x, label=label)
            got = call(returning_plain, numerical_diff, _fresh_fn(f), x, what=what)
            _check_numbers(got, what)
            if not _close(got, df(x), rtol=RTOL, atol=1e-10):
                # A wrong formula is named first, at h = 1e-4 or at the step the code appears to take.
                hint = _difference_hint(got, f, x) or (_difference_hint(got, f, x, step) if step else "")
                if not hint and _close(got, 2 * df(x), rtol=1e-5):
                    hint = tr(mistakes.TWICE)
                if not hint and step_problem:
                    raise Failure(step_problem)
                _expect(got, df(x), what, rtol=RTOL, atol=1e-10, extra_hint=hint)

    # An int x must not break anything (x + h is a float in Python and in NumPy).
    what = tr("numerical_diff(f, 2) with an int x and f(x) = x**3")
    got = call(returning_plain, numerical_diff, _fresh_fn(cube), 2, what=what)
    _check_numbers(got, what)
    _expect(got, 12.0, what, rtol=RTOL, atol=1e-10)

    if step_problem:
        raise Failure(step_problem)

    # For a cubic the central difference is exactly 3x² + h², so this shows that h is used, and how.
    for x, h in ((2.0, 1e-2), (-1.5, 0.25)):
        what = tr("numerical_diff(f, {x}, {h}) with f(x) = x**3", x=x, h=h)
        got = call(returning_plain, numerical_diff, _fresh_fn(cube), x, h, what=what)
        _check_numbers(got, what)
        expected = (cube(x + h) - cube(x - h)) / (2 * h)
        if not _close(got, expected, rtol=1e-9, atol=1e-12):
            hint = _difference_hint(got, cube, x, h)
            step = _cube_step(got, x) if not hint and np.size(got) == 1 else None
            if step is not None and math.isclose(step, h / 2, rel_tol=1e-3):
                hint = tr(HALF_STEPS)
            elif step is not None and not math.isclose(step, h, rel_tol=1e-2):
                hint = mistakes.fixed_step(step, h)
            elif not hint and _close(got, 3 * x ** 2, rtol=1e-4):
                hint = tr(mistakes.IGNORES_H)
            _expect(got, expected, tr("{what} (the central difference with this h)", what=what), rtol=1e-9, atol=1e-12,
                    extra_hint=hint)


# ---- exercise 2 ---------------------------------------------------------------------------------------

def _z(x, y):
    """z = (x + y)², as the notebook states it."""
    return (x + y) ** 2


@hidden_check
def check_chain_rule(dz_dx, dz_dy) -> None:
    """dz_dx and dz_dy against central differences of z = (x + y)² at seeded random points and at ints."""
    __tracebackhide__ = True
    g = rng("chain rule points")
    points = [(3, -1), (-2, 5)] + [tuple(p) for p in g.uniform(-5.0, 5.0, (6, 2))]
    # A central difference of a quadratic is exact up to rounding, for any h.
    h = 1e-3
    for x, y in points:
        for name, fn, numeric in (
            ("dz_dx", dz_dx, (_z(x + h, y) - _z(x - h, y)) / (2 * h)),
            ("dz_dy", dz_dy, (_z(x, y + h) - _z(x, y - h)) / (2 * h)),
        ):
            what = f"{name}({_fmt(x)}, {_fmt(y)})"
            got = call(returning_plain, fn, x, y, what=what)
            _check_numbers(got, what)
            _expect(got, numeric, tr("{what} (checked against a central difference of z = (x + y)**2)", what=what),
                    rtol=1e-6, atol=1e-8,
                    hints={0.5: tr(mistakes.CHAIN_HALF)},
                    shape_hint=tr("{name} returns one number, the partial derivative alone.", name=name))


# ---- exercise 3 ---------------------------------------------------------------------------------------

def _returns(what: str, form: str, result) -> str:
    """The message for a result that is not the tuple ``form`` names: what came back instead."""
    if isinstance(result, (tuple, list, dict, str)):
        return tr("{what} should return {form}, got {kind} of length {length}.",
                  what=what, form=form, kind=kind(result), length=len(result))
    return tr("{what} should return {form}, got {kind}.", what=what, form=form, kind=kind(result))


def _unpack(result, what: str, names: list[str], sizes: list[int | None],
            parts: list[list[str] | None] | None = None):
    """Split a returned tuple/list into arrays (float64, or the narrower float they came in, so that
    tolerances follow their precision); sizes[i] None means one number, parts[i] the names of part i's
    numbers."""
    __tracebackhide__ = True
    expect_true(isinstance(result, (tuple, list)) and len(result) == len(names),
                _returns(what, f"({', '.join(names)})", result))
    out = []
    for i, (part, name, size) in enumerate(zip(result, names, sizes)):
        expect_true(part is not None,
                    tr("{what}: {name} is None: did you forget to compute or return it?", what=what, name=name))
        if size is not None and not isinstance(part, (tuple, list, np.ndarray)) and number_problem(part):
            raise Failure(tr("{what}: {name} should hold {size} numbers, got {problem}.",
                             what=what, name=name, size=size, problem=number_problem(part)))
        element_names = (parts or [None] * len(names))[i]
        _check_numbers(part, f"{what}: {name}",
                       names=[f"{what}: {n}" for n in element_names] if element_names else None)
        try:
            arr = _numbers_array(part)
        except (TypeError, ValueError):
            if size is None:
                message = tr("{what}: {name} should be a number, got {kind}: {part!r:.80}",
                             what=what, name=name, kind=kind(part), part=part)
            else:
                message = tr("{what}: {name} should be {size} numbers, got {kind}: {part!r:.80}",
                             what=what, name=name, size=size, kind=kind(part), part=part)
            raise Failure(message) from None
        if size is None:
            expect_true(arr.size == 1, tr("{what}: {name} should be one number, got shape {shape}.",
                                          what=what, name=name, shape=arr.shape))
            arr = arr.reshape(())
        else:
            expect_true(arr.size == size, tr("{what}: {name} should hold {size} numbers, got shape {shape}.",
                                             what=what, name=name, size=size, shape=arr.shape))
            arr = arr.reshape(size)
        out.append(arr)
    return out


def _circuit(fn, x, y, z):
    __tracebackhide__ = True
    what = f"circuit_forward_backward({_fmt(x)}, {_fmt(y)}, {_fmt(z)})"
    result = call(returning_plain, fn, x, y, z, what=what)
    expect_true(isinstance(result, (tuple, list)) and len(result) == 2,
                _returns(what, "(f, (dfdx, dfdy, dfdz))", result))
    f, grads = _unpack(result, what, ["f", "(dfdx, dfdy, dfdz)"], [None, 3], [None, ["dfdx", "dfdy", "dfdz"]])
    return what, f, grads


def _circuit_f(x, y, z):
    """f = (x + y) z, as the notebook states it."""
    return (x + y) * z


WRONG_SIGN = N_("it has the right size but the wrong sign.")


@hidden_check
def check_circuit(circuit_forward_backward) -> None:
    """f = (x + y) z against the formula; each gradient against central differences of that formula."""
    __tracebackhide__ = True
    g = rng("circuit points")
    points = [(-2, 5, -4), (-2.0, 5.0, -4.0)] + [tuple(p) for p in g.uniform(-5.0, 5.0, (5, 3))]
    for x, y, z in points:
        what, f, grads = _circuit(circuit_forward_backward, x, y, z)
        _expect(f, _circuit_f(x, y, z), tr("{what}: f (should be (x + y) * z)", what=what))
        q = x + y
        point = np.float64((x, y, z))
        for i, name in enumerate(("dfdx", "dfdy", "dfdz")):
            def along(t, i=i, point=point):
                args = point.copy()
                args[i] = t
                return _circuit_f(*args)
            numeric = num_vjp(along, point[i], np.float64(1.0))
            # The × gate sends each input the OTHER input times upstream; unswapped, it sends its own.
            unswapped = [q, q, z][i]
            hint = (tr(mistakes.MUL_GATE_SWAP)
                    if _close(grads[i], unswapped) and not _close(unswapped, numeric) else "")
            _expect(grads[i], numeric,
                    tr("{what}: {name} (checked against numerical gradients of (x + y) * z)", what=what, name=name),
                    rtol=1e-5, atol=1e-7, hints={-1.0: tr(WRONG_SIGN)}, extra_hint=hint)


# ---- exercise 4 ---------------------------------------------------------------------------------------

def _sigmoid(s: float) -> float:
    """1 / (1 + exp(-s)) without overflow for either sign of s."""
    return 1 / (1 + np.exp(-s)) if s >= 0 else np.exp(s) / (1 + np.exp(s))


def _gate_f(w, x) -> float:
    """f = sigmoid(w0 x0 + w1 x1 + w2), as the notebook states it."""
    return _sigmoid(w[0] * x[0] + w[1] * x[1] + w[2])


def _sigmoid_cases():
    g = rng("sigmoid gate points")
    cases = [(np.array([2.0, -3.0, -3.0]), np.array([-1.0, -2.0]))]
    cases += [(g.normal(0, 1.5, 3), g.normal(0, 1.5, 2)) for _ in range(4)]
    # Large |w·x + b|, where a staged version with a plain exp(-s) stays finite: up to -90 on the
    # negative side (exp(90) is still a float) and far beyond exp's range on the positive side
    # (exp(-800) is 0, and 1 / (1 + 0) is fine), where exp(s) / (1 + exp(s)) would give nan.
    for target in (30.0, -30.0, 90.0, -90.0, 800.0):
        w, x = g.normal(0, 1, 3), g.normal(0, 1, 2)
        w[2] = target - w[0] * x[0] - w[1] * x[1]
        cases.append((w, x))
    return cases


def _gate(fn, w, x):
    __tracebackhide__ = True
    what = f"sigmoid_gate(w={_fmt(w)}, x={_fmt(x)})"
    result = call(returning_plain, fn, w.copy(), x.copy(), what=what)
    return what, _unpack(result, what, ["f", "dw", "dx"], [None, 3, 2],
                         [None, ["dw[0]", "dw[1]", "dw[2]"], ["dx[0]", "dx[1]"]])


@hidden_check
def check_sigmoid_gate(sigmoid_gate) -> None:
    """f against the sigmoid formula; dw and dx against central differences of that formula."""
    __tracebackhide__ = True
    for w, x in _sigmoid_cases():
        what, (f, dw, dx) = _gate(sigmoid_gate, w, x)
        _expect(f, _gate_f(w, x), tr("{what}: f (should be 1 / (1 + exp(-(w0*x0 + w1*x1 + w2))))", what=what),
                rtol=1e-6, atol=1e-12)
        num_dw = num_vjp(lambda v, x=x: _gate_f(v, x), w, np.float64(1.0))
        num_dx = num_vjp(lambda v, w=w: _gate_f(w, v), x, np.float64(1.0))
        sign_hint = {-1.0: tr(mistakes.NEGATE_GATE)}
        for name, got, numeric in (("dw", dw, num_dw), ("dx", dx, num_dx)):
            # ds is what reaches the bias (its + gate has local gradient 1); an unswapped × gate gives
            # each of w0, w1 its own value times ds instead of the matching x, and vice versa.
            ds = num_dw[2]
            unswapped = np.concatenate([w[:2] * ds, [ds]]) if name == "dw" else x * ds
            recognised = _close(got, unswapped) and not _close(unswapped, numeric)
            hint = tr(mistakes.MUL_GATES_SWAP) if recognised else ""
            _expect(got, numeric, tr("{what}: {name} (checked against numerical gradients of the formula)",
                                     what=what, name=name),
                    rtol=1e-4, atol=1e-7, hints=sign_hint, extra_hint=hint)


# ---- exercise 5: the planted bug ------------------------------------------------------------------------

def _swish_f(w, x, b) -> float:
    """f = x * sigmoid(w x + b), as the notebook states it."""
    return x * _sigmoid(w * x + b)


def _swish_cases():
    g = rng("swish gate points")
    cases = [(0.5, 2.0, -0.5)]  # the notebook's example
    for w, x, b in g.uniform(-2.0, 2.0, (6, 3)):
        x = float(np.sign(x) * (0.3 + abs(x)))  # x away from 0: both of its shares are then far from 0
        cases.append((float(w), x, float(b)))
    return cases


@hidden_check
def check_swish_gate(swish_gate) -> None:
    """f = x sigmoid(w x + b) against the formula; each gradient against central differences of it. x feeds
    two nodes: a dx that is one of its two shares alone is named (gradients add at branches)."""
    __tracebackhide__ = True
    for w, x, b in _swish_cases():
        what = f"swish_gate({_fmt(w)}, {_fmt(x)}, {_fmt(b)})"
        result = call(returning_plain, swish_gate, w, x, b, what=what)
        expect_true(isinstance(result, (tuple, list)) and len(result) == 2,
                    _returns(what, "(f, (dfdw, dfdx, dfdb))", result))
        f, grads = _unpack(result, what, ["f", "(dfdw, dfdx, dfdb)"], [None, 3], [None, ["dfdw", "dfdx", "dfdb"]])
        _expect(f, _swish_f(w, x, b), tr("{what}: f (should be x * sigmoid(w*x + b))", what=what),
                rtol=1e-6, atol=1e-12)
        point = np.float64((w, x, b))
        for i, name in enumerate(("dfdw", "dfdx", "dfdb")):
            def along(t, i=i, point=point):
                args = point.copy()
                args[i] = t
                return _swish_f(*args)
            numeric = num_vjp(along, point[i], np.float64(1.0))
            hint = (mistakes.swish_branch(w, x, b, grads[i]) or "") if name == "dfdx" else ""
            _expect(grads[i], numeric,
                    tr("{what}: {name} (checked against numerical gradients of x * sigmoid(w*x + b))",
                       what=what, name=name),
                    rtol=1e-5, atol=1e-8, hints={-1.0: tr(WRONG_SIGN)}, extra_hint=hint)
