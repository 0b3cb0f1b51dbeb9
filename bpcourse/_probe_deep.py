"""Probes for notebook 08 (a network of any depth with weight decay, the ``Value`` engine): run the student's class
on inputs of their own and ask :mod:`bpcourse.mistakes` whether what came back is a classic mistake (see
:mod:`bpcourse.hints`). References are central differences of the formulas the notebook states."""

from __future__ import annotations

import numpy as np

from . import _mistakes_deep, mistakes
from .gradcheck import numerical_vjp

# --- MultiLayerNet ---------------------------------------------------------------------------------------------


def _scores(params, x):
    n = len(params) // 2
    for k in range(1, n + 1):
        x = x @ params[f"W{k}"] + params[f"b{k}"]
        if k < n:
            x = np.maximum(x, 0)
    return x


def _cross_entropy(scores, t):
    z = scores - scores.max(axis=1, keepdims=True)
    return float(-np.mean((z - np.log(np.exp(z).sum(axis=1, keepdims=True)))[np.arange(len(t)), t]))


def _decay(params, lam, biases=False):
    return 0.5 * lam * sum(float(np.sum(v ** 2)) for k, v in params.items() if k[0] == "W" or biases)


def _seeded(cls, lam):
    g = np.random.default_rng(11)
    net = cls(5, [6, 4], 3, lam)
    for value in net.params.values():
        value[...] = 0.7 * g.standard_normal(np.shape(value))
    params = {k: np.array(v, dtype=float) for k, v in net.params.items()}
    return net, params, g.standard_normal((4, 5)), np.array([0, 2, 1, 2])


def _multi_layer_net_loss(cls):
    net, params, x, t = _seeded(cls, 0.1)
    ce = _cross_entropy(_scores(params, x), t)
    got = float(net.loss(x, t))
    return _mistakes_deep.deep_loss(got, ce, _decay(params, 0.1), _decay(params, 0.1, biases=True)) or None


def _multi_layer_net(cls):
    net, params, x, t = _seeded(cls, 0.1)
    layers = list(net.layers.values())
    if len({id(v) for v in layers}) != len(layers):
        return mistakes.RELU_SHARED
    grads = net.gradient(x, t)
    numeric = {key: numerical_vjp(lambda p, key=key: _cross_entropy(_scores({**params, key: p}, x), t)
                                  + _decay({**params, key: p}, 0.1), params[key], 1.0) for key in params}
    return _mistakes_deep.deep_gradient(grads, numeric, params, 0.1, len(x)) or None


# --- Value -----------------------------------------------------------------------------------------------------

_OPS = {"+": lambda a, b: a + b, "×": lambda a, b: a * b, "exp": lambda a: a.exp(), "relu": lambda a: a.relu(),
        "**3": lambda a: a ** 3}
_POINTS = {"+": [0.8, -1.7], "×": [0.8, -1.7], "exp": [0.6], "relu": [-0.9], "**3": [1.3]}

# A diamond (a -> s -> u, w -> out) and a chain: graphs whose nodes carry our own local gradients.
_GRAPHS = [[([], []), ([0], [2.0]), ([1], [3.0]), ([1], [5.0]), ([2, 3], [1.0, 1.0])],
           [([], []), ([0], [2.0]), ([1], [3.0]), ([2], [4.0])]]


def _value(cls):
    for op, xs in _POINTS.items():
        leaves = [cls(x) for x in xs]
        for leaf in leaves:
            leaf.grad = 0.5
        out = _OPS[op](*leaves)
        out.grad = -1.5
        out._backward()
        hint = _mistakes_deep.value_op(op, xs, 0.5, -1.5, [leaf.grad for leaf in leaves])
        if hint:
            return hint
    for spec in _GRAPHS:
        hint = _mistakes_deep.value_walk(spec, _mistakes_deep.run_walk(cls, spec))
        if hint:
            return hint
    return None


# exercise name (as the notebook's check cell passes it to explain) -> probe
PROBES = {
    "MultiLayerNet": _multi_layer_net,
    "MultiLayerNet.loss": _multi_layer_net_loss,
    "Value": _value,
}
