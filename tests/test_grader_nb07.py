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


def _solution(source: str) -> str:
    return "\n".join(line for line in source.splitlines() if "### " not in line and "# planted:" not in line)


def _planted(source: str) -> str:
    """The code as released: each '# planted:' line in place of the solution region it opens."""
    out, skip = [], False
    for line in source.splitlines():
        if "### BEGIN SOLUTION" in line:
            skip = True
        elif "### END SOLUTION" in line:
            skip = False
        elif line.strip().startswith("# planted:"):
            out.append(line.replace("# planted: ", "", 1))
        elif not skip:
            out.append(line)
    return "\n".join(out)


def _notebook_namespace() -> dict:
    cells = _cells()
    ns = {"np": np, "OrderedDict": OrderedDict}
    exec(cells["given_layers"], ns)
    for name in ("two_layer_net", "sgd_step", "train", "safe_affine", "train_spiral"):
        exec(_solution(cells[name]), ns)
    planted = {"Affine": ns["Affine"]}
    exec(_planted(cells["safe_affine"]), planted)
    ns["PlantedSafeAffine"] = planted["SafeAffine"]
    return ns


NS = _notebook_namespace()
Affine, Relu, SoftmaxWithLoss = NS["Affine"], NS["Relu"], NS["SoftmaxWithLoss"]
LAYERS = (Affine, Relu, SoftmaxWithLoss)
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
    nb07.check_two_layer_net_gradient(cls, *LAYERS)  # as the notebook calls it: on a known-good state


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
@pytest.mark.parametrize("layers", [(), LAYERS], ids=["own-init", "known-good"])
def test_wrong_gradients_fail_with_a_useful_message(cls, words, layers):
    nb07.check_two_layer_net(cls)  # the rest of the class is right
    with pytest.raises(Failure) as info:
        nb07.check_two_layer_net_gradient(cls, *layers)
    for word in words:
        assert word in str(info.value), f"{word!r} not in:\n{info.value}"


def test_the_learning_check_can_fail(monkeypatch):
    # Right gradients but no steps: the spirals are not learned, and the check must say so.
    from grader_tests import _nb07_net

    monkeypatch.setattr(_nb07_net, "STEPS", 0)
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


# --------------------------------------------------------------------------- one mistake costs one exercise

class RaisingInitNet(SolutionNet):
    def __init__(self, *args, **kwargs):
        raise NotImplementedError("TwoLayerNet.__init__ is not written yet")


class ZeroInitNet(SolutionNet):
    """__init__ forgets the random weights: every parameter starts at zero."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for p in self.params.values():
            p[...] = 0


@pytest.mark.parametrize("cls", [CopiedParamsNet, RenamedLayersNet, NoHeNet, Float64OnlyNet, TransposedNet,
                                 RaisingInitNet, ZeroInitNet])
def test_a_broken_init_costs_only_its_own_cell(cls):
    with pytest.raises(Failure):
        nb07.check_two_layer_net(cls)
    nb07.check_two_layer_net_gradient(cls, *LAYERS)


def test_without_the_layers_a_broken_init_still_shows_in_the_gradient_check():
    # The known-good state is what keeps CopiedParamsNet's gradient() at full marks: without it, it fails.
    with pytest.raises(Failure, match="Relu1"):
        nb07.check_two_layer_net_gradient(CopiedParamsNet)


# --------------------------------------------------------------------------- sgd_step

sgd_step, train = NS["sgd_step"], NS["train"]


def step_integers(net, x, t, batch_size, learning_rate, rng):
    """Correct: integers() for the indices, the loss by net.loss before the update, keys listed."""
    idx = rng.integers(0, len(x), size=batch_size)
    xb, tb = x[idx], t[idx]
    loss = net.loss(xb, tb)
    grads = net.gradient(xb, tb)
    for key in ("W1", "b1", "W2", "b2"):
        np.subtract(net.params[key], learning_rate * grads[key], out=net.params[key])
    return loss


def step_permutation(net, x, t, batch_size, learning_rate, rng):
    """Correct: a permutation's first indices (without replacement), items() and -=."""
    idx = rng.permutation(len(x))[:batch_size]
    grads = net.gradient(x[idx], t[idx])
    for key, value in net.params.items():
        value -= learning_rate * grads[key]
    return net.lastLayer.loss


@pytest.mark.parametrize("fn", [sgd_step, step_integers, step_permutation])
def test_correct_steps_pass(fn):
    nb07.check_sgd_step(fn)


def step_whole_set(net, x, t, batch_size, learning_rate, rng):
    grads = net.gradient(x, t)
    for key in net.params:
        net.params[key] -= learning_rate * grads[key]
    return net.lastLayer.loss


def step_two_draws(net, x, t, batch_size, learning_rate, rng):
    grads = net.gradient(x[rng.choice(len(x), batch_size)], t[rng.choice(len(x), batch_size)])
    for key in net.params:
        net.params[key] -= learning_rate * grads[key]
    return net.lastLayer.loss


def step_first_rows(net, x, t, batch_size, learning_rate, rng):
    grads = net.gradient(x[:batch_size], t[:batch_size])
    for key in net.params:
        net.params[key] -= learning_rate * grads[key]
    return net.lastLayer.loss


def step_global_random(net, x, t, batch_size, learning_rate, rng):
    batch = np.random.choice(len(x), batch_size)
    grads = net.gradient(x[batch], t[batch])
    for key in net.params:
        net.params[key] -= learning_rate * grads[key]
    return net.lastLayer.loss


def step_new_arrays(net, x, t, batch_size, learning_rate, rng):
    batch = rng.choice(len(x), batch_size)
    grads = net.gradient(x[batch], t[batch])
    for key in net.params:
        net.params[key] = net.params[key] - learning_rate * grads[key]
    return net.lastLayer.loss


def step_uphill(net, x, t, batch_size, learning_rate, rng):
    batch = rng.choice(len(x), batch_size)
    grads = net.gradient(x[batch], t[batch])
    for key in net.params:
        net.params[key] += learning_rate * grads[key]
    return net.lastLayer.loss


def step_no_rate(net, x, t, batch_size, learning_rate, rng):
    batch = rng.choice(len(x), batch_size)
    grads = net.gradient(x[batch], t[batch])
    for key in net.params:
        net.params[key] -= grads[key]
    return net.lastLayer.loss


def step_no_return(net, x, t, batch_size, learning_rate, rng):
    batch = rng.choice(len(x), batch_size)
    grads = net.gradient(x[batch], t[batch])
    for key in net.params:
        net.params[key] -= learning_rate * grads[key]


def step_stub(net, x, t, batch_size, learning_rate, rng):
    raise NotImplementedError("sgd_step is not written yet: replace this line with your code")


WRONG_STEPS = [
    (step_whole_set, ["all 40 samples", "minibatch"]),
    (step_two_draws, ["labels", "x[batch] and t[batch]"]),
    (step_first_rows, ["only 5 different samples", "not random"]),
    (step_global_random, ["different minibatches", "not np.random"]),
    (step_new_arrays, ["new arrays", "in place"]),
    (step_uphill, ["params['W1']", "against it"]),
    (step_no_rate, ["whole gradient", "learning rate (0.1)"]),
    (step_no_return, ["returned None", "loss of its minibatch"]),
    (step_stub, ["not implemented yet"]),
]


@pytest.mark.parametrize("fn, words", WRONG_STEPS)
def test_wrong_steps_fail_with_a_useful_message(fn, words):
    with pytest.raises(Failure) as info:
        nb07.check_sgd_step(fn)
    for word in words:
        assert word in str(info.value), f"{word!r} not in:\n{info.value}"


# --------------------------------------------------------------------------- train

def train_while(net, x, t, iters, batch_size, learning_rate, seed=0, every=None, step=sgd_step):
    """Correct: a while loop, the epoch from integer division, the history built at the end."""
    generator, i, losses, steps, accs = np.random.default_rng(seed), 0, [], [], []
    period = len(x) // batch_size if every is None else every
    period = max(period, 1)
    while i < iters:
        losses.append(step(net, x, t, batch_size, learning_rate, generator))
        i += 1
        if i % period == 0:
            steps.append(i)
            accs.append(net.accuracy(x, t))
    return dict(loss=losses, step=steps, accuracy=accs)


def train_seed_each_step(net, x, t, iters, batch_size, learning_rate, seed=0, every=None, step=sgd_step):
    every = every or max(len(x) // batch_size, 1)
    history = {"loss": [], "step": [], "accuracy": []}
    for i in range(iters):
        history["loss"].append(step(net, x, t, batch_size, learning_rate, np.random.default_rng(seed)))
        if (i + 1) % every == 0:
            history["step"].append(i + 1)
            history["accuracy"].append(net.accuracy(x, t))
    return history


def train_measures_before(net, x, t, iters, batch_size, learning_rate, seed=0, every=None, step=sgd_step):
    rng = np.random.default_rng(seed)
    every = every or max(len(x) // batch_size, 1)
    history = {"loss": [], "step": [], "accuracy": []}
    for i in range(iters):
        if (i + 1) % every == 0:
            history["step"].append(i + 1)
            history["accuracy"].append(net.accuracy(x, t))
        history["loss"].append(step(net, x, t, batch_size, learning_rate, rng))
    return history


def train_one_short(net, x, t, iters, batch_size, learning_rate, seed=0, every=None, step=sgd_step):
    return train(net, x, t, iters - 1, batch_size, learning_rate, seed, every, step)


def train_epoch_of_samples(net, x, t, iters, batch_size, learning_rate, seed=0, every=None, step=sgd_step):
    return train(net, x, t, iters, batch_size, learning_rate, seed, every or len(x), step)


def train_swapped(net, x, t, iters, batch_size, learning_rate, seed=0, every=None, step=sgd_step):
    return train(net, x, t, iters, learning_rate, batch_size, seed, every, step)


@pytest.mark.parametrize("fn", [train, train_while])
def test_correct_loops_pass(fn):
    nb07.check_train(fn)


@pytest.mark.parametrize("fn, words", [
    (train_seed_each_step, ["is not np.random.default_rng(3)", "seed does not repeat"]),
    (train_measures_before, ["history['accuracy']", "right after"]),
    (train_one_short, ["called step 11 times, expected 12"]),
    (train_epoch_of_samples, ["history['step'] should be [5, 10]", "len(x) // batch_size"]),
    (train_swapped, ["batch_size=0.5", "expected 4 and 0.5"]),
])
def test_wrong_loops_fail_with_a_useful_message(fn, words):
    with pytest.raises(Failure) as info:
        nb07.check_train(fn)
    for word in words:
        assert word in str(info.value), f"{word!r} not in:\n{info.value}"


# --------------------------------------------------------------------------- the planted bug and the spiral

SafeAffine, PlantedSafeAffine = NS["SafeAffine"], NS["PlantedSafeAffine"]


class SafeAffineOwnInit(Affine):
    """Correct, written out: the attributes set by hand, the arrays themselves."""

    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.x = self.x_shape = self.dW = self.db = None


class SafeAffineTransposedDW(Affine):
    def backward(self, dout):
        dx = super().backward(dout)
        self.dW = (dout.T @ self.x).T * 2
        return dx


def test_the_fixed_safe_affine_passes_and_the_planted_one_fails():
    nb07.check_safe_affine(SafeAffine)
    nb07.check_safe_affine(SafeAffineOwnInit)
    with pytest.raises(Failure) as info:
        nb07.check_safe_affine(PlantedSafeAffine)
    assert "holds copies" in str(info.value) and "super().__init__(W, b)" in str(info.value), str(info.value)


def test_the_planted_safe_affine_passes_a_gradient_check_of_its_own():
    """What the notebook says: the layer's own gradient check cannot see the copy."""
    from bpcourse.gradcheck import check_gradient

    g = np.random.default_rng(4)
    W, b, x, dout = g.standard_normal((3, 2)), g.standard_normal(2), g.standard_normal((4, 3)), \
        g.standard_normal((4, 2))
    layer = PlantedSafeAffine(W, b)
    layer.forward(x)
    dx = layer.backward(dout)
    assert check_gradient(lambda z: layer.forward(z), x, dx, dout=dout).ok
    assert check_gradient(lambda w: x @ w + layer.b, layer.W, layer.dW, dout=dout).ok
    assert layer.W is not W


def test_a_wrong_backward_in_safe_affine_fails():
    with pytest.raises(Failure, match="dW"):
        nb07.check_safe_affine(SafeAffineTransposedDW)


def _spiral_net(hidden=100, iters=None):
    from bpcourse.data import spiral

    x, t = spiral(seed=0)
    np.random.seed(0)
    net = SolutionNet(2, hidden, 3)
    if iters is None:
        NS["train_spiral"](net, x, t)
    else:
        train(net, x, t, iters=iters, batch_size=300, learning_rate=1.0)
    return net


def test_the_spiral_target():
    nb07.check_spiral(_spiral_net())
    with pytest.raises(Failure, match="the target is 0.95"):
        nb07.check_spiral(_spiral_net(iters=50))
    with pytest.raises(Failure, match=r"params\['W1'\] should be an array of shape \(2, 100\)"):
        nb07.check_spiral(_spiral_net(hidden=20, iters=50))


@pytest.mark.parametrize("cls", [CopiedParamsNet, RaisingInitNet, TransposedNet])
def test_the_visible_gradient_check_also_grades_gradient_alone(cls):
    from test_grader_nb03 import visible_check

    visible_check("07_two_layer_net", "test_gradient", TwoLayerNet=cls, OrderedDict=OrderedDict, Affine=Affine,
                  Relu=Relu, SoftmaxWithLoss=SoftmaxWithLoss)
    # A wrong gradient() still fails, and the hint (the probe builds the same known-good state) still comes.
    with pytest.raises(AssertionError) as info:
        visible_check("07_two_layer_net", "test_gradient", TwoLayerNet=type("TwoLayerNet", (cls, DividesTwiceNet), {}),
                      OrderedDict=OrderedDict, Affine=Affine, Relu=Relu, SoftmaxWithLoss=SoftmaxWithLoss)
    assert "disagrees with numerical_gradient" in str(info.value), str(info.value)
    assert "lastLayer.backward already divides" in str(info.value), str(info.value)
