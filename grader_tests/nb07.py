"""Hidden tests for notebook 07: the two-layer network.

No reference network and no reference layers live here. ``predict``, ``loss`` and ``accuracy``
are checked against the formulas the notebook states, evaluated on seeded parameters the check
writes into the student's own ``params`` (in place, so the layers see them).

``gradient()`` and ``numerical_gradient()`` are checked against our own central differences of the
notebook's loss, the mean cross entropy of softmax(relu(x W1 + b1) W2 + b2), evaluated in float64 on
the parameters the check wrote. The student's ``loss()`` is never asked for values next to those
parameters, so a loss that answers differently there cannot move the reference, and a wrong
``loss()`` or ``predict()`` (graded in their own cell) costs the gradient cell nothing by itself.
``numerical_gradient()`` runs with ``self.loss`` temporarily replaced by that formula, so it is graded
for how it differentiates, not for the loss it differentiates. ``gradient()`` is checked on a float64
network and on a float32 one fed float32 input (notebook 07 trains in float32); the gradients go to
``expect_close`` as returned, so their dtype sets the tolerance. A short training run on seeded
spiral data with the student's ``gradient()`` must learn, judged by the formulas on the parameters
it reached.

Every read of the network's state and every write into it (setting parameters, a training step)
happens inside ``call``, so the check replays from its transcript.
"""

from __future__ import annotations

import contextlib
import itertools
from collections import OrderedDict

import numpy as np

from bpcourse import mistakes

from ._core import Failure, call, expect_close, expect_true, hidden_check, kind, num_vjp, rng
from ._core import as_number as _scalar

__all__ = ["check_two_layer_net", "check_two_layer_net_gradient", "check_sgd_step", "check_train",
           "check_safe_affine", "check_spiral"]

KEYS = ("W1", "b1", "W2", "b2")
LAYER_NAMES = ("Affine1", "Relu1", "Affine2")
# The learning check: full-batch steps on 180 spiral points; a correct network reaches about 0.98.
STEPS, LR, MIN_ACCURACY = 300, 1.0, 0.9

_ORDER = ("gradient() must (1) run the forward pass on this batch, self.loss(x, t); (2) start with "
          "dout = self.lastLayer.backward(1); (3) pass dout through the layers in REVERSE order "
          "(Affine2, Relu1, Affine1), e.g. for layer in reversed(list(self.layers.values())); "
          "(4) read dW and db from the two Affine layers.")


# --------------------------------------------------------------------------- helpers

def _new(cls, *args, **kwargs):
    __tracebackhide__ = True
    shown = ", ".join([repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()])
    return call(lambda: cls(*args, **kwargs), what=f"TwoLayerNet({shown})")


def _as_dict(obj):
    """A mapping as a plain dict, so call() records its contents; anything else as it is (runs in the kernel)."""
    return dict(obj) if hasattr(obj, "keys") else obj


def _read_params(net):
    """A copy of net.params as it is now (None if there is no such attribute)."""
    __tracebackhide__ = True
    return call(lambda: _as_dict(getattr(net, "params", None)), what="reading net.params")


def _params(net, sizes) -> dict:
    """net.params checked for the four keys and their shapes; returns a copy (the arrays as they are)."""
    __tracebackhide__ = True
    d, h, k = sizes
    made = f"TwoLayerNet{sizes}"
    params = _read_params(net)
    expect_true(isinstance(params, dict),
                f"{made} should have an attribute params, a dict holding W1, b1, W2, b2; got "
                f"{kind(params) if params is not None else 'no params attribute'}.")
    missing = [key for key in KEYS if key not in params]
    expect_true(not missing, f"{made}.params is missing {missing}; it should hold W1, b1, W2, b2 "
                             f"(it has {sorted(map(str, params.keys()))}).")
    shapes = {"W1": (d, h), "b1": (h,), "W2": (h, k), "b2": (k,)}
    for key, shape in shapes.items():
        got = np.shape(params[key])
        ok = got == shape or (key[0] == "b" and got == (1,) + shape)  # a (1, H) bias row also works
        expect_true(isinstance(params[key], np.ndarray) and ok,
                    f"{made}.params['{key}'] should be an array of shape {shape}, got "
                    f"{kind(params[key])} of shape {got}."
                    + (" W1 maps the input to the hidden layer: (input_size, hidden_size)."
                       if key == "W1" and got == shape[::-1] else "")
                    + (" W2 maps the hidden layer to the output: (hidden_size, output_size)."
                       if key == "W2" and got == shape[::-1] else ""))
    return params


def _write(params, values: dict) -> None:
    """Copy values into the student's own arrays, in place (runs in the kernel, on the real net.params)."""
    for key, v in values.items():
        params[key][...] = v


def _set_params(net, params: dict, gen, scale=(0.7, 0.3, 0.7, 0.3)) -> dict:
    """Overwrite the student's parameters IN PLACE with seeded values (the layers see them if they share them).

    ``params`` is the checked copy from :func:`_params` (for shapes and dtypes); returns the values written,
    which the check keeps as the network's parameters from then on.
    """
    __tracebackhide__ = True
    values = {key: (s * gen.standard_normal(params[key].shape)).astype(params[key].dtype)
              for key, s in zip(KEYS, scale)}
    call(lambda: _write(net.params, values), what="setting net.params in place")
    return values


def _scores(params, x) -> np.ndarray:
    """The notebook's formula: relu(x W1 + b1) W2 + b2."""
    W1, b1, W2, b2 = (np.asarray(params[k], dtype=np.float64) for k in KEYS)
    return np.maximum(x @ W1 + b1.ravel(), 0) @ W2 + b2.ravel()


def _mean_cross_entropy(scores, labels) -> float:
    m = scores.max(axis=1, keepdims=True)
    logp = scores - m - np.log(np.exp(scores - m).sum(axis=1, keepdims=True))
    return float(-np.mean(logp[np.arange(len(labels)), labels]))


def _labels(t) -> np.ndarray:
    """Class labels from labels or one-hot rows."""
    t = np.asarray(t)
    return t if t.ndim == 1 else t.argmax(axis=1)


def _formula_loss(params, x, t) -> float:
    """The loss the notebook states, on these parameters: mean cross entropy of softmax(scores)."""
    return _mean_cross_entropy(_scores(params, np.asarray(x, dtype=np.float64)), _labels(t))


def _away_from_kinks(gen, params, n: int, d: int) -> np.ndarray:
    """Inputs whose hidden pre-activations are all clear of ReLU's kink at 0 (|a| > 0.05)."""
    W1, b1 = np.asarray(params["W1"], np.float64), np.asarray(params["b1"], np.float64).ravel()
    x = gen.standard_normal((n, d))
    for _ in range(200):
        bad = np.any(np.abs(x @ W1 + b1) < 0.05, axis=1)
        if not bad.any():
            return x
        x[bad] = gen.standard_normal((int(bad.sum()), d))
    raise RuntimeError("could not draw inputs away from the ReLU kink")  # pragma: no cover


def _numeric_loss_grad(params: dict, x, t, key: str) -> np.ndarray:
    """Our central differences of the notebook's loss with respect to params[key] (float64); ``params``
    are the values the check wrote into the network, so no student code runs here."""
    fixed = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    return num_vjp(lambda p: _formula_loss({**fixed, key: p}, x, t), fixed[key], np.float64(1.0))


def _as_grads(grads, what: str) -> dict:
    __tracebackhide__ = True
    expect_true(isinstance(grads, dict) and all(k in grads for k in KEYS),
                f"{what} should return a dict with keys W1, b1, W2, b2 (one gradient per parameter), got "
                + (f"keys {sorted(map(str, grads.keys()))}." if isinstance(grads, dict) else f"{kind(grads)}."))
    return grads


def _fitted(got, shape):
    """A (1, H) gradient for an (H,) bias (or the reverse) is fine: compare the numbers.

    The student's dtype is kept (expect_close picks its tolerance from it); anything that is not an
    array of numbers goes back unchanged, for expect_close to explain.
    """
    try:
        arr = np.asarray(got)
    except (TypeError, ValueError):
        return got
    if arr.dtype.kind not in "biuf":
        return got
    return arr.reshape(shape) if arr.size == int(np.prod(shape)) and arr.ndim != len(shape) else arr


# --------------------------------------------------------------------------- structure, predict, loss, accuracy

def _check_init(cls) -> None:
    __tracebackhide__ = True
    sizes = (300, 200, 100)  # large enough for the sample std to sit within a few % of the true one
    for init, stds in [(0.01, (0.01, 0.01)), (0.1, (0.1, 0.1)), ("he", (np.sqrt(2 / 300), np.sqrt(2 / 200)))]:
        np.random.seed(7)  # textbook code draws from np.random; seeding it keeps the grade repeatable
        net = _new(cls, *sizes, weight_init_std=init)
        params = _params(net, sizes)
        for key, std in zip(("W1", "W2"), stds):
            got = float(np.std(params[key]))
            expect_true(abs(got / std - 1) < 0.1 and abs(float(np.mean(params[key]))) < 0.2 * std,
                        f"TwoLayerNet{sizes} with weight_init_std={init!r}: params['{key}'] should be normally "
                        f"distributed with mean 0 and std {std:.4g}, but its std is {got:.4g}."
                        + (" 'he' means std sqrt(2 / fan_in): sqrt(2 / input_size) for W1 and "
                           "sqrt(2 / hidden_size) for W2." if init == "he" else
                           " Multiply np.random.randn(...) by weight_init_std."))
        for key in ("b1", "b2"):
            expect_true(not np.any(params[key]),
                        f"TwoLayerNet{sizes}: params['{key}'] should start at zero, got values up to "
                        f"{float(np.max(np.abs(params[key]))):.3g}.")
        if init == 0.01:
            bad = [k for k in KEYS if params[k].dtype != np.float64]
            expect_true(not bad, f"TwoLayerNet{sizes}: by default the parameters should be float64, "
                                 f"but {bad} are {params[bad[0]].dtype if bad else ''}.")
    net = _new(cls, 5, 4, 3, dtype=np.float32)
    params = _params(net, (5, 4, 3))
    bad = [k for k in KEYS if params[k].dtype != np.float32]
    expect_true(not bad, f"TwoLayerNet(5, 4, 3, dtype=np.float32): params {bad} have dtype "
                         f"{params[bad[0]].dtype if bad else ''}, expected float32. Create each array with "
                         "that dtype (e.g. np.random.randn(...).astype(dtype), np.zeros(n, dtype=dtype)).")


def _layers(net):
    """net.layers as a dict of (handles to) layers in their order, or what it is instead (runs in the kernel)."""
    layers = getattr(net, "layers", None)
    return _as_dict(layers) if hasattr(layers, "values") else layers


def _last_layer(net):
    """net.lastLayer (or None), and whether it has forward and backward methods (runs in the kernel)."""
    last = getattr(net, "lastLayer", None)
    return last, all(callable(getattr(last, m, None)) for m in ("forward", "backward"))


def _check_layers(net) -> None:
    __tracebackhide__ = True
    layers = call(lambda: _layers(net), what="reading net.layers")
    expect_true(isinstance(layers, dict),
                "net.layers should be an OrderedDict of the layers in forward order "
                "(Affine1, Relu1, Affine2), got "
                + (kind(layers) if layers is not None else "no layers attribute") + ".")
    names = tuple(map(str, layers.keys()))
    expect_true(names == LAYER_NAMES,
                f"net.layers should hold the layers in forward order with the keys {list(LAYER_NAMES)}, "
                f"got {list(names)}.")
    last, ok = call(lambda: _last_layer(net), what="reading net.lastLayer")
    expect_true(last is not None and ok,
                "net.lastLayer should be the SoftmaxWithLoss layer (with forward and backward), got "
                + (kind(last) if last is not None else "no lastLayer attribute") + ".")


def _stale_keys(got, x, params, before) -> list:
    """The parameters whose initial values (not the current ones) explain predict's output, if any."""
    for r in range(1, len(KEYS) + 1):
        for stale in itertools.combinations(KEYS, r):
            mixed = {k: before[k] if k in stale else params[k] for k in KEYS}
            if np.allclose(got, _scores(mixed, x), rtol=1e-6, atol=1e-9):
                return list(stale)
    return []


def _check_predict(net, gen, sizes, params: dict, before: dict) -> None:
    __tracebackhide__ = True
    d = sizes[0]
    for n in (6, 1):
        x = gen.standard_normal((n, d))
        got = call(net.predict, x.copy(), what=f"net.predict(x) for x of shape {x.shape}")
        expected = _scores(params, x)
        arr = np.asarray(got, dtype=np.float64) if np.shape(got) == expected.shape else None
        if arr is not None and not np.allclose(arr, expected, rtol=1e-6, atol=1e-9):
            e = np.exp(expected - expected.max(axis=1, keepdims=True))
            W1, b1, W2, b2 = (np.asarray(params[k], np.float64) for k in KEYS)
            stale = _stale_keys(arr, x, params, before)
            if stale:
                raise Failure(f"net.predict(x) still uses the initial {', '.join(stale)} after net.params was "
                              "changed in place, so the layers hold copies of those parameters and training "
                              "would never reach them.\nHint: give Affine the arrays themselves: "
                              "Affine(self.params['W1'], self.params['b1']) (no .copy(), no new arrays).")
            if np.allclose(arr, e / e.sum(axis=1, keepdims=True), rtol=1e-6, atol=1e-9):
                raise Failure("net.predict(x) returns probabilities (softmax of the scores). It should return "
                              "the scores, the output of Affine2: the softmax lives in lastLayer and is only "
                              "needed for the loss.")
            if np.allclose(arr, (x @ W1 + b1.ravel()) @ W2 + b2.ravel(), rtol=1e-6, atol=1e-9):
                raise Failure("net.predict(x) skips the ReLU: pass x through every layer in "
                              "self.layers, in order (Affine1, Relu1, Affine2).")
        expect_close(got, expected, f"net.predict(x) for x of shape {x.shape} (expected relu(x W1 + b1) W2 + b2)",
                     rtol=1e-6, atol=1e-9, shape_hint="predict returns one row of scores per sample: (N, output_size).")


def _check_loss(net, gen, sizes, params: dict) -> None:
    __tracebackhide__ = True
    d, _, k = sizes
    for n in (6, 1):
        x = gen.standard_normal((n, d))
        labels = gen.integers(0, k, n)
        expected = _mean_cross_entropy(_scores(params, x), labels)
        for name, t in (("labels", labels), ("one-hot rows", np.eye(k)[labels])):
            what = f"net.loss(x, t) with t as {name}, batch of {n}"
            got = _scalar(call(net.loss, x.copy(), t.copy(), what=what), what)
            if not np.isclose(got, expected, rtol=1e-5, atol=1e-8):
                if n > 1 and np.isclose(got, expected * n, rtol=1e-5):
                    hint = "that is the sum over the batch; the loss is the mean."
                else:
                    hint = "return self.lastLayer.forward(self.predict(x), t)."
                raise Failure(f"{what} is wrong: expected the mean cross entropy of softmax(predict(x)), "
                              f"{expected:.6g}; got {got:.6g}.\nHint: {hint}")


def _check_accuracy(net, gen, sizes, params: dict) -> None:
    __tracebackhide__ = True
    d, _, k = sizes
    n = 20
    x = gen.standard_normal((n, d))
    best = _scores(params, x).argmax(axis=1)
    labels = best.copy()
    wrong = gen.choice(n, 7, replace=False)  # 13 of 20 right: 0.65
    labels[wrong] = (labels[wrong] + 1 + gen.integers(0, k - 1, 7)) % k
    expected = float(np.mean(best == labels))
    for name, t in (("labels", labels), ("one-hot rows", np.eye(k)[labels])):
        what = f"net.accuracy(x, t) with t as {name}"
        try:
            got = _scalar(call(net.accuracy, x.copy(), t.copy(), what=what), what)
        except Failure as exc:
            if name == "one-hot rows":
                raise Failure(f"{exc}\nHint: t may come as one-hot rows: turn them into labels first "
                              "(if t.ndim != 1: t = np.argmax(t, axis=1)).") from None
            raise
        if not np.isclose(got, expected, atol=1e-9):
            hint = ""
            if np.isclose(got, expected * n):
                hint = f"\nHint: {got:g} is the number of right answers; divide by the number of samples."
            elif name == "one-hot rows":
                hint = "\nHint: with one-hot t, compare with np.argmax(t, axis=1), the labels."
            raise Failure(f"{what} is wrong: {int(expected * n)} of {n} predictions (argmax of the scores) "
                          f"match t, so expected {expected:g}; got {got:g}.{hint}")
    one = x[:1]
    got = _scalar(call(net.accuracy, one.copy(), labels[:1].copy(), what="net.accuracy for a batch of 1"),
                  "net.accuracy for a batch of 1")
    expect_true(np.isclose(got, float(best[0] == labels[0])),
                f"net.accuracy(x, t) for a batch of 1 should be {float(best[0] == labels[0]):g}, got {got:g}.")


@hidden_check
def check_two_layer_net(TwoLayerNet) -> None:
    """Parameters and their initialisation, layers in order, predict, loss and accuracy against formulas."""
    __tracebackhide__ = True
    gen = rng("nb07.two_layer_net")
    state = np.random.get_state()  # _check_init seeds np.random; the student's own sequence carries on after
    try:
        _check_init(TwoLayerNet)
    finally:
        np.random.set_state(state)
    sizes = (4, 5, 3)
    net = _new(TwoLayerNet, *sizes)
    initial = _params(net, sizes)
    _check_layers(net)
    before = {k: np.asarray(initial[k], dtype=np.float64) for k in KEYS}
    params = _set_params(net, initial, gen)
    _check_predict(net, gen, sizes, params, before)
    _check_loss(net, gen, sizes, params)
    _check_accuracy(net, gen, sizes, params)


# --------------------------------------------------------------------------- gradients and learning

def _compare_grads(grads, numeric: dict, call_name: str, context: str, n: int) -> None:
    """All four gradients against the numerical ones; one message naming every wrong one."""
    __tracebackhide__ = True
    wrong = {}
    for key in KEYS:
        try:
            expect_close(_fitted(grads[key], numeric[key].shape), numeric[key],
                         f"{call_name}['{key}'] ({context}; checked against numerical gradients of the loss "
                         "formula)",
                         rtol=1e-4, atol=1e-7,
                         hints=mistakes.batch_ratios(n))
        except Failure as exc:
            wrong[key] = str(exc)
    if not wrong:
        return
    first, _, ratio_hint = wrong[next(iter(wrong))].partition("\nHint: ")
    summary = f"Wrong: {', '.join(wrong)}; right: {', '.join(k for k in KEYS if k not in wrong) or 'none'}."
    if set(wrong) <= {"W1", "b1"}:
        hint = mistakes.FIRST_LAYER_ONLY
    else:
        hint = ratio_hint or _ORDER
    raise Failure(f"{first}\n{summary}\nHint: {hint}")


def _known_good(cls, sizes, dtype, layer_classes):
    """The student's class with a network state we trust (runs in the kernel): the student's ``__init__``
    runs first, for any attribute of its own (if it raises or builds something wrong, that is graded in its
    own cell); then params, layers and lastLayer are set afresh from the notebook's locked layers, the layers
    holding the params themselves. So gradient() and numerical_gradient() are graded alone."""
    Affine, Relu, SoftmaxWithLoss = layer_classes
    d, h, k = sizes
    net = cls.__new__(cls)
    with contextlib.suppress(Exception):
        cls.__init__(net, d, h, k, dtype=dtype)
    params = {"W1": np.zeros((d, h), dtype), "b1": np.zeros(h, dtype), "W2": np.zeros((h, k), dtype),
              "b2": np.zeros(k, dtype)}
    layers = OrderedDict()
    layers["Affine1"] = Affine(params["W1"], params["b1"])
    layers["Relu1"] = Relu()
    layers["Affine2"] = Affine(params["W2"], params["b2"])
    net.params, net.layers, net.lastLayer = params, layers, SoftmaxWithLoss()
    return net


def _network(cls, sizes, layer_classes, dtype=np.float64):
    """A network to grade the gradients on: a known-good state when the notebook's layers are given,
    else the student's own constructor."""
    __tracebackhide__ = True
    if layer_classes is None:
        return _new(cls, *sizes, dtype=dtype) if dtype != np.float64 else _new(cls, *sizes)
    return call(_known_good, cls, sizes, dtype, layer_classes,
                what=f"building TwoLayerNet{sizes} with the notebook's layers")


def _check_backprop(net, gen, sizes, params: dict, dtype=np.float64) -> None:
    """gradient() on batches of 6 and 1, t as labels and as one-hot rows, input of the given dtype."""
    __tracebackhide__ = True
    d, _, k = sizes
    net_name = "a float32 network (dtype=np.float32) on float32 input" if dtype == np.float32 else ""
    for n in (6, 1):
        x = _away_from_kinks(gen, params, n, d).astype(dtype)
        labels = gen.integers(0, k, n)
        other = _away_from_kinks(gen, params, 4, d).astype(dtype)
        for name, t in (("labels", labels), ("one-hot rows", np.eye(k, dtype=dtype)[labels])):
            context = ", ".join(filter(None, [net_name, f"t as {name}", f"batch of {n}"]))
            what = f"net.gradient(x, t) with {context}"
            # A forward pass on another batch first: gradient() must run its own forward pass.
            call(net.loss, other, gen.integers(0, k, 4), what="net.loss(x, t)")
            try:
                grads = _as_grads(call(net.gradient, x.copy(), t.copy(), what=what), what)
            except Failure as exc:
                if "raised" in str(exc):
                    raise Failure(f"{exc}\nHint: {_ORDER}") from None
                raise
            now = _read_params(net)  # the parameters hold what the check wrote, unless gradient() moved them
            changed = [key for key in KEYS if not np.array_equal(params[key], now[key])]
            expect_true(not changed, f"{what} changed net.params {changed}; gradient() only computes "
                                     "gradients, the training loop updates the parameters.")
            numeric = {key: _numeric_loss_grad(params, x, labels, key) for key in KEYS}
            _compare_grads(grads, numeric, "net.gradient(x, t)", context, n)


def _numerical_gradient_of_formula(net, x, t):
    """(replaced, net.numerical_gradient(x, t)) with self.loss answering, for this one call, the notebook's
    loss formula on the network's current params (runs in the kernel). The student's numerical_gradient is
    so graded for how it differentiates; what it differentiates is ours. The student's own loss still runs
    first, for whatever else it does (the layers' forward pass), but its value is not used. ``replaced`` is
    False when the object would not take the replacement (``__slots__``, a read-only property)."""
    own_loss = getattr(net, "loss", None)

    def loss(x_, t_, *args, **kwargs):
        with contextlib.suppress(Exception):  # loss() is graded in its own cell, not here
            own_loss(x_, t_, *args, **kwargs)
        return _formula_loss(net.params, x_, t_)

    own = getattr(net, "__dict__", None)
    had = isinstance(own, dict) and "loss" in own
    saved = own["loss"] if had else None
    try:
        net.loss = loss
        replaced = True
    except (AttributeError, TypeError):  # e.g. __slots__ or a read-only property: run it as it is
        replaced = False
    try:
        return replaced, net.numerical_gradient(x, t)
    finally:
        if replaced:
            if had:
                net.loss = saved
            else:
                with contextlib.suppress(AttributeError):
                    del net.loss


def _check_numerical_gradient(cls, gen, layer_classes=None) -> None:
    __tracebackhide__ = True
    sizes = (3, 4, 2)
    net = _network(cls, sizes, layer_classes)
    params = _set_params(net, _params(net, sizes), gen)
    x = _away_from_kinks(gen, params, 3, sizes[0])
    t = gen.integers(0, sizes[2], 3)
    what = "net.numerical_gradient(x, t)"
    result = call(_numerical_gradient_of_formula, net, x.copy(), t.copy(), what=what)
    expect_true(isinstance(result, tuple) and len(result) == 2, f"{what} could not be run.")
    replaced, grads = result
    grads = _as_grads(grads, what)
    source = ("the loss formula, mean cross entropy of softmax(relu(x W1 + b1) W2 + b2), which was self.loss "
              "while it ran" if replaced is True else "the loss formula, mean cross entropy of "
              "softmax(relu(x W1 + b1) W2 + b2)")
    now = _read_params(net)
    moved = [key for key in KEYS if not np.allclose(params[key], now[key], rtol=0, atol=1e-12)]
    expect_true(not moved, f"{what} left net.params {moved} changed: restore each entry after nudging it.")
    for key in KEYS:
        numeric = _numeric_loss_grad(params, x, t, key)
        got = _fitted(grads[key], numeric.shape)
        if np.shape(got) == numeric.shape and not np.any(got) and np.any(np.abs(numeric) > 1e-6):
            raise Failure(f"{what}['{key}'] is all zeros, so the loss never changed while the entries were "
                          "nudged.\nHint: bpcourse.gradcheck.numerical_gradient hands your function a COPY of "
                          "the array; write it into the parameter (self.params[key][...] = w) before calling "
                          "self.loss(x, t), and restore the parameter afterwards.")
        expect_close(got, numeric, f"{what}['{key}'] (checked against our own central differences of {source})",
                     rtol=1e-3, atol=1e-6)


def _descend(params, grads: dict) -> None:
    """One step of gradient descent on the student's own arrays, in place (runs in the kernel)."""
    for key in KEYS:
        params[key] -= LR * np.reshape(grads[key], params[key].shape)


def _check_learns(cls, layer_classes=None) -> None:
    """Full-batch gradient descent on seeded spirals, with the student's gradient(), must fit them.

    Loss and accuracy before and after are the notebook's formulas on the parameters (the ones written,
    then the ones the training reached), so a wrong loss() or accuracy() does not count here.
    """
    __tracebackhide__ = True
    from bpcourse.data import spiral

    x, t = spiral(points_per_class=60, classes=3, noise=0.1, seed=7)
    sizes = (2, 50, 3)
    net = _network(cls, sizes, layer_classes)
    start = _set_params(net, _params(net, sizes), rng("nb07.learns"), scale=(1.0, 0.0, np.sqrt(2 / 50), 0.0))
    for _ in range(STEPS):
        grads = _as_grads(call(net.gradient, x, t, what="net.gradient(x, t)"), "net.gradient(x, t)")
        call(_descend, net.params, grads, what="the update net.params[key] -= lr * grads[key]")
    reached = _params(net, sizes)
    with np.errstate(all="ignore"):
        first, last = _formula_loss(start, x, t), _formula_loss(reached, x, t)
        acc = float(np.mean(_scores(reached, x).argmax(axis=1) == t))
    expect_true(np.isfinite(last) and last < first and acc >= MIN_ACCURACY,
                f"after {STEPS} steps of gradient descent (learning rate {LR}) on {len(x)} spiral points, "
                f"the loss went from {first:.4g} to {last:.4g} and the training accuracy is {acc:.3f}; a correct "
                f"network reaches at least {MIN_ACCURACY}. The update was net.params[key] -= lr * grads[key] "
                "(loss and accuracy: the notebook's formulas on the parameters reached).")


@hidden_check
def check_two_layer_net_gradient(TwoLayerNet, Affine=None, Relu=None, SoftmaxWithLoss=None) -> None:
    """gradient() (float64 and float32) and numerical_gradient() against our central differences of the
    notebook's loss formula on the parameters the check wrote; training with gradient() learns.

    With the notebook's locked layers given, every network here is a known-good state built from them
    (:func:`_known_good`), so a broken ``__init__`` costs only its own cell."""
    __tracebackhide__ = True
    layer_classes = None if Affine is None else (Affine, Relu, SoftmaxWithLoss)
    gen = rng("nb07.gradient")
    sizes = (4, 5, 3)  # all different, so a layer walked in the wrong direction shows as a shape error
    net = _network(TwoLayerNet, sizes, layer_classes)
    params = _set_params(net, _params(net, sizes), gen)
    _check_backprop(net, gen, sizes, params)
    _check_numerical_gradient(TwoLayerNet, gen, layer_classes)
    _check_learns(TwoLayerNet, layer_classes)
    # Notebook 07 trains in float32: the same gradients, to float32 precision.
    net = _network(TwoLayerNet, sizes, layer_classes, dtype=np.float32)
    params = _set_params(net, _params(net, sizes), gen)
    _check_backprop(net, gen, sizes, params, dtype=np.float32)


# --------------------------------------------------------------------------- the training step and loop
#
# sgd_step and train are graded on stand-ins the grader builds, not on the student's TwoLayerNet: a network
# whose gradient is a known function of the batch it is given (and which records that batch), and a step
# function that records how it was called. So a slip in TwoLayerNet costs nothing here, and these checks
# need no reference solution: what the step should do to the stand-in's arrays is the update rule itself.

class _StandInNet:
    """params, and a gradient() that records its batch and returns a known function of it."""

    def __init__(self, d: int, seed: int):
        g = np.random.default_rng(seed)
        self.params = {"W1": g.standard_normal((d, 3)), "b1": g.standard_normal(3),
                       "W2": g.standard_normal((3, 2)), "b2": g.standard_normal(2)}
        self.lastLayer = type("Loss", (), {"loss": None})()
        self.batches = []

    def gradient(self, x, t):
        x, t = np.array(x, dtype=np.float64), np.array(t)
        self.batches.append((x, t))
        self.lastLayer.loss = _stand_in_loss(x, t)
        return _stand_in_grads({k: v.shape for k, v in self.params.items()}, x)

    def loss(self, x, t):
        return _stand_in_loss(np.asarray(x, dtype=np.float64), np.asarray(t))

    def accuracy(self, x, t):
        return 0.5


def _stand_in_loss(x, t) -> float:
    return float(np.mean(x[:, 0]) + np.mean(t))


def _stand_in_grads(shapes: dict, x) -> dict:
    """A gradient per parameter that depends on the batch (so a wrong batch shows in the update)."""
    scale = 1.0 + float(np.mean(x))
    return {k: scale * np.cos(np.arange(int(np.prod(s)), dtype=np.float64) + i).reshape(s)
            for i, (k, s) in enumerate(shapes.items())}


def _stand_in_state(net) -> dict:
    """What the stand-in saw and holds now (runs in the kernel): its batches, params and their identities."""
    return {"batches": list(net.batches), "params": {k: np.array(v) for k, v in net.params.items()},
            "ids": {k: id(v) for k, v in net.params.items()}}


def _fresh_rng(seed: int):
    return np.random.default_rng(seed)


def _rows(batch_x, x) -> list:
    """For each row of batch_x, the index of the equal row of x (or -1)."""
    return [int(np.flatnonzero(np.all(x == row, axis=1))[0]) if np.any(np.all(x == row, axis=1)) else -1
            for row in batch_x]


def _one_step(step, x, t, batch_size: int, lr: float, seed: int):
    """sgd_step on a fresh stand-in: (state before, returned value, state after)."""
    __tracebackhide__ = True
    net = call(_StandInNet, x.shape[1], seed, what="building a stand-in network")
    before = call(_stand_in_state, net, what="reading the stand-in network")
    student_rng = call(_fresh_rng, seed, what="np.random.default_rng(seed)")
    out = call(step, net, x.copy(), t.copy(), batch_size, lr, student_rng,
               what=f"sgd_step(net, x, t, batch_size={batch_size}, learning_rate={lr}, rng)")
    after = call(_stand_in_state, net, what="reading the stand-in network")
    return before, out, after


@hidden_check
def check_sgd_step(sgd_step) -> None:
    """One step of minibatch SGD on a stand-in network: a random minibatch of the right size with matching
    labels, one gradient() on it, every parameter moved by -learning_rate * grad in place, the minibatch's
    loss returned; the minibatch drawn with the rng given."""
    __tracebackhide__ = True
    gen = rng("nb07.sgd_step")
    n, d, batch_size, lr = 40, 3, 8, 0.1
    x, t = gen.standard_normal((n, d)), gen.integers(0, 5, n)
    before, out, after = _one_step(sgd_step, x, t, batch_size, lr, 11)
    batches = after["batches"]
    expect_true(len(batches) == 1, f"sgd_step should call net.gradient once per step, with the minibatch; it "
                                   f"called it {len(batches)} times.")
    bx, bt = batches[0]
    if np.shape(bx)[0] == n and n != batch_size:
        raise Failure(f"sgd_step passed all {n} samples to net.gradient, expected a minibatch of {batch_size}."
                      f"\nHint: {mistakes.SGD_WHOLE_SET}")
    expect_true(np.shape(bx) == (batch_size, d) and np.shape(bt) == (batch_size,),
                f"sgd_step(..., batch_size={batch_size}, ...) should pass net.gradient a minibatch x of shape "
                f"{(batch_size, d)} and t of shape {(batch_size,)}; got {np.shape(bx)} and {np.shape(bt)}.")
    rows = _rows(bx, x)
    expect_true(min(rows) >= 0, "sgd_step passed net.gradient rows that are not rows of the training set x "
                                "(take x[batch] for an array of indices batch).")
    expect_true(np.array_equal(t[rows], bt), f"sgd_step passed net.gradient labels {bt.tolist()}, but the images "
                                             f"it passed have labels {t[rows].tolist()}.\nHint: {mistakes.SGD_LABELS}")
    replaced = [k for k in KEYS if before["ids"][k] != after["ids"][k]]
    expect_true(not replaced, f"sgd_step replaced net.params {replaced} by new arrays.\n"
                              f"Hint: {mistakes.SGD_NOT_IN_PLACE}")
    grads = _stand_in_grads({k: v.shape for k, v in before["params"].items()}, bx)
    for k in KEYS:
        change = np.asarray(after["params"][k]) - before["params"][k]
        expect_close(change, -lr * grads[k], f"the change of net.params['{k}'] after sgd_step (learning rate {lr})",
                     rtol=1e-6, atol=1e-9, hints=mistakes.sgd_ratios(lr))
    expect_true(out is not None, "sgd_step returned None: it should return the loss of its minibatch "
                                 "(net.lastLayer.loss after net.gradient).")
    loss = _scalar(out, "the value sgd_step returns")
    expect_true(np.isclose(loss, _stand_in_loss(bx, bt)),
                f"sgd_step should return the loss of its minibatch, {_stand_in_loss(bx, bt):.6g} (net.lastLayer.loss "
                f"after net.gradient, or net.loss(x[batch], t[batch])); got {loss:.6g}.")
    # Randomness: many steps with one rng cover the training set, and the same seed repeats the minibatches.
    net = call(_StandInNet, d, 12, what="building a stand-in network")
    student_rng = call(_fresh_rng, 12, what="np.random.default_rng(seed)")
    small = 5
    for _ in range(30):
        call(sgd_step, net, x.copy(), t.copy(), small, lr, student_rng,
             what=f"sgd_step(net, x, t, batch_size={small}, learning_rate={lr}, rng), 30 times with one rng")
    seen = [_rows(b[0], x) for b in call(_stand_in_state, net, what="reading the stand-in network")["batches"]]
    covered = len({i for batch in seen for i in batch})
    expect_true(len(seen) == 30 and len({tuple(b) for b in seen}) > 1 and covered >= n // 2,
                f"30 calls of sgd_step with batch_size={small} on {n} samples used only {covered} different samples"
                f" (the minibatches were {seen[:3]}, ...).\nHint: {mistakes.SGD_NOT_RANDOM}")
    again = _one_step(sgd_step, x, t, batch_size, lr, 11)[2]["batches"]
    expect_true(len(again) == 1 and np.array_equal(again[0][0], bx),
                f"two calls of sgd_step with rng = np.random.default_rng(11) drew different minibatches.\n"
                f"Hint: {mistakes.SGD_OWN_RNG}")


class _RecordingStep:
    """A step function for grading train alone: records how it is called and returns known losses."""

    def __init__(self):
        self.calls = []

    def __call__(self, net, x, t, batch_size, learning_rate, rng):
        net.steps = getattr(net, "steps", 0) + 1
        self.calls.append({"net": id(net), "x": id(x), "t": id(t), "batch_size": batch_size,
                           "learning_rate": learning_rate, "rng": type(rng).__name__, "rng_id": id(rng),
                           "draw": int(rng.integers(1 << 30)) if hasattr(rng, "integers") else None})
        return 1.0 / (len(self.calls) + 1)


class _CountingNet:
    """A stand-in whose accuracy tells how many steps it had when asked."""

    def __init__(self):
        self.steps = 0
        self.params = {}

    def accuracy(self, x, t):
        return self.steps / 1000


def _run_train(train, n, iters, batch_size, lr, seed, every):
    """train(net, x, t, ...) with a stand-in net and a recording step (runs in the kernel)."""
    net, step = _CountingNet(), _RecordingStep()
    x, t = np.zeros((n, 2)), np.zeros(n, dtype=np.int64)
    kwargs = {"seed": seed, "step": step} if every is None else {"seed": seed, "every": every, "step": step}
    history = train(net, x, t, iters, batch_size, lr, **kwargs)
    history = dict(history) if hasattr(history, "keys") else history
    same = {"net": id(net), "x": id(x), "t": id(t)}
    return history, [{**c, **{k: c[k] == v for k, v in same.items()}} for c in step.calls]


@hidden_check
def check_train(train) -> None:
    """The loop: iters calls of the step with (net, x, t, batch_size, learning_rate, rng), one rng from the
    seed for the whole run; history['loss'] the values the steps returned; history['step'] and
    history['accuracy'] every `every` steps (default: one epoch, len(x) // batch_size)."""
    __tracebackhide__ = True
    for n, iters, batch_size, lr, seed, every in ((20, 12, 4, 0.5, 3, None), (20, 10, 5, 1.0, 3, 3)):
        shown = f"train(net, x, t, iters={iters}, batch_size={batch_size}, learning_rate={lr}, seed={seed}" + \
            ("" if every is None else f", every={every}") + ", step=...)"
        history, calls = call(_run_train, train, n, iters, batch_size, lr, seed, every, what=shown)
        expect_true(isinstance(history, dict) and all(k in history for k in ("loss", "step", "accuracy")),
                    f"{shown} should return a dict with the lists 'loss', 'step' and 'accuracy'; got "
                    + (f"keys {sorted(map(str, history))}." if isinstance(history, dict) else f"{kind(history)}."))
        expect_true(len(calls) == iters, f"{shown} called step {len(calls)} times, expected {iters} (one call "
                                         "per iteration).")
        for i, c in enumerate(calls):
            wrong = [k for k in ("net", "x", "t") if not c[k]]
            expect_true(not wrong, f"{shown}: step call {i} did not get the network, x and t given to train "
                                   f"(different: {wrong}).")
            expect_true(c["batch_size"] == batch_size and c["learning_rate"] == lr,
                        f"{shown}: step call {i} got batch_size={c['batch_size']!r}, learning_rate="
                        f"{c['learning_rate']!r}; expected {batch_size} and {lr}.")
            expect_true(c["rng"] == "Generator" and c["rng_id"] == calls[0]["rng_id"],
                        f"{shown}: step call {i} got a {c['rng']} as rng; expected the same "
                        "np.random.default_rng(seed) for the whole run (make it once, before the loop).")
        expected_draws = [int(d) for d in np.random.default_rng(seed).integers(1 << 30, size=iters)]
        expect_true([c["draw"] for c in calls] == expected_draws,
                    f"{shown}: the rng given to step is not np.random.default_rng({seed}) (fresh, used only by "
                    "step), so the seed does not repeat the run.")
        expect_close(history["loss"], [1.0 / (i + 2) for i in range(iters)],
                     f"{shown}: history['loss'] (the values step returned, in order)", rtol=1e-12, atol=0,
                     shape_hint="one loss per iteration: history['loss'].append(step(...)).")
        period = every or max(n // batch_size, 1)
        marks = list(range(period, iters + 1, period))
        expect_true(list(history["step"]) == marks,
                    f"{shown}: history['step'] should be {marks} (after every {period} steps"
                    + (", one epoch: len(x) // batch_size" if every is None else "") + f"); got {history['step']}.")
        got = history["accuracy"]
        if mistakes_match(got, [(m - 1) / 1000 for m in marks]) and marks:
            raise Failure(f"{shown}: history['accuracy'] was measured just before steps {marks}, not right after "
                          "them.\nHint: call step first, then (every `every` steps) net.accuracy(x, t).")
        expect_close(got, [m / 1000 for m in marks],
                     f"{shown}: history['accuracy'] (net.accuracy(x, t) right after each of steps {marks})",
                     rtol=1e-12, atol=0)


# --------------------------------------------------------------------------- the planted bug: SafeAffine

@hidden_check
def check_safe_affine(SafeAffine) -> None:
    """SafeAffine(W, b) computes x W + b with the caller's W and b as they are NOW (an update in place
    reaches it), and its backward is an Affine's: dx, dW, db against central differences of x W + b."""
    __tracebackhide__ = True
    gen = rng("nb07.safe_affine")
    W, b, x = gen.standard_normal((4, 3)), gen.standard_normal(3), gen.standard_normal((5, 4))
    layer = call(SafeAffine, W, b, what="SafeAffine(W, b)")
    out = call(layer.forward, x.copy(), what="SafeAffine(W, b).forward(x)")
    expect_close(out, x @ W + b, "SafeAffine(W, b).forward(x) (expected x @ W + b)", rtol=1e-6, atol=1e-9)
    old = x @ W + b
    W -= 0.5 * gen.standard_normal(W.shape)  # a training step, in place, on the arrays the layer was given
    b -= 0.5 * gen.standard_normal(b.shape)
    out = call(layer.forward, x.copy(), what="SafeAffine(W, b).forward(x) after W -= ... and b -= ... in place")
    if mistakes_match(out, old):
        raise Failure("after W and b were changed in place (as a training step does), SafeAffine.forward(x) "
                      f"still returns x @ W_old + b_old.\nHint: {mistakes.SAFE_AFFINE_COPY}")
    expect_close(out, x @ W + b, "SafeAffine.forward(x) after W and b were changed in place (expected x @ W + b "
                 "with the new W and b)", rtol=1e-6, atol=1e-9, shape_hint="")
    dout = gen.standard_normal(old.shape)
    dx = call(layer.backward, dout.copy(), what="SafeAffine.backward(dout)")
    dW, db = call(lambda: (layer.dW, layer.db), what="reading SafeAffine's dW and db")
    for name, got, f, at in (("dx", dx, lambda z: z @ W + b, x), ("dW", dW, lambda z: x @ z + b, W),
                             ("db", db, lambda z: x @ W + z, b)):
        expect_close(got, num_vjp(f, at, dout), f"SafeAffine.backward: {name} (checked against numerical "
                     "gradients of x @ W + b)", rtol=1e-5, atol=1e-7)


def mistakes_match(a, b) -> bool:
    try:
        return np.shape(a) == np.shape(b) and bool(np.allclose(np.asarray(a, dtype=np.float64), b))
    except (TypeError, ValueError):
        return False


# --------------------------------------------------------------------------- the spiral target

SPIRAL_TARGET = 0.95


@hidden_check
def check_spiral(spiral_net) -> None:
    """The trained spiral network: hidden size 100, and a training accuracy of at least 0.95 on the seed's
    spirals (spiral(seed=0)), judged by the formula relu(x W1 + b1) W2 + b2 on the parameters it holds."""
    __tracebackhide__ = True
    from bpcourse.data import spiral

    x, t = spiral(points_per_class=100, dimensions=2, classes=3, seed=0)
    params = _params(spiral_net, (2, 100, 3))
    with np.errstate(all="ignore"):
        acc = float(np.mean(_scores(params, x).argmax(axis=1) == t))
    expect_true(acc >= SPIRAL_TARGET,
                f"spiral_net's training accuracy on the 300 spiral points is {acc:.3f} (the argmax of relu(x W1 + "
                f"b1) W2 + b2 with its params); the target is {SPIRAL_TARGET}. Train for more iterations (the "
                "lecture's code takes 10,000 full-batch steps of size 1.0), or check that train() updates the "
                "network.")
