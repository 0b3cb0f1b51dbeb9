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

import numpy as np

from bpcourse import mistakes
from bpcourse.i18n import tr

from ._core import Failure, call, expect_close, expect_true, hidden_check, kind, num_vjp, rng
from ._core import as_number as _scalar
from ._nb07_net import (
    KEYS,
    _check_accuracy,
    _check_backprop,
    _check_init,
    _check_layers,
    _check_learns,
    _check_loss,
    _check_numerical_gradient,
    _check_predict,
    _network,
    _new,
    _params,
    _scores,
    _set_params,
)
from ._nb07_training import (
    SPIRAL_TARGET,
    _fresh_rng,
    _one_step,
    _rows,
    _run_train,
    _stand_in_grads,
    _stand_in_loss,
    _stand_in_state,
    _StandInNet,
    mistakes_match,
)

__all__ = ["check_two_layer_net", "check_two_layer_net_gradient", "check_sgd_step", "check_train",
           "check_safe_affine", "check_spiral"]
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
    expect_true(len(batches) == 1, tr("sgd_step should call net.gradient once per step, with the minibatch; it "
                                      "called it {count} times.", count=len(batches)))
    bx, bt = batches[0]
    if np.shape(bx)[0] == n and n != batch_size:
        raise Failure(tr("sgd_step passed all {n} samples to net.gradient, expected a minibatch of {batch_size}."
                         "\nHint: {hint}", n=n, batch_size=batch_size, hint=tr(mistakes.SGD_WHOLE_SET)))
    expect_true(np.shape(bx) == (batch_size, d) and np.shape(bt) == (batch_size,),
                tr("sgd_step(..., batch_size={batch_size}, ...) should pass net.gradient a minibatch x of shape "
                   "{x_shape} and t of shape {t_shape}; got {got_x} and {got_t}.", batch_size=batch_size,
                   x_shape=(batch_size, d), t_shape=(batch_size,), got_x=np.shape(bx), got_t=np.shape(bt)))
    rows = _rows(bx, x)
    expect_true(min(rows) >= 0, tr("sgd_step passed net.gradient rows that are not rows of the training set x "
                                   "(take x[batch] for an array of indices batch)."))
    expect_true(np.array_equal(t[rows], bt), tr("sgd_step passed net.gradient labels {labels}, but the images "
                                                "it passed have labels {expected}.\nHint: {hint}", labels=bt.tolist(),
                                                expected=t[rows].tolist(), hint=tr(mistakes.SGD_LABELS)))
    replaced = [k for k in KEYS if before["ids"][k] != after["ids"][k]]
    expect_true(not replaced, tr("sgd_step replaced net.params {keys} by new arrays.\nHint: {hint}", keys=replaced,
                                 hint=tr(mistakes.SGD_NOT_IN_PLACE)))
    grads = _stand_in_grads({k: v.shape for k, v in before["params"].items()}, bx)
    for k in KEYS:
        change = np.asarray(after["params"][k]) - before["params"][k]
        expect_close(change, -lr * grads[k],
                     tr("the change of net.params['{key}'] after sgd_step (learning rate {lr})", key=k, lr=lr),
                     rtol=1e-6, atol=1e-9, hints=mistakes.sgd_ratios(lr))
    expect_true(out is not None, tr("sgd_step returned None: it should return the loss of its minibatch "
                                    "(net.lastLayer.loss after net.gradient)."))
    loss = _scalar(out, tr("the value sgd_step returns"))
    expect_true(np.isclose(loss, _stand_in_loss(bx, bt)),
                tr("sgd_step should return the loss of its minibatch, {expected:.6g} (net.lastLayer.loss "
                   "after net.gradient, or net.loss(x[batch], t[batch])); got {got:.6g}.",
                   expected=_stand_in_loss(bx, bt), got=loss))
    # Randomness: many steps with one rng cover the training set, and the same seed repeats the minibatches.
    net = call(_StandInNet, d, 12, what=tr("building a stand-in network"))
    student_rng = call(_fresh_rng, 12, what="np.random.default_rng(seed)")
    small = 5
    for _ in range(30):
        call(sgd_step, net, x.copy(), t.copy(), small, lr, student_rng,
             what=tr("sgd_step(net, x, t, batch_size={batch_size}, learning_rate={lr}, rng), 30 times with one rng",
                     batch_size=small, lr=lr))
    state = call(_stand_in_state, net, what=tr("reading the stand-in network"))
    seen = [_rows(b[0], x) for b in state["batches"]]
    covered = len({i for batch in seen for i in batch})
    expect_true(len(seen) == 30 and len({tuple(b) for b in seen}) > 1 and covered >= n // 2,
                tr("30 calls of sgd_step with batch_size={batch_size} on {n} samples used only {covered} different "
                   "samples (the minibatches were {first}, ...).\nHint: {hint}", batch_size=small, n=n,
                   covered=covered, first=seen[:3], hint=tr(mistakes.SGD_NOT_RANDOM)))
    again = _one_step(sgd_step, x, t, batch_size, lr, 11)[2]["batches"]
    expect_true(len(again) == 1 and np.array_equal(again[0][0], bx),
                tr("two calls of sgd_step with rng = np.random.default_rng(11) drew different minibatches."
                   "\nHint: {hint}", hint=tr(mistakes.SGD_OWN_RNG)))
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
                    tr("{call} should return a dict with the lists 'loss', 'step' and 'accuracy'; got keys {keys}.",
                       call=shown, keys=sorted(map(str, history))) if isinstance(history, dict) else
                    tr("{call} should return a dict with the lists 'loss', 'step' and 'accuracy'; got {kind}.",
                       call=shown, kind=kind(history)))
        expect_true(len(calls) == iters, tr("{call} called step {count} times, expected {iters} (one call "
                                            "per iteration).", call=shown, count=len(calls), iters=iters))
        for i, c in enumerate(calls):
            wrong = [k for k in ("net", "x", "t") if not c[k]]
            expect_true(not wrong, tr("{call}: step call {i} did not get the network, x and t given to train "
                                      "(different: {wrong}).", call=shown, i=i, wrong=wrong))
            expect_true(c["batch_size"] == batch_size and c["learning_rate"] == lr,
                        tr("{call}: step call {i} got batch_size={got_batch_size!r}, learning_rate="
                           "{got_lr!r}; expected {batch_size} and {lr}.", call=shown, i=i,
                           got_batch_size=c["batch_size"], got_lr=c["learning_rate"], batch_size=batch_size, lr=lr))
            expect_true(c["rng"] == "Generator" and c["rng_id"] == calls[0]["rng_id"],
                        tr("{call}: step call {i} got a {kind} as rng; expected the same "
                           "np.random.default_rng(seed) for the whole run (make it once, before the loop).",
                           call=shown, i=i, kind=c["rng"]))
        expected_draws = [int(d) for d in np.random.default_rng(seed).integers(1 << 30, size=iters)]
        expect_true([c["draw"] for c in calls] == expected_draws,
                    tr("{call}: the rng given to step is not np.random.default_rng({seed}) (fresh, used only by "
                       "step), so the seed does not repeat the run.", call=shown, seed=seed))
        expect_close(history["loss"], [1.0 / (i + 2) for i in range(iters)],
                     tr("{call}: history['loss'] (the values step returned, in order)", call=shown), rtol=1e-12,
                     atol=0, shape_hint=tr("one loss per iteration: history['loss'].append(step(...))."))
        period = every or max(n // batch_size, 1)
        marks = list(range(period, iters + 1, period))
        expect_true(list(history["step"]) == marks,
                    tr("{call}: history['step'] should be {marks} (after every {period} steps, one epoch: "
                       "len(x) // batch_size); got {got}.", call=shown, marks=marks, period=period,
                       got=history["step"]) if every is None else
                    tr("{call}: history['step'] should be {marks} (after every {period} steps); got {got}.",
                       call=shown, marks=marks, period=period, got=history["step"]))
        got = history["accuracy"]
        if mistakes_match(got, [(m - 1) / 1000 for m in marks]) and marks:
            raise Failure(tr("{call}: history['accuracy'] was measured just before steps {marks}, not right after "
                             "them.\nHint: call step first, then (every `every` steps) net.accuracy(x, t).",
                             call=shown, marks=marks))
        expect_close(got, [m / 1000 for m in marks],
                     tr("{call}: history['accuracy'] (net.accuracy(x, t) right after each of steps {marks})",
                        call=shown, marks=marks),
                     rtol=1e-12, atol=0)
@hidden_check
def check_safe_affine(SafeAffine) -> None:
    """SafeAffine(W, b) computes x W + b with the caller's W and b as they are NOW (an update in place
    reaches it), and its backward is an Affine's: dx, dW, db against central differences of x W + b."""
    __tracebackhide__ = True
    gen = rng("nb07.safe_affine")
    W, b, x = gen.standard_normal((4, 3)), gen.standard_normal(3), gen.standard_normal((5, 4))
    layer = call(SafeAffine, W, b, what="SafeAffine(W, b)")
    out = call(layer.forward, x.copy(), what="SafeAffine(W, b).forward(x)")
    expect_close(out, x @ W + b, tr("SafeAffine(W, b).forward(x) (expected x @ W + b)"), rtol=1e-6, atol=1e-9)
    old = x @ W + b
    W -= 0.5 * gen.standard_normal(W.shape)  # a training step, in place, on the arrays the layer was given
    b -= 0.5 * gen.standard_normal(b.shape)
    out = call(layer.forward, x.copy(), what=tr("SafeAffine(W, b).forward(x) after W -= ... and b -= ... in place"))
    if mistakes_match(out, old):
        raise Failure(tr("after W and b were changed in place (as a training step does), SafeAffine.forward(x) "
                         "still returns x @ W_old + b_old.\nHint: {hint}", hint=tr(mistakes.SAFE_AFFINE_COPY)))
    expect_close(out, x @ W + b, tr("SafeAffine.forward(x) after W and b were changed in place (expected x @ W + b "
                                    "with the new W and b)"), rtol=1e-6, atol=1e-9, shape_hint="")
    dout = gen.standard_normal(old.shape)
    dx = call(layer.backward, dout.copy(), what="SafeAffine.backward(dout)")
    dW, db = call(lambda: (layer.dW, layer.db), what=tr("reading SafeAffine's dW and db"))
    for name, got, f, at in (("dx", dx, lambda z: z @ W + b, x), ("dW", dW, lambda z: x @ z + b, W),
                             ("db", db, lambda z: x @ W + z, b)):
        expect_close(got, num_vjp(f, at, dout), tr("SafeAffine.backward: {name} (checked against numerical "
                                                   "gradients of x @ W + b)", name=name), rtol=1e-5, atol=1e-7)
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
                tr("spiral_net's training accuracy on the 300 spiral points is {acc:.3f} (the argmax of relu(x W1 + "
                   "b1) W2 + b2 with its params); the target is {target}. Train for more iterations (the "
                   "lecture's code takes 10,000 full-batch steps of size 1.0), or check that train() updates the "
                   "network.", acc=acc, target=SPIRAL_TARGET))
