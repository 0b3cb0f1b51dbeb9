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


# --------------------------------------------------------------------------- the reference cannot be steered
#
# Each steering network is right wherever its loss is first asked (so check_two_layer_net passes it). Next to
# parameters it has seen (one entry nudged), or when a differentiation routine of the grader is on the call
# stack, its loss answers so that its slope there is `factor` times the true one, and its gradient() (or its
# numerical_gradient()) claims exactly that slope. Judged by central differences of the student's loss, such
# a network got full marks. A network that fakes numerical_gradient() steers only next to the point its
# numerical_gradient() started from (or under a grader function named "numerical..."), so that its correct
# gradient() is not disturbed; the factors for gradient() are ones with which the spirals are still learned.

def _one_entry_nudge(seen, now) -> bool:
    """Whether the arrays `now` equal the arrays `seen` except for one entry moved by less than 1e-3."""
    if len(seen) != len(now) or any(np.shape(a) != np.shape(b) for a, b in zip(seen, now)):
        return False
    moved = np.concatenate([np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float)).ravel()
                            for a, b in zip(seen, now)])
    return int(np.count_nonzero(moved)) == 1 and float(moved.max()) < 1e-3


def _differentiating(words) -> bool:
    """Whether one of the grader's functions whose name holds one of `words` is calling us."""
    import inspect
    names = [frame.function.lower() for frame in inspect.stack()[2:] if "grader_tests" in frame.filename]
    return any(word in name for name in names for word in words if not name.startswith("check_"))


def steering_net(detector: str, wrong: str, factor: float):
    memory = []  # (state, loss) of recent calls, shared by every network of the class
    words = ("num", "grad", "vjp") if wrong == "gradient" else ("numerical",)

    class Steering(SolutionNet):
        remembering = wrong == "gradient"

        def loss(self, x, t):
            true = SolutionNet.loss(self, x, t)
            if detector == "stack":
                return factor * true if _differentiating(words) else true
            state = (np.array(x), np.array(t), *(np.array(self.params[k]) for k in nb07.KEYS))
            for seen, value in memory:
                if _one_entry_nudge(seen, state):
                    return value + factor * (true - value)
            if self.remembering:
                memory.append((state, true))
                del memory[:-20]
            return true

        if wrong == "gradient":
            def gradient(self, x, t):
                return {k: factor * v for k, v in SolutionNet.gradient(self, x, t).items()}
        else:
            def numerical_gradient(self, x, t, h=1e-5):
                self.remembering = True
                try:
                    return {k: factor * v for k, v in self.gradient(x, t).items()}
                finally:
                    self.remembering = False

    Steering.__name__ = f"Steering_{detector}_{wrong}_{factor:g}"
    return Steering


STEERING = [steering_net(detector, wrong, factor) for detector in ("remembers", "stack")
            for wrong, factors in (("gradient", (0.5, 2.0)), ("numerical_gradient", (0.0, 0.5)))
            for factor in factors]


@pytest.mark.parametrize("cls", STEERING, ids=lambda c: c.__name__)
def test_a_loss_cannot_steer_the_reference(cls):
    nb07.check_two_layer_net(cls)  # right wherever loss, predict and accuracy are graded
    with pytest.raises(Failure) as info:
        nb07.check_two_layer_net_gradient(cls)
    message = str(info.value)
    wrong = "numerical_gradient" if "numerical_gradient" in cls.__name__ else "gradient"
    assert message.startswith(f"net.{wrong}(x, t)['") and ("is wrong" in message or "all zeros" in message), \
        message


class HalfLossNet(SolutionNet):
    def loss(self, x, t):
        return 0.5 * super().loss(x, t)


class InvertedAccuracyNet(SolutionNet):
    def accuracy(self, x, t):
        return 1 - super().accuracy(x, t)


@pytest.mark.parametrize("cls", [SumLossNet, HalfLossNet, InvertedAccuracyNet], ids=lambda c: c.__name__)
def test_a_correct_gradient_keeps_its_points_when_loss_or_accuracy_is_wrong(cls):
    with pytest.raises(Failure):
        nb07.check_two_layer_net(cls)  # their own cell
    nb07.check_two_layer_net_gradient(cls)  # graded on its own: full marks


class Float32Net(SolutionNet):
    """The solution, float32 all the way: its input is cast to the parameters' dtype, so a float32 network
    answers in float32 whatever it is fed. Records the dtypes of the gradients it hands out."""

    dtypes: list = []

    def predict(self, x):
        return super().predict(np.asarray(x, dtype=self.params["W1"].dtype))

    def gradient(self, x, t):
        grads = super().gradient(x, t)
        Float32Net.dtypes.extend(g.dtype for g in grads.values())
        return grads


def test_a_correct_float32_gradient_passes():
    Float32Net.dtypes.clear()
    nb07.check_two_layer_net(Float32Net)
    nb07.check_two_layer_net_gradient(Float32Net)
    # ... and float32 gradients were among those it was graded on (notebook 07 trains in float32).
    assert np.float32 in Float32Net.dtypes and np.float64 in Float32Net.dtypes, set(Float32Net.dtypes)


class Float32GradientLostNet(SolutionNet):
    """Right in float64; in float32 its gradient() drops the ReLU mask (a float32-only code path)."""

    def gradient(self, x, t):
        if self.params["W1"].dtype == np.float64:
            return super().gradient(x, t)
        return SkipsReluNet.gradient(self, x, t)


def test_the_float32_gradient_is_checked():
    with pytest.raises(Failure) as info:
        nb07.check_two_layer_net_gradient(Float32GradientLostNet)
    assert "float32" in str(info.value) and "Wrong: W1, b1" in str(info.value), str(info.value)
