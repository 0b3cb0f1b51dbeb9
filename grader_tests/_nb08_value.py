"""Hidden tests for notebook 08's ``Value`` engine (see :mod:`grader_tests.nb08`).

The functions whose names start with ``_k_`` run in the student's kernel, inside ``call``: they build ``Value``s
with the student's class and return plain numbers. Everything they return is compared here with our own float64
evaluation of the same expression and its central differences, or, for ``backward()`` alone, with the sum over
paths of the local gradients our own nodes carry.
"""

from __future__ import annotations

import math

import numpy as np

from bpcourse import _mistakes_deep, mistakes
from bpcourse.i18n import N_, tr

from ._core import Failure, call, expect_close, expect_true, replace_hint, rng, with_hint

H = 1e-6


# op -> (how the student's Values compute it, our formula)
_OPS = {
    "+": (lambda a, b: a + b, lambda a, b: a + b),
    "×": (lambda a, b: a * b, lambda a, b: a * b),
    "exp": (lambda a: a.exp(), math.exp),
    "relu": (lambda a: a.relu(), lambda a: max(a, 0.0)),
    "**3": (lambda a: a ** 3, lambda a: a ** 3),
    "**-2": (lambda a: a ** -2, lambda a: a ** -2),
    "**0.5": (lambda a: a ** 0.5, lambda a: a ** 0.5),
    # what the given code derives from the primitives
    "-": (lambda a, b: a - b, lambda a, b: a - b),
    "/": (lambda a, b: a / b, lambda a, b: a / b),
    "neg": (lambda a: -a, lambda a: -a),
    "sigmoid": (lambda a: a.sigmoid(), lambda a: 1.0 / (1.0 + math.exp(-a))),
}
_PRIMITIVES = ("+", "×", "**3", "**-2", "**0.5", "exp", "relu")


def _arity(op: str) -> int:
    return 2 if op in ("+", "×", "-", "/") else 1


def _partials(op: str, xs: list[float]) -> list[float]:
    """Central differences of our formula for op, one per input."""
    f = _OPS[op][1]
    out = []
    for i in range(len(xs)):
        up, down = list(xs), list(xs)
        up[i] += H
        down[i] -= H
        out.append((f(*up) - f(*down)) / (2 * H))
    return out


# --------------------------------------------------------------------------- run in the kernel

def _k_op(Value, op, xs, start, dout):
    leaves = [Value(x) for x in xs]
    for leaf in leaves:
        leaf.grad = start
    out = _OPS[op][0](*leaves)
    out.grad = dout
    out._backward()
    prev = sorted({next((i for i, leaf in enumerate(leaves) if leaf is p), -1) for p in out._prev})
    return {"value": isinstance(out, Value), "data": float(out.data), "prev": prev,
            "grads": [float(leaf.grad) for leaf in leaves]}


def _k_reuse(Value, op, x, dout):
    a = Value(x)
    out = _OPS[op][0](a, a)
    out.grad = dout
    out._backward()
    return float(a.grad)


def _k_program(Value, program, inputs):
    vals = [Value(x) for x in inputs]
    for op, args in program:
        vals.append(_OPS[op][0](*(vals[i] for i in args)))
    vals[-1].backward()
    return float(vals[-1].data), [float(v.grad) for v in vals[:len(inputs)]]


# --------------------------------------------------------------------------- our references

def _evaluate(program, inputs) -> float:
    vals = list(inputs)
    for op, args in program:
        vals.append(_OPS[op][1](*(vals[i] for i in args)))
    return vals[-1]


def _numeric(program, inputs) -> list[float]:
    out = []
    for i in range(len(inputs)):
        up, down = list(inputs), list(inputs)
        up[i] += H
        down[i] -= H
        out.append((_evaluate(program, up) - _evaluate(program, down)) / (2 * H))
    return out


def _path_grads(spec) -> list[float]:
    """d out / d node for every node of spec: the sum over the node's edges of partial × d out / d child."""
    n = len(spec)
    grads = [0.0] * n
    grads[-1] = 1.0
    edges = {i: [(c, d) for c, (ps, ds) in enumerate(spec) for p, d in zip(ps, ds) if p == i] for i in range(n)}
    for i in range(n - 2, -1, -1):
        grads[i] = sum(d * grads[c] for c, d in edges[i])
    return grads


def _random_program(gen, n_inputs: int, n_ops: int):
    """A random expression over n_inputs values with reuse, kept tame (no kinks, no huge numbers, no /0)."""
    ops = ("+", "×", "-", "/", "exp", "**3", "relu", "sigmoid", "neg", "×")
    while True:
        inputs = [float(v) for v in gen.uniform(-1.5, 1.5, n_inputs)]
        vals, program = list(inputs), []
        for _ in range(n_ops):
            op = ops[int(gen.integers(len(ops)))]
            # the newest value and an earlier one: so values are reused and the expression stays connected
            args = [len(vals) - 1] + ([int(gen.integers(len(vals)))] if _arity(op) == 2 else [])
            x = [vals[i] for i in args]
            if (op == "/" and abs(x[1]) < 0.4) or (op == "exp" and x[0] > 2) or (op == "relu" and abs(x[0]) < 0.1):
                break
            vals.append(_OPS[op][1](*x))
            program.append((op, args))
            if abs(vals[-1]) > 20:
                break
        else:
            if len({a for _, args in program for a in args if a < n_inputs}) == n_inputs:
                return program, inputs


# --------------------------------------------------------------------------- the checks

def _check_ops(Value, gen) -> None:
    __tracebackhide__ = True
    for op in _PRIMITIVES:
        for trial in range(3):
            n = _arity(op)
            xs = [float(v) for v in gen.uniform(0.3, 2.0, n) * (gen.choice([-1, 1], n) if op not in ("**0.5",)
                                                                  else 1)]
            if op == "relu":
                xs = [(1 if trial % 2 else -1) * abs(xs[0])]
            start, dout = float(gen.uniform(0.5, 2.0)), float(gen.uniform(-2.0, 2.0))
            shown = tr("{op} at {xs}", op=op, xs=", ".join(f"{x:.4g}" for x in xs))
            res = call(_k_op, Value, op, xs, start, dout, what=tr("the Value op {shown}", shown=shown))
            expect_true(res["value"], tr("the op {shown} should return a Value.", shown=shown))
            expect_close(res["data"], _OPS[op][1](*xs), tr("the op {shown}: out.data", shown=shown), rtol=1e-9,
                         atol=1e-12)
            expect_true(res["prev"] == list(range(n)),
                        tr("the op {shown}: out._prev should hold its input Values, so backward() can find the graph.",
                           shown=shown) if n > 1 else
                        tr("the op {shown}: out._prev should hold its input Value, so backward() can find the graph.",
                           shown=shown))
            want = [start + dout * d for d in _partials(op, xs)]
            hint = _mistakes_deep.value_op(op, xs, start, dout, res["grads"])
            try:
                expect_close(res["grads"], want, tr("the op {shown}: after out._backward() with out.grad = "
                                                    "{dout:.4g}, the inputs' grads (which were {start:.4g} before; "
                                                    "checked against numerical gradients of the formula)",
                                                    shown=shown, dout=dout, start=start), rtol=1e-5, atol=1e-7)
            except Failure as exc:
                raise Failure(replace_hint(str(exc), hint)) from None
    for op, times in (("×", lambda a: 2 * a), ("+", lambda a: 2.0)):
        x, dout = float(gen.uniform(0.5, 2.0)), float(gen.uniform(0.5, 2.0))
        got = call(_k_reuse, Value, op, x, dout, what=f"a {op} a")
        want = dout * times(x)
        if not np.isclose(got, want, rtol=1e-6):
            hint = tr(mistakes.VALUE_OVERWRITES) if np.isclose(got, want / 2, rtol=1e-6) else ""
            wrong = tr("a {op} a with a = {x:.4g}: a feeds both inputs of the op, so after out._backward() with "
                       "out.grad = {dout:.4g}, a.grad should be {want:.6g}; got {got:.6g}.", op=op, x=x, dout=dout,
                       want=want, got=got)
            raise Failure(with_hint(wrong, hint))


_GRAPHS = {
    N_("a chain out = ((a · 2) · 3) · 4"): [([], []), ([0], [2.0]), ([1], [3.0]), ([2], [4.0])],
    N_("a diamond: s = 2a feeds u = 3s and w = 5s, out = u + w"): [([], []), ([0], [2.0]), ([1], [3.0]),
                                                                   ([1], [5.0]), ([2, 3], [1.0, 1.0])],
    N_("a node whose parent is listed twice (out = s · s, s = 3a)"): [([], []), ([0], [3.0]), ([1, 1], [1.5, 1.5])],
}


def _check_backward(Value, gen) -> None:
    __tracebackhide__ = True
    graphs = dict(_GRAPHS)
    graphs[N_("a chain of 40 nodes")] = [([], [])] + [([i], [float(gen.choice([-1.1, 0.9]))]) for i in range(40)]
    spec = [([], []), ([], [])]
    for i in range(2, 10):  # a random DAG: each node takes two earlier ones
        parents = [i - 1, int(gen.integers(0, i - 1))]
        spec.append((parents, [float(v) for v in gen.uniform(-1.5, 1.5, 2)]))
    graphs[N_("a random graph of 10 nodes")] = spec
    for name, spec in graphs.items():
        name = tr(name)
        got = call(_mistakes_deep.run_walk, Value, spec, what=tr("backward() on {name}", name=name))
        want = _path_grads(spec)
        hint = _mistakes_deep.value_walk(spec, got)
        try:
            expect_close(got, want, tr("backward() on {name} (nodes built with the given __init__, each with its own "
                                       "_backward): the grad of every node, output last", name=name),
                         rtol=1e-9, atol=1e-12)
        except Failure as exc:
            raise Failure(replace_hint(str(exc), hint)) from None


_SEEDS = {
    N_("notebook 01's apple shopping, price = apple × apple_num × tax"): (
        [("×", [0, 1]), ("×", [3, 2])], [100.0, 2.0, 1.1], ("apple", "apple_num", "tax")),
    N_("notebook 02's circuit f = (x + y) z"): ([("+", [0, 1]), ("×", [3, 2])], [-2.0, 5.0, -4.0], ("x", "y", "z")),
    N_("notebook 02's sigmoid neuron sigmoid(w0 x0 + w1 x1 + w2)"): (
        [("×", [0, 3]), ("×", [1, 4]), ("+", [5, 6]), ("+", [7, 2]), ("sigmoid", [8])],
        [2.0, -3.0, -3.0, -1.0, -2.0], ("w0", "w1", "w2", "x0", "x1")),
}


def _check_expression(Value, name, program, inputs, names) -> None:
    __tracebackhide__ = True
    data, grads = call(_k_program, Value, program, inputs,
                       what=tr("building {name} with Values and backward()", name=name))
    expect_close(data, _evaluate(program, inputs), f"{name}: out.data", rtol=1e-9, atol=1e-12)
    expect_close(grads, _numeric(program, inputs), tr("{name}: the grads of ({names}) after out.backward() "
                                                      "(checked against numerical gradients)", name=name,
                                                      names=", ".join(names)), rtol=1e-5, atol=1e-7)


def check_value(Value) -> None:
    """Each op alone, backward() alone, then the seed examples and random expressions that reuse values.
    (Not a hidden check itself: nb08.check_value is, and runs this.)"""
    __tracebackhide__ = True
    gen = rng("nb08.value")
    fresh = call(lambda: (float(Value(2.5).data), float(Value(2.5).grad)), what="Value(2.5)")
    expect_true(fresh == (2.5, 0.0), tr("Value(2.5) should have data 2.5 and grad 0, got {fresh}.", fresh=fresh))
    _check_ops(Value, gen)
    _check_backward(Value, gen)
    for name, (program, inputs, names) in _SEEDS.items():
        _check_expression(Value, tr(name), program, inputs, names)
    for _ in range(6):
        program, inputs = _random_program(gen, 3, 8)
        shown = "; ".join(f"v{3 + j} = {op}({', '.join(f'v{a}' for a in args)})"
                          for j, (op, args) in enumerate(program))
        at = ", ".join(f"{x:.3g}" for x in inputs)
        _check_expression(Value, tr("the expression {shown} at (v0, v1, v2) = ({at})", shown=shown, at=at), program,
                          inputs, ("v0", "v1", "v2"))
