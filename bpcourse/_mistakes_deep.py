"""The rules that recognise notebook 08's classic mistakes (a network of any depth with weight decay, the ``Value``
engine); their hint texts are in :mod:`bpcourse.mistakes`, beside every other notebook's. Shared by the hidden tests
and the visible checks' probes, like the rest of :mod:`bpcourse.mistakes`; each rule returns its hint in the language
in use."""

from __future__ import annotations

import numpy as np

from .i18n import tr
from .mistakes import (
    GRAD_DECAY_TWICE,
    GRAD_DECAYS_BIASES,
    GRAD_NO_DECAY,
    LOSS_DECAY_NO_HALF,
    LOSS_DECAYS_BIASES,
    LOSS_NO_DECAY,
    RELU_SHARED,
    VALUE_EXP,
    VALUE_MUL_SWAP,
    VALUE_NO_SEED,
    VALUE_NO_UPSTREAM,
    VALUE_ORDER,
    VALUE_OVERWRITES,
    VALUE_POW,
    VALUE_RELU,
    VALUE_TWICE,
    batch_ratios,
    ratio,
    same,
)


def deep_loss(got: float, cross_entropy: float, decay: float, decay_with_biases: float) -> str:
    """The hint for a wrong loss() of MultiLayerNet: ``decay`` is the right ½λΣ‖W‖², ``decay_with_biases`` the
    same sum over the biases too."""
    for wrong, text in ((cross_entropy, LOSS_NO_DECAY), (cross_entropy + 2 * decay, LOSS_DECAY_NO_HALF),
                        (cross_entropy + decay_with_biases, LOSS_DECAYS_BIASES)):
        if not np.isclose(cross_entropy + decay, wrong, rtol=1e-9) and np.isclose(got, wrong, rtol=1e-6):
            return tr(text)
    return ""


def deep_gradient(grads: dict, numeric: dict, params: dict, lam: float, n: int, distinct: bool = True) -> str:
    """The hint for wrong gradients of MultiLayerNet (``numeric``: central differences of J; ``distinct``: whether
    every layer is its own object), or ""."""
    if not distinct:
        return tr(RELU_SHARED)
    W, b = [key for key in numeric if key[0] == "W"], [key for key in numeric if key[0] == "b"]
    for offset, text in ((-1.0, GRAD_NO_DECAY), (1.0, GRAD_DECAY_TWICE)):
        if lam and all(same(grads[key], numeric[key] + offset * lam * params[key], 1e-4, 1e-7) for key in W):
            return tr(text)
    if lam and all(same(grads[key], numeric[key] + lam * params[key], 1e-4, 1e-7) for key in b):
        return tr(GRAD_DECAYS_BIASES)
    first = next((key for key in numeric if not same(grads[key], numeric[key], 1e-4, 1e-7)), None)
    named = batch_ratios(n)
    text = ratio(grads[first], numeric[first], named) if first else ""
    return text if text in named.values() else ""


def value_op(op: str, xs, start: float, dout: float, grads) -> str | None:
    """The hint for the input grads one Value op left after ``out._backward()``: the inputs ``xs`` started with
    grad ``start``, the op's output had grad ``dout``. ``op``: "+", "×", "exp", "relu" or "**n"."""
    x = [float(v) for v in xs]
    if op == "+":
        local = [1.0, 1.0]
    elif op == "×":
        local = [x[1], x[0]]
    elif op == "exp":
        local = [float(np.exp(x[0]))]
    elif op == "relu":
        local = [float(x[0] > 0)]
    else:
        n = float(op[2:])
        local = [n * x[0] ** (n - 1)]
    right = [start + dout * d for d in local]
    if same(grads, right):
        return None
    wrong = [([dout * d for d in local], VALUE_OVERWRITES), ([start + d for d in local], VALUE_NO_UPSTREAM)]
    if op == "×":
        wrong.append(([start + dout * x[0], start + dout * x[1]], VALUE_MUL_SWAP))
    elif op == "exp":
        wrong.append(([start + dout * x[0]], VALUE_EXP))
    elif op == "relu":
        wrong.append(([start + dout], VALUE_RELU))
    elif op.startswith("**"):
        wrong.append(([start + dout * n * x[0] ** n], VALUE_POW))
    for candidate, text in wrong:
        if same(grads, candidate) and not same(candidate, right):
            return tr(text)
    return None


def _walk(spec, *, seed: bool = True, reverse: bool = True, once: bool = True) -> list:
    """The grads a backward() walk leaves on the graph ``spec`` [(parents, partials), ...], listed in topological
    order with the output last: the right walk (each node once, from the output down), or one without the seed 1,
    in forward order, or one that runs a node once for every path that reaches it (no visited set)."""
    order = list(range(len(spec)))
    if not once:  # the graph unfolded into a tree: a node appears once per path from the output
        order, pending = [], [(len(spec) - 1, False)]
        while pending:
            i, expanded = pending.pop()
            if expanded:
                order.append(i)
            else:
                pending += [(i, True)] + [(p, False) for p in reversed(spec[i][0])]
    grad = [0.0] * len(spec)
    grad[-1] = 1.0 if seed else 0.0
    for i in (reversed(order) if reverse else order):
        for p, d in zip(*spec[i]):
            grad[p] += d * grad[i]
    return grad


def run_walk(Value, spec) -> list:
    """Build the graph ``spec`` (see ``_walk``) from the student's ``Value`` class, each node with a _backward of
    our own local gradients, run the student's ``backward()`` from the last node and return every node's grad."""
    nodes = []
    for i, (parents, partials) in enumerate(spec):
        node = Value(float(i), tuple(nodes[p] for p in parents), "g" if parents else "")
        if parents:
            def push(node=node, ps=tuple(nodes[p] for p in parents), ds=tuple(partials)):
                for p, d in zip(ps, ds):
                    p.grad += d * node.grad
            node._backward = push
        nodes.append(node)
    nodes[-1].backward()
    return [float(n.grad) for n in nodes]


def value_walk(spec, grads) -> str | None:
    """The hint for the grads backward() left on the graph ``spec`` (see ``_walk``), if a known wrong walk explains
    them."""
    if same(grads, _walk(spec)):
        return None
    for wrong, text in ((dict(seed=False), VALUE_NO_SEED), (dict(reverse=False), VALUE_ORDER),
                        (dict(once=False), VALUE_TWICE)):
        if same(grads, _walk(spec, **wrong)):
            return tr(text)
    return None
