"""grader_tests.nb07 is fair: correct networks in several styles pass, classic mistakes fail with a useful message.

The layers and the reference solution are taken from notebook 07 itself (its locked layer cell and its
solution cell), so these tests follow the notebook when it changes.
"""

from collections import OrderedDict

import nbformat
import numpy as np
import pytest

from conftest import REPO
from grader_tests import nb07
from grader_tests._core import Failure

NOTEBOOK = REPO / "solutions" / "07_two_layer_net" / "07_two_layer_net.ipynb"


def _cells() -> dict:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells if "nbgrader" in c.metadata}


def _notebook_namespace() -> dict:
    cells = _cells()
    ns = {"np": np, "OrderedDict": OrderedDict}
    exec(cells["given_layers"], ns)
    solution = "\n".join(line for line in cells["two_layer_net"].splitlines() if "### " not in line)
    exec(solution, ns)
    return ns


NS = _notebook_namespace()
Affine, Relu, SoftmaxWithLoss = NS["Affine"], NS["Relu"], NS["SoftmaxWithLoss"]
SolutionNet = NS["TwoLayerNet"]


# --------------------------------------------------------------------------- other correct styles

class PlainStyleNet:
    """Correct, written differently: plain dict of layers, list slicing, normal(), gradcheck helper."""

    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01, dtype=np.float64):
        def std(fan_in):
            return (2.0 / fan_in) ** 0.5 if weight_init_std == "he" else weight_init_std

        self.params = dict(
            W1=np.random.normal(0.0, std(input_size), (input_size, hidden_size)).astype(dtype),
            b1=np.zeros(hidden_size, dtype),
            W2=np.random.normal(0.0, std(hidden_size), (hidden_size, output_size)).astype(dtype),
            b2=np.zeros(output_size, dtype),
        )
        p = self.params
        self.layers = {"Affine1": Affine(p["W1"], p["b1"]), "Relu1": Relu(), "Affine2": Affine(p["W2"], p["b2"])}
        self.lastLayer = SoftmaxWithLoss()

    def predict(self, x):
        out = x
        for name in self.layers:
            out = self.layers[name].forward(out)
        return out

    def loss(self, x, t):
        scores = self.predict(x)
        return self.lastLayer.forward(scores, t)

    def accuracy(self, x, t):
        y = self.predict(x).argmax(axis=1)
        labels = t if t.ndim == 1 else t.argmax(axis=1)
        return np.sum(y == labels) / float(x.shape[0])

    def numerical_gradient(self, x, t):
        from bpcourse.gradcheck import numerical_gradient

        grads = {}
        for key, p in self.params.items():
            saved = p.copy()

            def loss_at(w, p=p):
                p[...] = w
                return self.loss(x, t)

            grads[key] = numerical_gradient(loss_at, saved)
            p[...] = saved
        return grads

    def gradient(self, x, t):
        self.loss(x, t)
        dout = self.lastLayer.backward()
        for layer in list(self.layers.values())[::-1]:
            dout = layer.backward(dout)
        a1, a2 = self.layers["Affine1"], self.layers["Affine2"]
        return dict(W1=a1.dW, b1=a1.db, W2=a2.dW, b2=a2.db)


class BiasRowNet(SolutionNet):
    """Correct, with the lecture's spiral-code bias rows of shape (1, H)."""

    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01, dtype=np.float64):
        super().__init__(input_size, hidden_size, output_size, weight_init_std, dtype)
        for key, affine in (("b1", "Affine1"), ("b2", "Affine2")):
            self.params[key] = self.params[key].reshape(1, -1)  # a view: still the same numbers
            self.layers[affine].b = self.params[key]


@pytest.mark.parametrize("cls", [SolutionNet, PlainStyleNet, BiasRowNet])
def test_correct_networks_pass(cls):
    nb07.check_two_layer_net(cls)
    nb07.check_two_layer_net_gradient(cls)


# --------------------------------------------------------------------------- wrong gradients

def _backward_from(net, dout, layers):
    for layer in layers:
        dout = layer.backward(dout)
    a1, a2 = net.layers["Affine1"], net.layers["Affine2"]
    return {"W1": a1.dW, "b1": a1.db, "W2": a2.dW, "b2": a2.db}


class ForwardOrderNet(SolutionNet):
    def gradient(self, x, t):
        self.loss(x, t)
        return _backward_from(self, self.lastLayer.backward(1), self.layers.values())  # no reversed()


class NoLastLayerNet(SolutionNet):
    def gradient(self, x, t):
        self.loss(x, t)
        return _backward_from(self, 1, reversed(self.layers.values()))  # forgot lastLayer.backward


class SkipsReluNet(SolutionNet):
    def gradient(self, x, t):
        self.loss(x, t)
        return _backward_from(self, self.lastLayer.backward(1),
                              [self.layers["Affine2"], self.layers["Affine1"]])


class NoForwardNet(SolutionNet):
    def gradient(self, x, t):  # reuses whatever batch the layers saw last
        return _backward_from(self, self.lastLayer.backward(1), reversed(self.layers.values()))


class DividesTwiceNet(SolutionNet):
    def gradient(self, x, t):
        self.loss(x, t)
        return _backward_from(self, self.lastLayer.backward(1) / len(x), reversed(self.layers.values()))


class UpdatesInsideNet(SolutionNet):
    def gradient(self, x, t):
        grads = super().gradient(x, t)
        for key in grads:
            self.params[key] -= 0.1 * grads[key]
        return grads


class CopyNumericalNet(SolutionNet):
    def numerical_gradient(self, x, t):  # the textbook idiom with a helper that passes copies: all zeros
        from bpcourse.gradcheck import numerical_gradient
        return {key: numerical_gradient(lambda w: self.loss(x, t), p) for key, p in self.params.items()}


class NoRestoreNet(SolutionNet):
    def numerical_gradient(self, x, t, h=1e-5):
        grads = super().numerical_gradient(x, t, h)
        self.params["W2"][0, 0] += h
        return grads


class StubNet(SolutionNet):
    def gradient(self, x, t):
        raise NotImplementedError()


@pytest.mark.parametrize("cls, words", [
    (ForwardOrderNet, ["raised", "REVERSE"]),
    (NoLastLayerNet, ["raised", "lastLayer.backward(1)"]),
    (SkipsReluNet, ["['W1']", "Wrong: W1, b1; right: W2, b2", "Relu1"]),
    (NoForwardNet, ["is wrong", "self.loss(x, t)"]),
    (DividesTwiceNet, ["batch size", "lastLayer.backward already divides"]),
    (UpdatesInsideNet, ["changed net.params"]),
    (CopyNumericalNet, ["numerical_gradient", "all zeros", "COPY"]),
    (NoRestoreNet, ["numerical_gradient", "restore"]),
    (StubNet, ["not implemented yet"]),
])
def test_wrong_gradients_fail_with_a_useful_message(cls, words):
    nb07.check_two_layer_net(cls)  # the rest of the class is right
    with pytest.raises(Failure) as info:
        nb07.check_two_layer_net_gradient(cls)
    for word in words:
        assert word in str(info.value), f"{word!r} not in:\n{info.value}"


def test_the_learning_check_can_fail(monkeypatch):
    # Right gradients but no steps: the spirals are not learned, and the check must say so.
    monkeypatch.setattr(nb07, "STEPS", 0)
    with pytest.raises(Failure, match="training accuracy is 0.2"):
        nb07.check_two_layer_net_gradient(SolutionNet)


# --------------------------------------------------------------------------- wrong structure, forward, accuracy

class PredictSkipsReluNet(SolutionNet):
    def predict(self, x):
        return self.layers["Affine2"].forward(self.layers["Affine1"].forward(x))


class PredictSoftmaxNet(SolutionNet):
    def predict(self, x):
        s = super().predict(x)
        e = np.exp(s - s.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)


class CopiedParamsNet(SolutionNet):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.layers["Affine1"] = Affine(self.params["W1"].copy(), self.params["b1"].copy())


class RenamedLayersNet(SolutionNet):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.layers = OrderedDict(zip(["affine1", "relu1", "affine2"], self.layers.values()))


class CountNet(SolutionNet):
    def accuracy(self, x, t):
        return float(np.sum(np.argmax(self.predict(x), axis=1) == t))


class LabelsOnlyAccuracyNet(SolutionNet):
    def accuracy(self, x, t):
        return float(np.mean(np.argmax(self.predict(x), axis=1) == t))


class SumLossNet(SolutionNet):
    def loss(self, x, t):
        return super().loss(x, t) * len(x)


class NoHeNet(SolutionNet):
    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01, dtype=np.float64):
        std = 0.01 if weight_init_std == "he" else weight_init_std
        super().__init__(input_size, hidden_size, output_size, std, dtype)


class Float64OnlyNet(SolutionNet):
    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01, dtype=np.float64):
        super().__init__(input_size, hidden_size, output_size, weight_init_std)


class TransposedNet(SolutionNet):
    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01, dtype=np.float64):
        super().__init__(input_size, hidden_size, output_size, weight_init_std, dtype)
        self.params["W1"] = self.params["W1"].T.copy()


@pytest.mark.parametrize("cls, words", [
    (PredictSkipsReluNet, ["skips the ReLU"]),
    (PredictSoftmaxNet, ["probabilities"]),
    (CopiedParamsNet, ["copies", "Affine(self.params['W1'], self.params['b1'])"]),
    (RenamedLayersNet, ["['Affine1', 'Relu1', 'Affine2']", "['affine1', 'relu1', 'affine2']"]),
    (CountNet, ["divide by the number of samples"]),
    (LabelsOnlyAccuracyNet, ["one-hot"]),
    (SumLossNet, ["sum over the batch"]),
    (NoHeNet, ["weight_init_std='he'", "sqrt(2 / fan_in)"]),
    (Float64OnlyNet, ["float32"]),
    (TransposedNet, ["params['W1']", "(input_size, hidden_size)"]),
])
def test_wrong_structure_or_forward_fails_with_a_useful_message(cls, words):
    with pytest.raises(Failure) as info:
        nb07.check_two_layer_net(cls)
    for word in words:
        assert word in str(info.value), f"{word!r} not in:\n{info.value}"


# --------------------------------------------------------------------------- determinism

@pytest.mark.parametrize("check, cls", [(nb07.check_two_layer_net_gradient, SkipsReluNet),
                                        (nb07.check_two_layer_net, CountNet)])
def test_checks_are_deterministic(check, cls):
    messages = []
    for _ in range(2):
        with pytest.raises(Failure) as info:
            check(cls)
        messages.append(str(info.value))
    assert messages[0] == messages[1]


def test_passing_checks_do_not_depend_on_the_global_seed():
    np.random.seed(123)
    nb07.check_two_layer_net_gradient(SolutionNet)
    np.random.seed(456)
    nb07.check_two_layer_net_gradient(PlainStyleNet)
