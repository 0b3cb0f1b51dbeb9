"""Hidden tests for notebook 02: numerical differentiation and the chain rule by hand.

Derivatives of the test functions are known in closed form; everything a student
backpropagates is checked against our own central differences of the formula the notebook
states (z = (x + y)², f = (x + y) z, f = sigmoid(w0 x0 + w1 x1 + w2)), never of the student's
forward: the student's f is only graded at the points where it is asked, so an f that answered
differently next to them cannot move the reference. A few classic mistakes (forward difference,
missing factor 2, an unswapped multiply gate, a lost sign at the *-1 node) are recognised and named.
"""

from __future__ import annotations

import numpy as np

from ._core import (
    hidden_check,
    matches as _close,
    Failure,
    call,
    expect_close,
    expect_true,
    num_vjp,
    rng,
)

__all__ = ["check_numerical_diff", "check_chain_rule", "check_circuit", "check_sigmoid_gate"]

# f, f', and the range of x: chosen so that with h = 1e-4 a forward difference is off by
# more than 3e-5 (relative) while a central one is within 4e-8, far either side of RTOL.
FUNCTIONS = [
    ("exp(x)", np.exp, np.exp, (0.5, 1.5)),
    ("x**3", lambda x: x ** 3, lambda x: 3 * x ** 2, (1.0, 3.0)),
    ("sin(x)", np.sin, np.cos, (0.3, 1.2)),
    ("log(x)", np.log, lambda x: 1 / x, (0.3, 0.8)),
]
RTOL = 1e-6


def _fmt(v) -> str:
    if np.ndim(v):
        return "[" + ", ".join(f"{float(t):.4g}" for t in np.ravel(v)) + "]"
    return f"{float(v):.6g}"


def _expect(got, expected, what: str, *, hints: dict | None = None, extra_hint: str = "", **kw) -> None:
    """expect_close, where ``extra_hint`` (a recognised mistake) wins; for one number only the named hints
    are kept, since any wrong number is a "constant multiple" of the right one and that says nothing."""
    __tracebackhide__ = True
    try:
        expect_close(got, expected, what, hints=hints, **kw)
    except Failure as exc:
        message, _, hint = str(exc).partition("\nHint: ")
        # keep the named hints, overflow and shape hints, and ratio hints only where a ratio means something
        keep = (hint in (hints or {}).values() or "inf or nan" in hint or np.size(expected) > 1
                or message.startswith(what + " has shape"))
        hint = extra_hint or (hint if keep else "")
        raise Failure(message + (f"\nHint: {hint}" if hint else "")) from None


# ---- exercise 1 ---------------------------------------------------------------------------------------

CENTRAL = "use the central one, (f(x+h) - f(x-h)) / (2h)."


def _difference_hint(got, f, x, h=1e-4) -> str:
    if _close(got, (f(x + h) - f(x)) / h, rtol=1e-9):
        return "this is the forward difference (f(x+h) - f(x)) / h; " + CENTRAL
    if _close(got, (f(x) - f(x - h)) / h, rtol=1e-9):
        return "this is the backward difference (f(x) - f(x-h)) / h; " + CENTRAL
    if _close(got, (f(x + h) - f(x - h)) / h, rtol=1e-9):
        return "it is twice the right value: divide by 2h, the distance between x-h and x+h."
    if _close(got, 0.0, atol=1e-12):
        return "it is 0: is h so small that x + h == x in floating point? Use the default h=1e-4."
    return ""


@hidden_check
def check_numerical_diff(numerical_diff) -> None:
    """Central differences with the default h on known derivatives, for float and int x, and with h given."""
    __tracebackhide__ = True
    g = rng("numerical_diff points")
    for label, f, df, (lo, hi) in FUNCTIONS:
        for x in (lo, *g.uniform(lo, hi, 2), hi):
            x = float(x)
            what = f"numerical_diff(f, {x:.6g}) with f(x) = {label}"
            got = call(numerical_diff, f, x, what=what)
            if not _close(got, df(x), rtol=RTOL, atol=1e-10):
                _expect(got, df(x), what, rtol=RTOL, atol=1e-10, extra_hint=_difference_hint(got, f, x))

    # An int x must not break anything (x + h is a float in Python and in NumPy).
    cube = FUNCTIONS[1][1]
    got = call(numerical_diff, cube, 2, what="numerical_diff(f, 2) with an int x and f(x) = x**3")
    _expect(got, 12.0, "numerical_diff(f, 2) with an int x and f(x) = x**3", rtol=RTOL, atol=1e-10)

    # For a cubic the central difference is exactly 3x² + h², so this shows that h is used, and how.
    for x, h in ((2.0, 1e-2), (-1.5, 0.25)):
        what = f"numerical_diff(f, {x}, {h}) with f(x) = x**3"
        got = call(numerical_diff, cube, x, h, what=what)
        expected = (cube(x + h) - cube(x - h)) / (2 * h)
        if not _close(got, expected, rtol=1e-9, atol=1e-12):
            hint = _difference_hint(got, cube, x, h)
            if not hint and _close(got, 3 * x ** 2, rtol=1e-4):
                hint = "the result does not depend on h: use the h argument instead of a fixed step."
            _expect(got, expected, what + " (the central difference with this h)", rtol=1e-9, atol=1e-12,
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
            got = call(fn, x, y, what=what)
            _expect(got, numeric, what + " (checked against a central difference of z = (x + y)**2)",
                    rtol=1e-6, atol=1e-8,
                    hints={0.5: "it is half the right value: the square node's local gradient is 2t, "
                                "not t (the factor 2 is missing)."},
                    shape_hint=f"{name} returns one number, the partial derivative alone.")


# ---- exercise 3 ---------------------------------------------------------------------------------------

def _unpack(result, what: str, names: list[str], sizes: list[int | None]):
    """Split a returned tuple/list into float64 arrays; sizes[i] None means one number."""
    __tracebackhide__ = True
    expect_true(isinstance(result, (tuple, list)) and len(result) == len(names),
                f"{what} should return ({', '.join(names)}), got {type(result).__name__}"
                + (f" of length {len(result)}" if hasattr(result, "__len__") else "") + ".")
    out = []
    for part, name, size in zip(result, names, sizes):
        expect_true(part is not None, f"{what}: {name} is None: did you forget to compute or return it?")
        try:
            arr = np.asarray(part, dtype=np.float64)
        except (TypeError, ValueError):
            raise Failure(f"{what}: {name} should be {'a number' if size is None else f'{size} numbers'}, "
                          f"got {type(part).__name__}: {part!r:.80}") from None
        if size is None:
            expect_true(arr.size == 1, f"{what}: {name} should be one number, got shape {arr.shape}.")
            arr = arr.reshape(())
        else:
            expect_true(arr.size == size,
                        f"{what}: {name} should hold {size} numbers, got shape {arr.shape}.")
            arr = arr.reshape(size)
        out.append(arr)
    return out


def _circuit(fn, x, y, z):
    __tracebackhide__ = True
    what = f"circuit_forward_backward({_fmt(x)}, {_fmt(y)}, {_fmt(z)})"
    result = call(fn, x, y, z, what=what)
    expect_true(isinstance(result, (tuple, list)) and len(result) == 2,
                f"{what} should return (f, (dfdx, dfdy, dfdz)), got {type(result).__name__}"
                + (f" of length {len(result)}" if hasattr(result, "__len__") else "") + ".")
    f, grads = _unpack(result, what, ["f", "(dfdx, dfdy, dfdz)"], [None, 3])
    return what, f, grads


def _circuit_f(x, y, z):
    """f = (x + y) z, as the notebook states it."""
    return (x + y) * z


@hidden_check
def check_circuit(circuit_forward_backward) -> None:
    """f = (x + y) z against the formula; each gradient against central differences of that formula."""
    __tracebackhide__ = True
    g = rng("circuit points")
    points = [(-2, 5, -4), (-2.0, 5.0, -4.0)] + [tuple(p) for p in g.uniform(-5.0, 5.0, (5, 3))]
    for x, y, z in points:
        what, f, grads = _circuit(circuit_forward_backward, x, y, z)
        _expect(f, _circuit_f(x, y, z), f"{what}: f (should be (x + y) * z)")
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
            hint = ("the × gate swaps its inputs: ∂f/∂q = z and ∂f/∂z = q (each gets the other one)."
                    if _close(grads[i], unswapped) and not _close(unswapped, numeric) else "")
            _expect(grads[i], numeric, f"{what}: {name} (checked against numerical gradients of (x + y) * z)",
                    rtol=1e-5, atol=1e-7, hints={-1.0: "it has the right size but the wrong sign."},
                    extra_hint=hint)


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
    result = call(fn, w.copy(), x.copy(), what=what)
    return what, _unpack(result, what, ["f", "dw", "dx"], [None, 3, 2])


@hidden_check
def check_sigmoid_gate(sigmoid_gate) -> None:
    """f against the sigmoid formula; dw and dx against central differences of that formula."""
    __tracebackhide__ = True
    for w, x in _sigmoid_cases():
        what, (f, dw, dx) = _gate(sigmoid_gate, w, x)
        _expect(f, _gate_f(w, x), f"{what}: f (should be 1 / (1 + exp(-(w0*x0 + w1*x1 + w2))))",
                rtol=1e-6, atol=1e-12)
        num_dw = num_vjp(lambda v, x=x: _gate_f(v, x), w, np.float64(1.0))
        num_dx = num_vjp(lambda v, w=w: _gate_f(w, v), x, np.float64(1.0))
        sign_hint = {-1.0: "every gradient has the wrong sign: the *-1 node's local gradient is -1, "
                           "so it must flip the sign of the gradient passing through it."}
        for name, got, numeric in (("dw", dw, num_dw), ("dx", dx, num_dx)):
            # ds is what reaches the bias (its + gate has local gradient 1); an unswapped × gate gives
            # each of w0, w1 its own value times ds instead of the matching x, and vice versa.
            ds = num_dw[2]
            unswapped = np.concatenate([w[:2] * ds, [ds]]) if name == "dw" else x * ds
            recognised = _close(got, unswapped) and not _close(unswapped, numeric)
            hint = ("the × gates swap their inputs: the gradient of w0 is x0 times the upstream gradient, "
                    "and that of x0 is w0 times it." if recognised else "")
            _expect(got, numeric, f"{what}: {name} (checked against numerical gradients of the formula)",
                    rtol=1e-4, atol=1e-7, hints=sign_hint, extra_hint=hint)
