"""Probes for the functions of notebooks 01-02 (backward over a graph, central differences, the circuits, the
planted branch bug): call the student's function on inputs of their own and ask :mod:`bpcourse.mistakes`
whether what came back is a classic mistake (see :mod:`bpcourse.hints`). References are central differences of
the formulas the notebooks state, never the answer itself. A probe may return an English template of
:mod:`bpcourse.mistakes`; ``hints.diagnose`` translates it."""

from __future__ import annotations

import copy
import math

import numpy as np

from . import mistakes
from .i18n import tr

_H = 1e-6


def _central(f, x: float) -> float:
    return (f(x + _H) - f(x - _H)) / (2 * _H)


# --- 01 ----------------------------------------------------------------------------------------------------

# out = (a × b) × c: every upstream gradient but the output's differs from 1.
CHAIN = [("a", None, []), ("b", None, []), ("c", None, []), ("ab", "×", ["a", "b"]), ("out", "×", ["ab", "c"])]
CHAIN_VALUES = {"a": 2.0, "b": 3.0, "c": 4.0, "ab": 6.0, "out": 24.0}
# f = x·y + x, notebook 01's branch graph: x feeds two nodes.
BRANCH = [("x", None, []), ("y", None, []), ("xy", "×", ["x", "y"]), ("f", "+", ["xy", "x"])]
BRANCH_VALUES = {"x": 3.0, "y": -2.0, "xy": -6.0, "f": -3.0}


def _backward(fn):
    try:
        chain = fn(copy.deepcopy(CHAIN), dict(CHAIN_VALUES))
        branch = fn(copy.deepcopy(BRANCH), dict(BRANCH_VALUES))
    except KeyError:
        return mistakes.READ_TOO_EARLY
    # b: d out / d b = c · a = 8; its one local derivative alone is a = 2; visited too early it stays 0.
    b = float(chain["b"])
    if math.isclose(b, 2.0):
        return mistakes.UPSTREAM_SUM
    if b == 0.0:
        return mistakes.REVERSE_ORDER
    # x: y + 1 = -1; one edge's share alone is 1 (through +) or y = -2 (through ×).
    x = float(branch["x"])
    if not math.isclose(x, -1.0) and (math.isclose(x, 1.0) or math.isclose(x, -2.0)):
        return mistakes.BRANCH_OVERWRITTEN("x", ["xy", "f"])
    return None


# --- 02 ----------------------------------------------------------------------------------------------------

def _cube(t):
    return t ** 3


def _numerical_diff(fn):
    for f, x in ((_cube, 2.0), (math.exp, 1.0)):
        hint = mistakes.difference(fn(f, x), f, x)
        if hint:
            return hint
    # For x**3 the central difference is exactly 3x² + h²: at 0 it reads off the step taken.
    at_zero = float(fn(_cube, 0.0))
    if at_zero > 0 and not math.isclose(math.sqrt(at_zero), 1e-4, rel_tol=1e-2):
        return mistakes.HALF_STEPS if math.isclose(math.sqrt(at_zero), 5e-5, rel_tol=1e-2) else mistakes.DEFAULT_STEP
    h = 1e-2
    got = float(fn(_cube, 2.0, h))
    if math.isclose(got, 12.0 + h * h, rel_tol=1e-9):
        return None
    hint = mistakes.difference(got, _cube, 2.0, h)
    if hint:
        return hint
    if got > 12.0:
        step = math.sqrt(got - 12.0)
        return mistakes.HALF_STEPS if math.isclose(step, h / 2, rel_tol=1e-3) else mistakes.fixed_step(step, h)
    return mistakes.IGNORES_H if math.isclose(got, 12.0, rel_tol=1e-4) else None


def _chain_rule(pair):
    x, y = 3.0, -1.0
    for i, fn in enumerate(pair):  # dz_dx, dz_dy of z = (x + y)²
        numeric = _central(lambda t, i=i: (t + y) ** 2 if i == 0 else (x + t) ** 2, x if i == 0 else y)
        if mistakes.ratio(fn(x, y), numeric, {0.5: mistakes.CHAIN_HALF}) == tr(mistakes.CHAIN_HALF):
            return mistakes.CHAIN_HALF
    return None


def _circuit(fn):
    x, y, z = 1.5, 2.0, -3.0
    _, grads = fn(x, y, z)
    numeric = [_central(lambda t: (t + y) * z, x), _central(lambda t: (x + t) * z, y),
               _central(lambda t: (x + y) * t, z)]
    unswapped = [x + y, x + y, z]  # each input given its own value, not the other one's
    for got, want, wrong in zip(grads, numeric, unswapped):
        if mistakes.same(got, wrong) and not mistakes.same(wrong, want):
            return mistakes.MUL_GATE_SWAP
    return None


def _gate(w, x):
    return 1.0 / (1.0 + math.exp(-(w[0] * x[0] + w[1] * x[1] + w[2])))


def _sigmoid_gate(fn):
    w, x = np.array([0.5, -1.0, 0.3]), np.array([1.5, 0.8])
    _, dw, dx = fn(w.copy(), x.copy())
    num_dw = np.array([_central(lambda t, i=i: _gate(np.where(np.arange(3) == i, t, w), x), w[i]) for i in range(3)])
    num_dx = np.array([_central(lambda t, i=i: _gate(w, np.where(np.arange(2) == i, t, x)), x[i]) for i in range(2)])
    ds = num_dw[2]  # what reaches the bias through its + gate
    for got, want, wrong in ((dw, num_dw, np.append(w[:2] * ds, ds)), (dx, num_dx, x * ds)):
        if mistakes.same(got, wrong) and not mistakes.same(wrong, want):
            return mistakes.MUL_GATES_SWAP
    if mistakes.ratio(np.append(dw, dx), np.append(num_dw, num_dx), {-1.0: mistakes.NEGATE_GATE}) == \
            tr(mistakes.NEGATE_GATE):
        return mistakes.NEGATE_GATE
    return None


def _swish_gate(fn):
    w, x, b = 0.7, 1.3, -0.4
    _, (_, dx, _) = fn(w, x, b)
    return mistakes.swish_branch(w, x, b, dx)


# exercise name (as the notebook's check cell passes it to explain) -> probe
PROBES = {
    "backward": _backward,
    "numerical_diff": _numerical_diff,
    "chain_rule": _chain_rule,
    "circuit_forward_backward": _circuit,
    "sigmoid_gate": _sigmoid_gate,
    "swish_gate": _swish_gate,
}
