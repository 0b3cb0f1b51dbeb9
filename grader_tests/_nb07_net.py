"""Helpers of notebook 07's TwoLayerNet checks (grader_tests.nb07): the formula, parameters written into the
student's network, the known-good state each method is graded on, and the checks of each part."""

from __future__ import annotations

import contextlib
import itertools
from collections import OrderedDict

import numpy as np

from bpcourse import mistakes
from bpcourse.i18n import N_, tr

from ._core import Failure, call, expect_close, expect_true, kind, num_vjp, rng, split_hint
from ._core import as_number as _scalar

KEYS = ("W1", "b1", "W2", "b2")
LAYER_NAMES = ("Affine1", "Relu1", "Affine2")
# The learning check: full-batch steps on 180 spiral points; a correct network reaches about 0.98.
STEPS, LR, MIN_ACCURACY = 300, 1.0, 0.9

_ORDER = N_("gradient() must (1) run the forward pass on this batch, self.loss(x, t); (2) start with "
          "dout = self.lastLayer.backward(1); (3) pass dout through the layers in REVERSE order "
          "(Affine2, Relu1, Affine1), e.g. for layer in reversed(list(self.layers.values())); "
          "(4) read dW and db from the two Affine layers.")
# How _check_loss and friends name the two forms of t; translated where they are shown.
LABELS, ONE_HOT = N_("labels"), N_("one-hot rows")


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
    return call(lambda: _as_dict(getattr(net, "params", None)), what=tr("reading net.params"))


def _params(net, sizes) -> dict:
    """net.params checked for the four keys and their shapes; returns a copy (the arrays as they are)."""
    __tracebackhide__ = True
    d, h, k = sizes
    made = f"TwoLayerNet{sizes}"
    params = _read_params(net)
    expect_true(isinstance(params, dict),
                tr("{made} should have an attribute params, a dict holding W1, b1, W2, b2; got {got}.", made=made,
                   got=kind(params) if params is not None else tr("no params attribute")))
    missing = [key for key in KEYS if key not in params]
    expect_true(not missing, tr("{made}.params is missing {missing}; it should hold W1, b1, W2, b2 "
                                "(it has {keys}).", made=made, missing=missing, keys=sorted(map(str, params.keys()))))
    shapes = {"W1": (d, h), "b1": (h,), "W2": (h, k), "b2": (k,)}
    for key, shape in shapes.items():
        got = np.shape(params[key])
        ok = got == shape or (key[0] == "b" and got == (1,) + shape)  # a (1, H) bias row also works
        expect_true(isinstance(params[key], np.ndarray) and ok,
                    tr("{made}.params['{key}'] should be an array of shape {shape}, got {kind} of shape {got}.",
                       made=made, key=key, shape=shape, kind=kind(params[key]), got=got)
                    + (tr(" W1 maps the input to the hidden layer: (input_size, hidden_size).")
                       if key == "W1" and got == shape[::-1] else "")
                    + (tr(" W2 maps the hidden layer to the output: (hidden_size, output_size).")
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
    call(lambda: _write(net.params, values), what=tr("setting net.params in place"))
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
    raise RuntimeError(tr("could not draw inputs away from the ReLU kink"))  # pragma: no cover


def _numeric_loss_grad(params: dict, x, t, key: str) -> np.ndarray:
    """Our central differences of the notebook's loss with respect to params[key] (float64); ``params``
    are the values the check wrote into the network, so no student code runs here."""
    fixed = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    return num_vjp(lambda p: _formula_loss({**fixed, key: p}, x, t), fixed[key], np.float64(1.0))


def _as_grads(grads, what: str) -> dict:
    __tracebackhide__ = True
    expect_true(isinstance(grads, dict) and all(k in grads for k in KEYS),
                tr("{what} should return a dict with keys W1, b1, W2, b2 (one gradient per parameter), got keys "
                   "{keys}.", what=what, keys=sorted(map(str, grads.keys()))) if isinstance(grads, dict) else
                tr("{what} should return a dict with keys W1, b1, W2, b2 (one gradient per parameter), got {kind}.",
                   what=what, kind=kind(grads)))
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
                        tr("TwoLayerNet{sizes} with weight_init_std={init!r}: params['{key}'] should be normally "
                           "distributed with mean 0 and std {std:.4g}, but its std is {got:.4g}.", sizes=sizes,
                           init=init, key=key, std=std, got=got)
                        + (tr(" 'he' means std sqrt(2 / fan_in): sqrt(2 / input_size) for W1 and "
                              "sqrt(2 / hidden_size) for W2.") if init == "he" else
                           tr(" Multiply np.random.randn(...) by weight_init_std.")))
        for key in ("b1", "b2"):
            expect_true(not np.any(params[key]),
                        tr("TwoLayerNet{sizes}: params['{key}'] should start at zero, got values up to "
                           "{largest:.3g}.", sizes=sizes, key=key, largest=float(np.max(np.abs(params[key])))))
        if init == 0.01:
            bad = [k for k in KEYS if params[k].dtype != np.float64]
            expect_true(not bad, tr("TwoLayerNet{sizes}: by default the parameters should be float64, "
                                    "but {bad} are {dtype}.", sizes=sizes, bad=bad,
                                    dtype=params[bad[0]].dtype if bad else ""))
    net = _new(cls, 5, 4, 3, dtype=np.float32)
    params = _params(net, (5, 4, 3))
    bad = [k for k in KEYS if params[k].dtype != np.float32]
    expect_true(not bad, tr("TwoLayerNet(5, 4, 3, dtype=np.float32): params {bad} have dtype "
                            "{dtype}, expected float32. Create each array with "
                            "that dtype (e.g. np.random.randn(...).astype(dtype), np.zeros(n, dtype=dtype)).",
                            bad=bad, dtype=params[bad[0]].dtype if bad else ""))


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
    layers = call(lambda: _layers(net), what=tr("reading net.layers"))
    expect_true(isinstance(layers, dict),
                tr("net.layers should be an OrderedDict of the layers in forward order "
                   "(Affine1, Relu1, Affine2), got {got}.",
                   got=kind(layers) if layers is not None else tr("no layers attribute")))
    names = tuple(map(str, layers.keys()))
    expect_true(names == LAYER_NAMES,
                tr("net.layers should hold the layers in forward order with the keys {expected}, "
                   "got {got}.", expected=list(LAYER_NAMES), got=list(names)))
    last, ok = call(lambda: _last_layer(net), what=tr("reading net.lastLayer"))
    expect_true(last is not None and ok,
                tr("net.lastLayer should be the SoftmaxWithLoss layer (with forward and backward), got {got}.",
                   got=kind(last) if last is not None else tr("no lastLayer attribute")))


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
        got = call(net.predict, x.copy(), what=tr("net.predict(x) for x of shape {shape}", shape=x.shape))
        expected = _scores(params, x)
        arr = np.asarray(got, dtype=np.float64) if np.shape(got) == expected.shape else None
        if arr is not None and not np.allclose(arr, expected, rtol=1e-6, atol=1e-9):
            e = np.exp(expected - expected.max(axis=1, keepdims=True))
            W1, b1, W2, b2 = (np.asarray(params[k], np.float64) for k in KEYS)
            stale = _stale_keys(arr, x, params, before)
            if stale:
                raise Failure(tr("net.predict(x) still uses the initial {keys} after net.params was "
                                 "changed in place, so the layers hold copies of those parameters and training "
                                 "would never reach them.\nHint: give Affine the arrays themselves: "
                                 "Affine(self.params['W1'], self.params['b1']) (no .copy(), no new arrays).",
                                 keys=", ".join(stale)))
            if np.allclose(arr, e / e.sum(axis=1, keepdims=True), rtol=1e-6, atol=1e-9):
                raise Failure(tr("net.predict(x) returns probabilities (softmax of the scores). It should return "
                                 "the scores, the output of Affine2: the softmax lives in lastLayer and is only "
                                 "needed for the loss."))
            if np.allclose(arr, (x @ W1 + b1.ravel()) @ W2 + b2.ravel(), rtol=1e-6, atol=1e-9):
                raise Failure(tr("net.predict(x) skips the ReLU: pass x through every layer in "
                                 "self.layers, in order (Affine1, Relu1, Affine2)."))
        expect_close(got, expected,
                     tr("net.predict(x) for x of shape {shape} (expected relu(x W1 + b1) W2 + b2)", shape=x.shape),
                     rtol=1e-6, atol=1e-9,
                     shape_hint=tr("predict returns one row of scores per sample: (N, output_size)."))


def _check_loss(net, gen, sizes, params: dict) -> None:
    __tracebackhide__ = True
    d, _, k = sizes
    for n in (6, 1):
        x = gen.standard_normal((n, d))
        labels = gen.integers(0, k, n)
        expected = _mean_cross_entropy(_scores(params, x), labels)
        for name, t in ((LABELS, labels), (ONE_HOT, np.eye(k)[labels])):
            what = tr("net.loss(x, t) with t as {name}, batch of {n}", name=tr(name), n=n)
            got = _scalar(call(net.loss, x.copy(), t.copy(), what=what), what)
            if not np.isclose(got, expected, rtol=1e-5, atol=1e-8):
                if n > 1 and np.isclose(got, expected * n, rtol=1e-5):
                    hint = tr("that is the sum over the batch; the loss is the mean.")
                else:
                    hint = tr("return self.lastLayer.forward(self.predict(x), t).")
                raise Failure(tr("{what} is wrong: expected the mean cross entropy of softmax(predict(x)), "
                                 "{expected:.6g}; got {got:.6g}.\nHint: {hint}", what=what, expected=expected,
                                 got=got, hint=hint))


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
    for name, t in ((LABELS, labels), (ONE_HOT, np.eye(k)[labels])):
        what = tr("net.accuracy(x, t) with t as {name}", name=tr(name))
        try:
            got = _scalar(call(net.accuracy, x.copy(), t.copy(), what=what), what)
        except Failure as exc:
            if name == ONE_HOT:
                raise Failure(tr("{message}\nHint: t may come as one-hot rows: turn them into labels first "
                                 "(if t.ndim != 1: t = np.argmax(t, axis=1)).", message=exc)) from None
            raise
        if not np.isclose(got, expected, atol=1e-9):
            hint = ""
            if np.isclose(got, expected * n):
                hint = tr("\nHint: {got:g} is the number of right answers; divide by the number of samples.",
                          got=got)
            elif name == ONE_HOT:
                hint = tr("\nHint: with one-hot t, compare with np.argmax(t, axis=1), the labels.")
            raise Failure(tr("{what} is wrong: {right} of {n} predictions (argmax of the scores) "
                             "match t, so expected {expected:g}; got {got:g}.{hint}", what=what,
                             right=int(expected * n), n=n, expected=expected, got=got, hint=hint))
    one = x[:1]
    what = tr("net.accuracy for a batch of 1")
    got = _scalar(call(net.accuracy, one.copy(), labels[:1].copy(), what=what), what)
    expect_true(np.isclose(got, float(best[0] == labels[0])),
                tr("net.accuracy(x, t) for a batch of 1 should be {expected:g}, got {got:g}.",
                   expected=float(best[0] == labels[0]), got=got))




# --------------------------------------------------------------------------- gradients and learning

def _compare_grads(grads, numeric: dict, call_name: str, context: str, n: int) -> None:
    """All four gradients against the numerical ones; one message naming every wrong one."""
    __tracebackhide__ = True
    wrong = {}
    for key in KEYS:
        try:
            expect_close(_fitted(grads[key], numeric[key].shape), numeric[key],
                         tr("{call}['{key}'] ({context}; checked against numerical gradients of the loss "
                            "formula)", call=call_name, key=key, context=context),
                         rtol=1e-4, atol=1e-7,
                         hints=mistakes.batch_ratios(n))
        except Failure as exc:
            wrong[key] = str(exc)
    if not wrong:
        return
    first, ratio_hint = split_hint(wrong[next(iter(wrong))])
    summary = tr("Wrong: {wrong}; right: {right}.", wrong=", ".join(wrong),
                 right=", ".join(k for k in KEYS if k not in wrong) or tr("none"))
    if set(wrong) <= {"W1", "b1"}:
        hint = tr(mistakes.FIRST_LAYER_ONLY)
    else:
        hint = ratio_hint or tr(_ORDER)
    raise Failure(tr("{first}\n{summary}\nHint: {hint}", first=first, summary=summary, hint=hint))


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
                what=tr("building TwoLayerNet{sizes} with the notebook's layers", sizes=sizes))


def _check_backprop(net, gen, sizes, params: dict, dtype=np.float64) -> None:
    """gradient() on batches of 6 and 1, t as labels and as one-hot rows, input of the given dtype."""
    __tracebackhide__ = True
    d, _, k = sizes
    net_name = tr("a float32 network (dtype=np.float32) on float32 input") if dtype == np.float32 else ""
    for n in (6, 1):
        x = _away_from_kinks(gen, params, n, d).astype(dtype)
        labels = gen.integers(0, k, n)
        other = _away_from_kinks(gen, params, 4, d).astype(dtype)
        for name, t in ((LABELS, labels), (ONE_HOT, np.eye(k, dtype=dtype)[labels])):
            context = ", ".join(filter(None, [net_name, tr("t as {name}", name=tr(name)), tr("batch of {n}", n=n)]))
            what = tr("net.gradient(x, t) with {context}", context=context)
            # A forward pass on another batch first: gradient() must run its own forward pass.
            call(net.loss, other, gen.integers(0, k, 4), what="net.loss(x, t)")
            try:
                result = call(net.gradient, x.copy(), t.copy(), what=what)
            except Failure as exc:
                # gradient() raised: the order of its steps is the likely slip (not so for NotImplementedError).
                if "raised" in str(exc) or "NotImplementedError" not in str(exc):
                    raise Failure(tr("{message}\nHint: {hint}", message=exc, hint=tr(_ORDER))) from None
                raise
            grads = _as_grads(result, what)
            now = _read_params(net)  # the parameters hold what the check wrote, unless gradient() moved them
            changed = [key for key in KEYS if not np.array_equal(params[key], now[key])]
            expect_true(not changed, tr("{what} changed net.params {keys}; gradient() only computes "
                                        "gradients, the training loop updates the parameters.", what=what,
                                        keys=changed))
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
    expect_true(isinstance(result, tuple) and len(result) == 2, tr("{what} could not be run.", what=what))
    replaced, grads = result
    grads = _as_grads(grads, what)
    source = (tr("the loss formula, mean cross entropy of softmax(relu(x W1 + b1) W2 + b2), which was self.loss "
                 "while it ran") if replaced is True else tr("the loss formula, mean cross entropy of "
                                                             "softmax(relu(x W1 + b1) W2 + b2)"))
    now = _read_params(net)
    moved = [key for key in KEYS if not np.allclose(params[key], now[key], rtol=0, atol=1e-12)]
    expect_true(not moved, tr("{what} left net.params {keys} changed: restore each entry after nudging it.",
                              what=what, keys=moved))
    for key in KEYS:
        numeric = _numeric_loss_grad(params, x, t, key)
        got = _fitted(grads[key], numeric.shape)
        if np.shape(got) == numeric.shape and not np.any(got) and np.any(np.abs(numeric) > 1e-6):
            raise Failure(tr("{what}['{key}'] is all zeros, so the loss never changed while the entries were "
                             "nudged.\nHint: bpcourse.gradcheck.numerical_gradient hands your function a COPY of "
                             "the array; write it into the parameter (self.params[key][...] = w) before calling "
                             "self.loss(x, t), and restore the parameter afterwards.", what=what, key=key))
        expect_close(got, numeric,
                     tr("{what}['{key}'] (checked against our own central differences of {source})", what=what,
                        key=key, source=source),
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
        call(_descend, net.params, grads, what=tr("the update net.params[key] -= lr * grads[key]"))
    reached = _params(net, sizes)
    with np.errstate(all="ignore"):
        first, last = _formula_loss(start, x, t), _formula_loss(reached, x, t)
        acc = float(np.mean(_scores(reached, x).argmax(axis=1) == t))
    expect_true(np.isfinite(last) and last < first and acc >= MIN_ACCURACY,
                tr("after {steps} steps of gradient descent (learning rate {lr}) on {n} spiral points, "
                   "the loss went from {first:.4g} to {last:.4g} and the training accuracy is {acc:.3f}; a correct "
                   "network reaches at least {target}. The update was net.params[key] -= lr * grads[key] "
                   "(loss and accuracy: the notebook's formulas on the parameters reached).", steps=STEPS, lr=LR,
                   n=len(x), first=first, last=last, acc=acc, target=MIN_ACCURACY))


