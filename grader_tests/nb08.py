"""Hidden tests for notebook 08: a network of any depth with weight decay, and the ``Value`` autodiff engine.

No reference network, layer or engine lives here. ``MultiLayerNet`` is checked like notebook 07's network:
seeded parameters are written into the student's own ``params`` (in place, so the layers see them); ``predict``,
``loss`` and ``accuracy`` are compared with the notebook's formulas on those parameters, and every gradient with our
own central differences of the cost J = mean cross entropy + ½λ Σ‖W‖², evaluated in float64 on them. A wrong
``loss()`` costs the first cell only, a wrong ``gradient()`` the second only.

``Value`` is checked in three layers (:mod:`grader_tests._nb08_value`): each primitive op alone (its forward value,
the graph it records and what its ``_backward`` adds to grads that did not start at 0), ``backward()`` alone on graphs
whose nodes carry our own local gradients, then the seed examples and random expressions that reuse values, against
central differences of our own evaluation of the same expressions. Every touch of a student object is inside
``call``, so the checks replay from their transcripts.
"""

from __future__ import annotations

import numpy as np

from bpcourse import _mistakes_deep, mistakes
from bpcourse.i18n import N_, tr

from . import _nb08_value
from ._core import Failure, call, expect_close, expect_true, hidden_check, kind, num_vjp, rng, split_hint, with_hint
from ._core import as_number as _scalar

__all__ = ["check_multi_layer_net", "check_multi_layer_net_gradient", "check_value"]



def _keys(n_layers: int) -> list[str]:
    return [f"{p}{k}" for k in range(1, n_layers + 1) for p in ("W", "b")]


def _new(cls, *args):
    __tracebackhide__ = True
    shown = ", ".join(repr(a) for a in args)
    return call(lambda: cls(*args), what=f"MultiLayerNet({shown})")


def _read_params(net):
    return call(lambda: dict(net.params) if hasattr(getattr(net, "params", None), "keys") else None,
                what=tr("reading net.params"))


def _params(net, sizes: list[int], made: str) -> dict:
    """net.params checked for every key and shape; a copy of the arrays as they are."""
    __tracebackhide__ = True
    params = _read_params(net)
    got = kind(params) if params is not None else tr("no params attribute")
    expect_true(isinstance(params, dict),
                tr("{made} should have an attribute params, a dict of W1, b1, ...; got {got}.", made=made, got=got))
    keys = _keys(len(sizes) - 1)
    expect_true(sorted(map(str, params)) == sorted(keys),
                tr("{made}.params should hold exactly {keys} (one W and one b per Affine layer); it has {has}.",
                   made=made, keys=keys, has=sorted(map(str, params))))
    for k in range(1, len(sizes)):
        for key, shape in ((f"W{k}", (sizes[k - 1], sizes[k])), (f"b{k}", (sizes[k],))):
            got = np.shape(params[key])
            expect_true(isinstance(params[key], np.ndarray) and got == shape,
                        tr("{made}.params['{key}'] should be an array of shape {shape}, got {kind} of shape {got}.",
                           made=made, key=key, shape=shape, kind=kind(params[key]), got=got))
    return params


def _write(params, values: dict) -> None:
    for key, v in values.items():  # runs in the kernel, on the student's own arrays
        params[key][...] = v


def _set_params(net, params: dict, gen) -> dict:
    __tracebackhide__ = True
    values = {key: (0.8 if key[0] == "W" else 0.3) * gen.standard_normal(params[key].shape) for key in params}
    call(lambda: _write(net.params, values), what=tr("setting net.params in place"))
    return values


def _scores(params, x, relu_last: bool = False) -> np.ndarray:
    """The notebook's formula: Affine1, Relu1, ..., Affine{l} (a ReLU after the last one only to name a mistake)."""
    n = len(params) // 2
    h = np.asarray(x, dtype=np.float64)
    for k in range(1, n + 1):
        h = h @ np.asarray(params[f"W{k}"], np.float64) + np.asarray(params[f"b{k}"], np.float64)
        if k < n or relu_last:
            h = np.maximum(h, 0)
    return h


def _cross_entropy(scores, labels) -> float:
    z = scores - scores.max(axis=1, keepdims=True)
    log_y = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-np.mean(log_y[np.arange(len(labels)), labels]))


def _decay(params, lam: float, biases: bool = False) -> float:
    return 0.5 * lam * sum(float(np.sum(np.asarray(v, np.float64) ** 2)) for key, v in params.items()
                           if key[0] == "W" or biases)


def _cost(params, x, labels, lam) -> float:
    """J = mean cross entropy of softmax(scores) + ½λ Σ‖W‖²: the cost the notebook states."""
    return _cross_entropy(_scores(params, x), labels) + _decay(params, lam)


def _away_from_kinks(gen, params, n: int, d: int) -> np.ndarray:
    """Inputs whose pre-activations in every hidden layer are clear of ReLU's kink (|a| > 0.05)."""
    layers = len(params) // 2
    x = gen.standard_normal((n, d))
    for _ in range(500):
        h, bad = x, np.zeros(n, bool)
        for k in range(1, layers):
            a = h @ params[f"W{k}"] + params[f"b{k}"]
            bad |= np.any(np.abs(a) < 0.05, axis=1)
            h = np.maximum(a, 0)
        if not bad.any():
            return x
        x[bad] = gen.standard_normal((int(bad.sum()), d))
    raise RuntimeError("could not draw inputs away from the ReLU kinks")  # pragma: no cover


# --------------------------------------------------------------------------- structure, predict, loss, accuracy

def _layer_facts(net):
    """(layer names in order, whether each is its own object, lastLayer has forward/backward); in the kernel."""
    layers = getattr(net, "layers", None)
    if not hasattr(layers, "values"):
        return None, False, False
    objs = list(layers.values())
    last = getattr(net, "lastLayer", None)
    return [str(k) for k in layers], len({id(o) for o in objs}) == len(objs), \
        all(callable(getattr(last, m, None)) for m in ("forward", "backward"))


def _check_structure(cls) -> None:
    __tracebackhide__ = True
    np.random.seed(8)  # textbook code draws from np.random; seeding it keeps the grade repeatable
    for sizes in ([300, 200, 100], [5, 4, 3, 6, 2], [3, 2]):
        made = f"MultiLayerNet({sizes[0]}, {sizes[1:-1]}, {sizes[-1]})"
        net = _new(cls, sizes[0], sizes[1:-1], sizes[-1])
        params = _params(net, sizes, made)
        for k in range(1, len(sizes)):
            W, b, std = params[f"W{k}"], params[f"b{k}"], np.sqrt(2 / sizes[k - 1])
            if W.size >= 10_000:
                got = float(np.std(W))
                expect_true(abs(got / std - 1) < 0.1, tr(
                    "{made}: params['W{k}'] should be drawn with He's spread sqrt(2 / {fan_in}) = {std:.4g}, but its "
                    "std is {got:.4g}.", made=made, k=k, fan_in=sizes[k - 1], std=std, got=got))
            expect_true(not np.any(b), tr("{made}: params['b{k}'] should start at zero.", made=made, k=k))
        names, _, last_ok = call(_layer_facts, net, what=tr("reading {made}.layers", made=made))
        want = [f"{kind}{k}" for k in range(1, len(sizes)) for kind in ("Affine", "Relu")][:-1]
        expect_true(names == want, tr("{made}.layers should be an OrderedDict with the keys {want} in this order, "
                                      "got {names}.", made=made, want=want, names=names))
        expect_true(last_ok, tr("{made}.lastLayer should be a SoftmaxWithLoss (with forward and backward).",
                                made=made))


def _check_predict(net, gen, params, before) -> None:
    __tracebackhide__ = True
    d = params["W1"].shape[0]
    for n in (6, 1):
        x = gen.standard_normal((n, d))
        got = call(net.predict, x.copy(), what=tr("net.predict(x) for x of shape {shape}", shape=x.shape))
        expected = _scores(params, x)
        if np.shape(got) == expected.shape and not mistakes.same(got, expected):
            if mistakes.same(got, _scores(before, x)):
                copies = tr("net.predict(x) still gives the scores of the initial parameters after net.params was "
                            "changed in place, so the layers hold copies.")
                raise Failure(with_hint(copies, tr("build each Affine on the arrays themselves, "
                                                   "Affine(self.params['W1'], self.params['b1']), no copies.")))
            if mistakes.same(got, _scores(params, x, relu_last=True)):
                raise Failure(with_hint(tr("net.predict(x) is wrong."), mistakes.RELU_AFTER_LAST))
        expect_close(got, expected, tr("net.predict(x) for x of shape {shape} (expected Affine1, Relu1, ..., "
                                       "Affine{{l}} in order)", shape=x.shape), rtol=1e-6, atol=1e-9)


def _check_loss(net, gen, params, lam) -> None:
    __tracebackhide__ = True
    d, k = params["W1"].shape[0], params[f"W{len(params) // 2}"].shape[1]
    for n in (5, 1):
        x, labels = gen.standard_normal((n, d)), gen.integers(0, k, n)
        ce = _cross_entropy(_scores(params, x), labels)
        expected = ce + _decay(params, lam)
        for name, t in ((N_("labels"), labels), (N_("one-hot rows"), np.eye(k)[labels])):
            what = tr("net.loss(x, t) with weight_decay_lambda={lam}, t as {name}, batch of {n}", lam=lam,
                      name=tr(name), n=n)
            got = _scalar(call(net.loss, x.copy(), t.copy(), what=what), what)
            if np.isclose(got, expected, rtol=1e-6, atol=1e-9):
                continue
            hint = _mistakes_deep.deep_loss(got, ce, _decay(params, lam), _decay(params, lam, biases=True)) or tr(
                "loss = lastLayer.forward(predict(x), t) + 0.5 * λ * Σ_k np.sum(W_k ** 2).")
            wrong = tr("{what} is wrong: expected the cross entropy {ce:.6g} plus ½λΣ‖W‖² {decay:.6g} = "
                       "{expected:.6g}; got {got:.6g}.", what=what, ce=ce, decay=expected - ce, expected=expected,
                       got=got)
            raise Failure(with_hint(wrong, hint))


def _check_accuracy(net, gen, params) -> None:
    __tracebackhide__ = True
    d, k = params["W1"].shape[0], params[f"W{len(params) // 2}"].shape[1]
    x = gen.standard_normal((20, d))
    best = _scores(params, x).argmax(axis=1)
    labels = best.copy()
    labels[:7] = (labels[:7] + 1) % k  # 13 of 20 right
    for name, t in ((N_("labels"), labels), (N_("one-hot rows"), np.eye(k)[labels])):
        what = tr("net.accuracy(x, t) with t as {name}", name=tr(name))
        got = _scalar(call(net.accuracy, x.copy(), t.copy(), what=what), what)
        expect_true(np.isclose(got, 0.65), tr("{what} should be 13 of 20 = 0.65, got {got:g}.", what=what, got=got))


@hidden_check
def check_multi_layer_net(MultiLayerNet) -> None:
    """params and layers for several depths, then predict, loss (weight decay included) and accuracy."""
    __tracebackhide__ = True
    gen = rng("nb08.multi_layer_net")
    state = np.random.get_state()
    try:
        _check_structure(MultiLayerNet)
    finally:
        np.random.set_state(state)
    for sizes, lam in (([4, 5, 3, 3], 0.3), ([4, 3], 0.0), ([3, 6, 2], 0.05)):
        net = _new(MultiLayerNet, sizes[0], sizes[1:-1], sizes[-1], lam)
        made = f"MultiLayerNet({sizes[0]}, {sizes[1:-1]}, {sizes[-1]}, {lam})"
        initial = _params(net, sizes, made)
        before = {key: np.array(v, dtype=np.float64) for key, v in initial.items()}
        params = _set_params(net, initial, gen)
        _check_predict(net, gen, params, before)
        _check_loss(net, gen, params, lam)
        _check_accuracy(net, gen, params)


# --------------------------------------------------------------------------- gradient

def _gradient_hint(net, grads, numeric: dict, params: dict, lam: float, n: int) -> str:
    """The mistake that explains wrong gradients, or how gradient() should go."""
    _, distinct, _ = call(_layer_facts, net, what=tr("reading net.layers"))
    return _mistakes_deep.deep_gradient(grads, numeric, params, lam, n, distinct is not False) or tr(
        "gradient() must run the forward pass (self.loss(x, t)), start with dout = self.lastLayer.backward(1), pass "
        "dout through the layers in REVERSE order, then read dW (+ λW) and db from every Affine layer.")


def _numeric_grads(params: dict, x, labels, lam: float) -> dict:
    """Our central differences of J with respect to every parameter (float64; no student code runs here)."""
    return {key: num_vjp(lambda p, key=key: _cost({**params, key: p}, x, labels, lam), params[key], np.float64(1.0))
            for key in params}


def _as_grads(grads, keys, what: str) -> dict:
    __tracebackhide__ = True
    expect_true(isinstance(grads, dict) and all(k in grads for k in keys),
                tr("{what} should return a dict with the keys {keys}, got keys {got}.", what=what, keys=keys,
                   got=sorted(map(str, grads))) if isinstance(grads, dict) else
                tr("{what} should return a dict with the keys {keys}, got {kind}.", what=what, keys=keys,
                   kind=kind(grads)))
    return {k: grads[k] for k in keys}


@hidden_check
def check_multi_layer_net_gradient(MultiLayerNet) -> None:
    """gradient() for several depths, with and without weight decay, batches of 5 and 1, against our central
    differences of J on the parameters the check wrote."""
    __tracebackhide__ = True
    gen = rng("nb08.gradient")
    for sizes, lam in (([4, 5, 3, 3], 0.0), ([4, 5, 3, 3], 0.2), ([3, 2], 0.1), ([3, 4, 4, 4, 2], 0.05)):
        made = f"MultiLayerNet({sizes[0]}, {sizes[1:-1]}, {sizes[-1]}, {lam})"
        net = _new(MultiLayerNet, sizes[0], sizes[1:-1], sizes[-1], lam)
        params = _set_params(net, _params(net, sizes, made), gen)
        for n in (5, 1):
            x = _away_from_kinks(gen, params, n, sizes[0])
            labels = gen.integers(0, sizes[-1], n)
            what = tr("net.gradient(x, t) of {made}, batch of {n}", made=made, n=n)
            answered = False  # whether gradient() returned: a failure before that is its own exception
            try:
                got = call(net.gradient, x.copy(), labels.copy(), what=what)
                answered = True
                grads = _as_grads(got, list(params), what)
            except Failure as exc:
                _, distinct, _ = call(_layer_facts, net, what=tr("reading net.layers"))
                # gradient() raised something other than NotImplementedError (an unfinished exercise)
                if not answered and "NotImplementedError" not in str(exc) and distinct is False:
                    raise Failure(with_hint(str(exc), mistakes.RELU_SHARED)) from None
                raise
            now = _read_params(net)
            moved = [key for key in params if not np.array_equal(params[key], now[key])]
            expect_true(not moved, tr("{what} changed net.params {moved}; gradient() only computes gradients.",
                                      what=what, moved=moved))
            numeric = _numeric_grads(params, x, labels, lam)
            wrong = [key for key in params if not mistakes.same(grads[key], numeric[key], 1e-4, 1e-7)]
            if wrong:
                hint = _gradient_hint(net, grads, numeric, params, lam, n)
                try:
                    expect_close(grads[wrong[0]], numeric[wrong[0]],
                                 tr("{what}['{key}'] (checked against numerical gradients of J = cross entropy "
                                    "+ ½λΣ‖W‖²)", what=what, key=wrong[0]), rtol=1e-4, atol=1e-7)
                except Failure as exc:
                    first = split_hint(str(exc))[0]
                    raise Failure(with_hint(first + tr("\nWrong: {keys}.", keys=", ".join(wrong)), hint)) from None


@hidden_check
def check_value(Value) -> None:
    """The Value engine: each op alone, backward() alone, the seed examples and random expressions."""
    __tracebackhide__ = True
    _nb08_value.check_value(Value)
