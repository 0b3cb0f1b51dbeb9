"""grader_tests.nb08 is fair: correct networks and engines in several styles pass, classic mistakes lose exactly their
own exercise with a hint that names them, and notebook 08 gives away nothing that notebook 07 does not.

The layers and the reference solutions come from notebook 08 itself (its locked layer cell and solution cells).
"""

import math
from collections import OrderedDict

import nbformat
import numpy as np
import pytest
from conftest import REPO

from bpcourse import _mistakes_deep, mistakes
from grader_tests import nb08
from grader_tests._core import Failure

NOTEBOOK = REPO / "solutions" / "08_deep_networks" / "08_deep_networks.ipynb"


def _cells(path=NOTEBOOK) -> dict:
    nb = nbformat.read(path, as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells if "nbgrader" in c.metadata}


def _namespace() -> dict:
    cells = _cells()
    ns = {"np": np, "OrderedDict": OrderedDict, "math": math}
    exec(cells["given_layers"], ns)
    for grade_id in ("multi_layer_net", "value"):
        exec("\n".join(line for line in cells[grade_id].splitlines() if "### " not in line), ns)
    return ns


NS = _namespace()
Affine, Relu, SoftmaxWithLoss = NS["Affine"], NS["Relu"], NS["SoftmaxWithLoss"]
SolutionNet, SolutionValue = NS["MultiLayerNet"], NS["Value"]


@pytest.mark.parametrize("suffix", ["", "_ko"])
def test_the_layers_are_exactly_notebook_07s_locked_cell(suffix):
    """08 hands out no answer from 03-07 beyond what 07's locked cell already hands out (in each edition)."""
    seven = _cells(REPO / "solutions" / f"07_two_layer_net{suffix}" / f"07_two_layer_net{suffix}.ipynb")
    for kind in ("solutions", "course"):
        eight = _cells(REPO / kind / f"08_deep_networks{suffix}" / f"08_deep_networks{suffix}.ipynb")
        assert eight["given_layers"] == seven["given_layers"], f"{kind}/08{suffix}'s given_layers differs from 07's"
    nb = nbformat.read(REPO / "course" / f"08_deep_networks{suffix}" / f"08_deep_networks{suffix}.ipynb",
                       as_version=4)
    locked = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "given_layers"]
    assert len(locked) == 1 and locked[0].metadata["nbgrader"]["locked"]


# --------------------------------------------------------------------------- MultiLayerNet: other correct styles

class PlainStyleNet:
    """Correct, written differently: a plain dict of layers built from a list, normal(), norms for the decay."""

    def __init__(self, input_size, hidden_sizes, output_size, weight_decay_lambda=0):
        sizes = [input_size] + list(hidden_sizes) + [output_size]
        self.lam = weight_decay_lambda
        self.params, self.layers = {}, {}
        for i in range(len(sizes) - 1):
            w = np.random.normal(0.0, (2.0 / sizes[i]) ** 0.5, (sizes[i], sizes[i + 1]))
            self.params["W" + str(i + 1)], self.params["b" + str(i + 1)] = w, np.zeros(sizes[i + 1])
            self.layers["Affine" + str(i + 1)] = Affine(w, self.params["b" + str(i + 1)])
            if i < len(sizes) - 2:
                self.layers["Relu" + str(i + 1)] = Relu()
        self.lastLayer = SoftmaxWithLoss()

    def predict(self, x):
        for name in self.layers:
            x = self.layers[name].forward(x)
        return x

    def loss(self, x, t):
        weights = [p for k, p in self.params.items() if k.startswith("W")]
        return self.lastLayer.forward(self.predict(x), t) + self.lam / 2 * sum(np.linalg.norm(w) ** 2 for w in weights)

    def accuracy(self, x, t):
        labels = t if t.ndim == 1 else t.argmax(axis=1)
        return np.sum(self.predict(x).argmax(axis=1) == labels) / float(x.shape[0])

    def gradient(self, x, t):
        self.loss(x, t)
        dout = self.lastLayer.backward()
        for layer in list(self.layers.values())[::-1]:
            dout = layer.backward(dout)
        grads = {}
        for name, layer in self.layers.items():
            if name.startswith("Affine"):
                i = name[len("Affine"):]
                grads["W" + i], grads["b" + i] = layer.dW + self.lam * layer.W, layer.db
        return grads


class TextbookStyleNet:
    """Correct, in Deep Learning from Scratch's MultiLayerNet style: hidden_layer_num, index loops."""

    def __init__(self, input_size, hidden_size_list, output_size, weight_decay_lambda=0):
        self.hidden_layer_num = len(hidden_size_list)
        self.weight_decay_lambda = weight_decay_lambda
        all_size = [input_size] + hidden_size_list + [output_size]
        self.params = {}
        for idx in range(1, len(all_size)):
            scale = np.sqrt(2.0 / all_size[idx - 1])
            self.params["W" + str(idx)] = scale * np.random.randn(all_size[idx - 1], all_size[idx])
            self.params["b" + str(idx)] = np.zeros(all_size[idx])
        self.layers = OrderedDict()
        for idx in range(1, self.hidden_layer_num + 1):
            self.layers["Affine" + str(idx)] = Affine(self.params["W" + str(idx)], self.params["b" + str(idx)])
            self.layers["Relu" + str(idx)] = Relu()
        idx = self.hidden_layer_num + 1
        self.layers["Affine" + str(idx)] = Affine(self.params["W" + str(idx)], self.params["b" + str(idx)])
        self.lastLayer = SoftmaxWithLoss()

    def predict(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x, t):
        y = self.predict(x)
        weight_decay = 0
        for idx in range(1, self.hidden_layer_num + 2):
            W = self.params["W" + str(idx)]
            weight_decay += 0.5 * self.weight_decay_lambda * np.sum(W ** 2)
        return self.lastLayer.forward(y, t) + weight_decay

    def accuracy(self, x, t):
        y = np.argmax(self.predict(x), axis=1)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        return np.sum(y == t) / float(x.shape[0])

    def gradient(self, x, t):
        self.loss(x, t)
        dout = self.lastLayer.backward(1)
        layers = list(self.layers.values())
        layers.reverse()
        for layer in layers:
            dout = layer.backward(dout)
        grads = {}
        for idx in range(1, self.hidden_layer_num + 2):
            affine = self.layers["Affine" + str(idx)]
            grads["W" + str(idx)] = affine.dW + self.weight_decay_lambda * affine.W
            grads["b" + str(idx)] = affine.db
        return grads


@pytest.mark.parametrize("cls", [SolutionNet, PlainStyleNet, TextbookStyleNet])
def test_correct_networks_pass(cls):
    nb08.check_multi_layer_net(cls)
    nb08.check_multi_layer_net_gradient(cls)


# --------------------------------------------------------------------------- MultiLayerNet: the zoo

def _weights(net):
    return [p for k, p in net.params.items() if k.startswith("W")]


class NetLossNoDecay(SolutionNet):
    def loss(self, x, t):
        return self.lastLayer.forward(self.predict(x), t)


class NetLossNoHalf(SolutionNet):
    def loss(self, x, t):
        return self.lastLayer.forward(self.predict(x), t) + self.weight_decay_lambda * sum(
            np.sum(w ** 2) for w in _weights(self))


class NetLossDecaysBiases(SolutionNet):
    def loss(self, x, t):
        return self.lastLayer.forward(self.predict(x), t) + 0.5 * self.weight_decay_lambda * sum(
            np.sum(p ** 2) for p in self.params.values())


def _walked(net, x, t):
    net.loss(x, t)
    dout = net.lastLayer.backward(1)
    for layer in reversed(net.layers.values()):
        dout = layer.backward(dout)
    return {k: v for k, v in net.layers.items() if k.startswith("Affine")}


class NetGradNoDecay(SolutionNet):
    def gradient(self, x, t):
        grads = {}
        for name, a in _walked(self, x, t).items():
            grads["W" + name[6:]], grads["b" + name[6:]] = a.dW, a.db
        return grads


class NetGradDecayTwice(SolutionNet):
    def gradient(self, x, t):
        grads = {}
        for name, a in _walked(self, x, t).items():
            grads["W" + name[6:]], grads["b" + name[6:]] = a.dW + 2 * self.weight_decay_lambda * a.W, a.db
        return grads


class NetGradDecaysBiases(SolutionNet):
    def gradient(self, x, t):
        grads = super().gradient(x, t)
        for key in grads:
            if key.startswith("b"):
                grads[key] = grads[key] + self.weight_decay_lambda * self.params[key]
        return grads


class NetSharedRelu(SolutionNet):
    def __init__(self, input_size, hidden_sizes, output_size, weight_decay_lambda=0):
        super().__init__(input_size, hidden_sizes, output_size, weight_decay_lambda)
        relu = Relu()  # one object for every hidden layer
        for name in self.layers:
            if name.startswith("Relu"):
                self.layers[name] = relu


# (class, the check it fails, the hint): each passes the other MultiLayerNet check.
NET_ZOO = [
    (NetLossNoDecay, nb08.check_multi_layer_net, mistakes.LOSS_NO_DECAY),
    (NetLossNoHalf, nb08.check_multi_layer_net, mistakes.LOSS_DECAY_NO_HALF),
    (NetLossDecaysBiases, nb08.check_multi_layer_net, mistakes.LOSS_DECAYS_BIASES),
    (NetGradNoDecay, nb08.check_multi_layer_net_gradient, mistakes.GRAD_NO_DECAY),
    (NetGradDecayTwice, nb08.check_multi_layer_net_gradient, mistakes.GRAD_DECAY_TWICE),
    (NetGradDecaysBiases, nb08.check_multi_layer_net_gradient, mistakes.GRAD_DECAYS_BIASES),
    (NetSharedRelu, nb08.check_multi_layer_net_gradient, mistakes.RELU_SHARED),
]


@pytest.mark.parametrize("cls, check, hint", NET_ZOO, ids=[c[0].__name__ for c in NET_ZOO])
def test_a_network_mistake_loses_its_own_exercise_only(cls, check, hint):
    with pytest.raises(Failure) as info:
        check(cls)
    assert f"Hint: {hint}" in str(info.value), str(info.value)
    other = nb08.check_multi_layer_net_gradient if check is nb08.check_multi_layer_net else nb08.check_multi_layer_net
    other(cls)


class NetReluAfterLast(SolutionNet):
    def __init__(self, input_size, hidden_sizes, output_size, weight_decay_lambda=0):
        super().__init__(input_size, hidden_sizes, output_size, weight_decay_lambda)
        self.layers["ReluLast"] = Relu()


class NetTwoLayersOnly(SolutionNet):
    def __init__(self, input_size, hidden_sizes, output_size, weight_decay_lambda=0):
        super().__init__(input_size, list(hidden_sizes)[:1], output_size, weight_decay_lambda)


class NetCopies(SolutionNet):
    def __init__(self, input_size, hidden_sizes, output_size, weight_decay_lambda=0):
        super().__init__(input_size, hidden_sizes, output_size, weight_decay_lambda)
        for name, layer in self.layers.items():
            if name.startswith("Affine"):
                layer.W, layer.b = layer.W.copy(), layer.b.copy()


@pytest.mark.parametrize("cls, words", [
    (NetReluAfterLast, ["layers should be an OrderedDict with the keys"]),
    (NetTwoLayersOnly, ["should hold exactly", "W3"]),
    (NetCopies, ["initial parameters", "copies"]),
])
def test_a_broken_network_fails_the_forward_check_with_a_useful_message(cls, words):
    with pytest.raises(Failure) as info:
        nb08.check_multi_layer_net(cls)
    for word in words:
        assert word in str(info.value), str(info.value)


def test_relu_after_the_last_affine_is_named_by_predict():
    class Sneaky(SolutionNet):  # keeps the layer names right, adds a ReLU inside the last Affine's forward
        def predict(self, x):
            return np.maximum(super().predict(x), 0)
    with pytest.raises(Failure, match="no Relu after the last Affine"):
        nb08.check_multi_layer_net(Sneaky)


# --------------------------------------------------------------------------- Value: other correct styles

VALUE_SOURCE = "\n".join(line for line in _cells()["value"].splitlines() if "### " not in line)
WALK = """        order, seen = [], set()

        def visit(v):
            if v not in seen:
                seen.add(v)
                for parent in v._prev:
                    visit(parent)
                order.append(v)
        visit(self)
        self.grad = 1.0
        for v in reversed(order):
            v._backward()
"""
assert WALK in VALUE_SOURCE, "notebook 08's backward() changed: update WALK here"


def value_variant(name: str, *edits):
    """Notebook 08's Value with its source edited (old, new), as a student would have written it."""
    source = VALUE_SOURCE
    for old, new in edits:
        assert old in source, f"{name}: {old!r} is not in the solution"
        source = source.replace(old, new)
    ns = {"math": math, "np": np}
    exec(source, ns)
    cls = ns["Value"]
    cls.variant = name
    return cls


ITERATIVE = """        order, seen, stack = [], set(), [(self, False)]
        while stack:
            v, done = stack.pop()
            if done:
                order.append(v)
            elif id(v) not in seen:
                seen.add(id(v))
                stack.append((v, True))
                stack.extend((p, False) for p in v._prev)
        self.grad = 1
        for v in order[::-1]:
            v._backward()
"""
KAHN = """        nodes, todo = {id(self): self}, [self]
        while todo:
            for p in todo.pop()._prev:
                if id(p) not in nodes:
                    nodes[id(p)] = p
                    todo.append(p)
        waiting = {key: 0 for key in nodes}
        for v in nodes.values():
            for p in set(map(id, v._prev)):
                waiting[p] += 1
        self.grad = 1.0
        ready = [self]
        while ready:
            v = ready.pop()
            v._backward()
            for p in {id(q): q for q in v._prev}.values():
                waiting[id(p)] -= 1
                if waiting[id(p)] == 0:
                    ready.append(p)
"""
NUMPY_OPS = [("math.exp(self.data)", "np.exp(self.data)"), ("max(self.data, 0.0)", "np.maximum(self.data, 0)"),
             ("self.grad += (out.data > 0) * out.grad", "self.grad += out.grad if self.data > 0 else 0.0")]

CORRECT_VALUES = [SolutionValue, value_variant("iterative walk, numpy ops", (WALK, ITERATIVE), *NUMPY_OPS),
                  value_variant("Kahn's algorithm", (WALK, KAHN))]


@pytest.mark.parametrize("cls", CORRECT_VALUES, ids=["solution", "iterative", "kahn"])
def test_correct_engines_pass(cls):
    nb08.check_value(cls)


# --------------------------------------------------------------------------- Value: the zoo

VALUE_ZOO = [
    (value_variant("= instead of +=", ("self.grad += out.grad\n", "self.grad = out.grad\n"),
                   ("other.grad += out.grad", "other.grad = out.grad"),
                   ("self.grad += other.data * out.grad", "self.grad = other.data * out.grad"),
                   ("other.grad += self.data * out.grad", "other.grad = self.data * out.grad")),
     mistakes.VALUE_OVERWRITES),
    (value_variant("× not swapped", ("self.grad += other.data * out.grad", "self.grad += self.data * out.grad"),
                   ("other.grad += self.data * out.grad", "other.grad += other.data * out.grad")),
     mistakes.VALUE_MUL_SWAP),
    (value_variant("× without upstream", ("self.grad += other.data * out.grad", "self.grad += other.data"),
                   ("other.grad += self.data * out.grad", "other.grad += self.data")), mistakes.VALUE_NO_UPSTREAM),
    (value_variant("** not lowered", ("n * self.data ** (n - 1) * out.grad", "n * self.data ** n * out.grad")),
     mistakes.VALUE_POW),
    (value_variant("exp uses x", ("self.grad += out.data * out.grad", "self.grad += self.data * out.grad")),
     mistakes.VALUE_EXP),
    (value_variant("relu passes all", ("self.grad += (out.data > 0) * out.grad", "self.grad += out.grad")),
     mistakes.VALUE_RELU),
    (value_variant("no seed", ("        self.grad = 1.0\n        for v in reversed", "        for v in reversed")),
     mistakes.VALUE_NO_SEED),
    (value_variant("forward order", ("for v in reversed(order):", "for v in order:")), mistakes.VALUE_ORDER),
    (value_variant("no visited set", ("            if v not in seen:\n                seen.add(v)\n",
                                      "            if True:\n")), mistakes.VALUE_TWICE),
]


@pytest.mark.parametrize("cls, hint", VALUE_ZOO, ids=[c[0].variant for c in VALUE_ZOO])
def test_an_engine_mistake_fails_with_the_hint_that_names_it(cls, hint):
    with pytest.raises(Failure) as info:
        nb08.check_value(cls)
    assert f"Hint: {hint}" in str(info.value), str(info.value)


def test_the_random_expressions_reuse_values_and_catch_a_wrong_derived_op():
    program, _ = nb08._nb08_value._random_program(np.random.default_rng(0), 3, 8)
    used = [a for _, args in program for a in args]
    assert len(used) > len(set(used)), "the random expressions should reuse values"
    # A wrong ** for negative exponents only: / and sigmoid (given code built on **-1) go wrong with it.
    cls = value_variant("** wrong below 0", ("n * self.data ** (n - 1) * out.grad",
                                             "abs(n) * self.data ** (n - 1) * out.grad"))
    with pytest.raises(Failure, match=r"the op \*\*-2"):
        nb08.check_value(cls)


def test_a_stub_says_what_is_missing():
    stub = value_variant("stub", (WALK, "        raise NotImplementedError()\n"))
    with pytest.raises(Failure, match="not implemented yet"):
        nb08.check_value(stub)


def test_the_walk_reference_is_the_sum_over_paths():
    # d out / d a on the diamond s = 2a, u = 3s, w = 5s, out = u + w is 2 (3 + 5) = 16
    spec = nb08._nb08_value._GRAPHS["a diamond: s = 2a feeds u = 3s and w = 5s, out = u + w"]
    assert nb08._nb08_value._path_grads(spec) == [16.0, 8.0, 1.0, 1.0, 1.0]
    assert _mistakes_deep._walk(spec) == [16.0, 8.0, 1.0, 1.0, 1.0]
    assert _mistakes_deep._walk(spec, once=False)[0] != 16.0


# --------------------------------------------------------------------------- the drawing of the student's graph

def test_draw_value_graph_draws_the_recorded_graph_with_its_numbers():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bpcourse.graphplot import draw_value_graph, fmt

    a, b = SolutionValue(3.0, label="a"), SolutionValue(-2.0, label="b")
    s = a * b  # used twice below: one node in the drawing, two edges out of it
    out = s * s + s
    out.label = "out"
    out.backward()
    ax = draw_value_graph(out)
    gids = {t.get_gid(): t.get_text() for t in ax.texts if t.get_gid()}
    ops = sorted(text for gid, text in gids.items() if gid.startswith("op:"))
    assert ops == ["+", "×", "×"], gids  # a·b, s·s, and the sum: s appears once though it is used three times
    assert gids["input:a"] == "a" and gids["input:b"] == "b" and gids["output:out"] == "out"
    edges_from_s = [t.get_gid() for t in ax.texts if (t.get_gid() or "").startswith("value:n2->")]
    assert sorted(edges_from_s) == ["value:n2->n3", "value:n2->n3", "value:n2->out"], edges_from_s  # s·s takes s twice
    assert gids["value:a->n2"] == fmt(3.0) and gids["grad:a->n2"] == fmt(a.grad) == fmt((2 * -6.0 + 1) * -2.0)
    assert gids["grad:out->output"] == "1"
    plt.close("all")


def test_the_framework_cell_agrees_with_the_solution_and_skips_without_autograd(capsys):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    (source,) = [c.source for c in nb.cells if c.cell_type == "code" and "import autograd.numpy" in c.source]
    ns = {**NS, "Value": SolutionValue, "MultiLayerNet": SolutionNet}
    try:
        import autograd  # noqa: F401
    except ImportError:
        exec(source, ns)
        assert "autograd is not installed" in capsys.readouterr().out
        pytest.skip("autograd is not installed here (the test extra installs it): only the skip was checked")
    exec(source, ns)
    assert np.max(np.abs(ns["ours"] - ns["theirs"])) < 1e-12
    assert set(ns["auto"]) == set(ns["mine"]) == set(ns["deep"].params)
    assert all(np.max(np.abs(ns["mine"][k] - ns["auto"][k])) < 1e-12 for k in ns["mine"])


class NetLectureInit(SolutionNet):
    """The weights drawn with 07's lecture spread 0.01 instead of He's: only __init__ is wrong."""

    def __init__(self, input_size, hidden_sizes, output_size, weight_decay_lambda=0):
        super().__init__(input_size, hidden_sizes, output_size, weight_decay_lambda)
        for key, value in self.params.items():
            if key.startswith("W"):
                value[...] = 0.01 * np.random.randn(*value.shape)


def test_a_wrong_initialisation_costs_the_forward_cell_only():
    with pytest.raises(Failure, match="He's spread"):
        nb08.check_multi_layer_net(NetLectureInit)
    nb08.check_multi_layer_net_gradient(NetLectureInit)  # graded on parameters the check writes
