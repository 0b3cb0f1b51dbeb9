"""Hidden tests for notebook 06: softmax, cross entropy and the Softmax-with-Loss layer.

Forward values are checked against the formulas the notebook states, evaluated here in
the stable log-sum-exp form; the layer's backward is checked against central differences
of that same formula (batch-mean cross entropy of softmax, in float64), never of the
student's forward, so a forward that answers differently near the checked scores cannot
move the reference. softmax and SoftmaxWithLoss must stay finite and right on large scores
(the notebook calls them numerically safe). Float32 answers are compared with float32
tolerances (see ``_core``).
"""

from __future__ import annotations

import numpy as np

from bpcourse import mistakes
from bpcourse.i18n import N_, tr

from ._core import (
    Failure,
    call,
    expect_close,
    expect_true,
    has_hint,
    hidden_check,
    num_vjp,
    replace_hint,
    rng,
    tolerances,
    with_hint,
)

__all__ = ["check_softmax", "check_cross_entropy", "check_softmax_with_loss"]

# mistakes.LABELS with the remedy for a backward: what to do at dx[np.arange(N), t] instead of picking y there.
_LABELS_DX = N_("it works for one-hot t but not for integer labels. A label t[n] is the index of the right class: "
                "subtract 1 at dx[np.arange(N), t] (or turn t into one-hot rows first). Telling them apart: "
                "t.size == y.size means one-hot.")


def _log_softmax(a: np.ndarray) -> np.ndarray:
    """log softmax over the last axis, via log-sum-exp (finite for any finite scores)."""
    m = np.max(a, axis=-1, keepdims=True)
    return a - m - np.log(np.sum(np.exp(a - m), axis=-1, keepdims=True))


def _cross_entropy(logp: np.ndarray, labels: np.ndarray) -> float:
    """-(1/N) sum_n log y[n, t_n] for a batch of log-probabilities."""
    logp = logp.reshape(-1, logp.shape[-1])
    return float(-np.mean(logp[np.arange(logp.shape[0]), np.ravel(labels)]))


def _scores(gen: np.random.Generator, shape) -> np.ndarray:
    return 2.0 * gen.standard_normal(shape)


def _labels(gen: np.random.Generator, shape, k: int) -> np.ndarray:
    return gen.integers(0, k, size=shape[0] if len(shape) == 2 else 1)


def _one_hot(labels: np.ndarray, shape) -> np.ndarray:
    t = np.zeros((np.size(labels), shape[-1]))
    t[np.arange(np.size(labels)), labels] = 1.0
    return t.reshape(shape)


def _label_arg(labels: np.ndarray, shape):
    # one sample: a single integer label (np.int64 also has .reshape and .size, as textbook code expects)
    return labels.copy() if len(shape) == 2 else np.int64(labels[0])


def _describe(t, shape) -> str:
    if np.ndim(t) == len(shape):
        return tr("one-hot t of shape {shape}", shape=np.shape(t))
    if np.ndim(t):
        return tr("integer labels t of shape {shape}", shape=np.shape(t))
    return tr("an integer label t={label}", label=int(t))


_INF_LOSS = N_("the value is inf or nan: log of 0 or an overflow in exp? Keep y > 0 (a tiny delta inside the log).")
# _core.expect_close's hint for a value that is not finite (its catalogue entry belongs to _core)
_INF_ARRAY = "the value is inf or nan: an overflow somewhere (exp of a large number?)."


def _expect_scalar(got, expected: float, what: str, mistakes: dict, *, rtol: float = 1e-4,
                   extra: str = "") -> None:
    """A scalar must match; when it is a known multiple of the right value, say which mistake that is."""
    __tracebackhide__ = True
    rtol, atol = tolerances(got, expected, what, rtol=rtol, atol=1e-7)
    try:
        arr = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        raise Failure(tr("{what} should be a number, got {kind}: {got!r:.100}", what=what,
                         kind=type(got).__name__, got=got)) from None
    expect_true(arr.size == 1, tr("{what} should be a single number (the loss averaged over the batch), "
                                  "got an array of shape {shape}.", what=what, shape=arr.shape))
    value = float(arr.reshape(()))
    if np.isclose(value, expected, rtol=rtol, atol=atol):
        return
    msg = tr("{what} is wrong: expected {expected:.6g}, got {value:.6g}.", what=what, expected=expected, value=value)
    hint = ""
    if not np.isfinite(value):
        hint = tr(_INF_LOSS)
    elif abs(expected) > 1e-6:
        ratio = value / expected
        for factor, text in mistakes.items():
            if np.isclose(ratio, factor, rtol=1e-3):
                hint = tr(text)
                break
    raise Failure(with_hint(msg, hint) + extra)


# --------------------------------------------------------------------------- softmax

def _check_softmax_values(softmax, x: np.ndarray, label: str) -> None:
    __tracebackhide__ = True
    what = tr("softmax(x) for {label}", label=label)
    try:
        got = call(softmax, x.copy(), what=what)
    except Failure as exc:
        # the student's softmax raised (not merely NotImplementedError): check_softmax may add a hint for 1-D input
        exc.student_raised = "NotImplementedError" not in str(exc)
        raise
    expected = np.exp(_log_softmax(x))
    rtol, atol = tolerances(got, expected, what, rtol=1e-5, atol=1e-8)
    arr = np.asarray(got, dtype=np.float64) if np.shape(got) == x.shape else None
    if arr is not None and not np.all(np.isfinite(arr)):
        _nan_failure(what, x, arr)
    if arr is not None and not np.allclose(arr, expected, rtol=rtol, atol=atol):
        if x.ndim == 2:
            e = np.exp(x - np.max(x))
            col = np.exp(x - np.max(x, axis=0))
            if np.allclose(arr, e / np.sum(e), rtol=1e-5, atol=1e-10):
                raise Failure(tr("{what} is normalised over the whole batch: all {size} values sum to 1, "
                                 "but each of the {rows} rows should.\nHint: {hint}",
                                 what=what, size=x.size, rows=x.shape[0], hint=tr(mistakes.ROW_SUM)))
            if np.allclose(arr, col / np.sum(col, axis=0), rtol=1e-5, atol=1e-10):
                raise Failure(tr("{what} is normalised over the wrong axis: each column sums to 1, "
                                 "but each row (one sample's {k} scores) should.\nHint: {hint}",
                                 what=what, k=x.shape[1], hint=tr(mistakes.ROW_SUM)))
        sums = np.sum(arr.reshape(-1, x.shape[-1]), axis=1)
        if not np.allclose(sums, 1.0, rtol=max(rtol, 1e-6), atol=atol):
            i = int(np.argmax(np.abs(sums - 1.0)))
            if x.ndim == 2:
                raise Failure(tr("{what}: the probabilities of one sample should sum to 1, but row {i} sums to "
                                 "{total:.6g}.\nHint: divide each exponential by the sum of its row's exponentials "
                                 "(axis=-1, keepdims=True).", what=what, i=i, total=sums[i]))
            raise Failure(tr("{what}: the probabilities of one sample should sum to 1, but they sum to "
                             "{total:.6g}.\nHint: divide each exponential by the sum of its row's exponentials.",
                             what=what, total=sums[i]))
    expect_close(got, expected, what, rtol=1e-5, atol=1e-8,
                 shape_hint=tr("softmax must return an array of the same shape as its input."))


def _nan_failure(what: str, x: np.ndarray, arr: np.ndarray) -> None:
    __tracebackhide__ = True
    if x.ndim == 2:
        top = int(np.argmax(np.max(x, axis=1)))
        bad = np.flatnonzero(~np.all(np.isfinite(arr), axis=1))
        if top not in bad:
            raise Failure(tr("{what} contains nan or inf; the right values are finite. Row {row} is nan: exp of its "
                             "scores minus the largest score of the whole batch underflows to 0, and 0 / 0 is nan."
                             "\nHint: subtract each row's own maximum (np.max(x, axis=-1, keepdims=True)), not one "
                             "maximum for the whole batch.", what=what, row=int(bad[0])))
    raise Failure(tr("{what} contains nan or inf; the right values are finite. (np.exp(1000) overflows to inf, and "
                     "inf / inf is nan.)\nHint: {hint}", what=what, hint=tr(mistakes.SUBTRACT_MAX)))


@hidden_check
def check_softmax(softmax) -> None:
    """softmax on 1-D and (N, K) scores, including very large and very different ones."""
    __tracebackhide__ = True
    gen = rng("nb06.softmax")
    for shape in [(5,), (3, 4), (1, 6), (4, 3)]:
        x = _scores(gen, shape)
        try:
            _check_softmax_values(softmax, x, tr("x of shape {shape}", shape=shape))
        except Failure as exc:
            if len(shape) == 1 and ("raised" in str(exc) or getattr(exc, "student_raised", False)):
                raise Failure(tr("{message}\nHint: softmax must also accept one sample, a 1-D array of scores; "
                                 "axis=-1 with keepdims=True works for 1-D and 2-D alike.", message=str(exc))) from None
            raise
    big = [(tr("large scores x = [1000, 1001, 999, 1002]"), np.array([1000.0, 1001.0, 999.0, 1002.0])),
           (tr("large negative scores x = [-1000, -1003, -1001]"), np.array([-1000.0, -1003.0, -1001.0])),
           (tr("a batch of large scores (rows near 1000, 2000 and 3000)"),
            np.array([[1000.0, 1002.0, 999.0], [2001.0, 2000.0, 2003.0], [3000.0, 2999.5, 3001.0]]))]
    for label, x in big:
        _check_softmax_values(softmax, x, label)
    # Rows far apart: one maximum for the whole batch underflows the lower row to 0 / 0.
    _check_softmax_values(softmax, np.array([[1000.0, 1001.0, 999.0], [1.0, -2.0, 0.5]]),
                          tr("the batch [[1000, 1001, 999], [1, -2, 0.5]]"))


# --------------------------------------------------------------------------- cross entropy

def _ce_mistakes(n: int, k: int) -> dict:
    """mistakes.cross_entropy_ratios with each hint in the language in use."""
    return {factor: tr(text) for factor, text in mistakes.cross_entropy_ratios(n, k).items()}


@hidden_check
def check_cross_entropy(cross_entropy_error) -> None:
    """cross_entropy_error(y, t) for one-hot and label targets, on 1-D and (N, K) probabilities."""
    __tracebackhide__ = True
    gen = rng("nb06.cross_entropy")
    for shape in [(5,), (3, 5), (1, 4), (6, 3)]:
        logp = _log_softmax(_scores(gen, shape) * 0.5)
        y = np.exp(logp)
        labels = _labels(gen, shape, shape[-1])
        expected = _cross_entropy(logp, labels)
        n = shape[0] if len(shape) == 2 else 1
        for t in (_one_hot(labels, shape), _label_arg(labels, shape)):
            what = tr("cross_entropy_error(y, t) for y of shape {shape} and {target}", shape=shape,
                      target=_describe(t, shape))
            got = call(cross_entropy_error, y.copy(), t.copy(), what=what)
            try:
                _expect_scalar(got, expected, what, _ce_mistakes(n, shape[-1]))
            except Failure as exc:
                one_hot_passed = np.ndim(t) != len(shape)
                told = one_hot_passed and not has_hint(str(exc))
                raise Failure(with_hint(str(exc), mistakes.LABELS) if told else str(exc)) from None
    # A batch of different rows: a sum over the batch is then not hidden by N = 1.
    logp = _log_softmax(_scores(gen, (8, 4)))
    labels = gen.integers(0, 4, size=8)
    for t in (_one_hot(labels, (8, 4)), labels):
        what = tr("cross_entropy_error(y, t) for a batch of 8 and {target}", target=_describe(t, (8, 4)))
        got = call(cross_entropy_error, np.exp(logp), t.copy(), what=what)
        _expect_scalar(got, _cross_entropy(logp, labels), what, _ce_mistakes(8, 4))


# --------------------------------------------------------------------------- SoftmaxWithLoss

def _loss_formula(labels: np.ndarray):
    """The loss as the notebook states it, as a function of the scores: batch-mean cross entropy of softmax."""
    return lambda z: _cross_entropy(_log_softmax(z), labels)


_DX_SHAPE = N_("dx must have the shape of x, (N, K).")

# Scores far beyond where np.exp overflows (about 709), each row's right class likely enough that the
# textbook's delta = 1e-7 inside the log changes nothing.
_LARGE_SCORES = np.array([[1000.0, 1002.0, 999.0], [2001.0, 2000.0, 2003.0], [-1000.0, -1001.0, -1000.5]])
_LARGE_LABELS = np.array([1, 2, 0])


def _dx_hints(n: int) -> dict:
    """mistakes.softmax_with_loss_ratios with each hint in the language in use."""
    return {factor: tr(text) for factor, text in mistakes.softmax_with_loss_ratios(n).items()}


def _not_finite_hint(message: str) -> bool:
    """Whether a failure message's hint says the value is inf or nan (in either edition)."""
    return "inf or nan" in message or tr(_INF_LOSS) in message or tr(_INF_ARRAY) in message


def _check_large_scores(SoftmaxWithLoss) -> None:
    """forward and backward(1) on scores near +-1000 and 2000, against the stable formula."""
    __tracebackhide__ = True
    x, labels = _LARGE_SCORES, _LARGE_LABELS
    desc = tr("large scores x = {x} and labels t = {labels}", x=x.tolist(), labels=labels.tolist())
    layer = call(SoftmaxWithLoss, what=tr("creating SoftmaxWithLoss()"))
    loss = call(layer.forward, x.copy(), labels.copy(), what=tr("SoftmaxWithLoss.forward(x, t) for {desc}", desc=desc))
    dx = call(layer.backward, 1, what=tr("SoftmaxWithLoss.backward(1) after forward(x, t) for {desc}", desc=desc))
    try:
        _expect_scalar(loss, _cross_entropy(_log_softmax(x), labels),
                       tr("SoftmaxWithLoss.forward(x, t) for {desc}", desc=desc), _ce_mistakes(len(x), x.shape[1]))
        expect_close(dx, num_vjp(_loss_formula(labels), x, np.float64(1.0)),
                     tr("SoftmaxWithLoss.backward(1) for {desc} (checked against numerical gradients of the loss "
                        "formula)", desc=desc), rtol=1e-4, atol=1e-6, hints=_dx_hints(len(x)),
                     shape_hint=tr(_DX_SHAPE))
    except Failure as exc:
        message = str(exc)
        if _not_finite_hint(message):
            message = replace_hint(message, tr("np.exp(1000) overflows to inf, and inf / inf is nan: make your "
                                                "softmax subtract each row's maximum before np.exp (x - np.max(x, "
                                                "axis=-1, keepdims=True)): the loss is unchanged, and exp of a "
                                                "number <= 0 cannot overflow."))
        raise Failure(message) from None


@hidden_check
def check_softmax_with_loss(SoftmaxWithLoss) -> None:
    """forward = batch-averaged cross entropy of softmax; backward(1) and backward() = d loss / d x,
    also on large scores."""
    __tracebackhide__ = True
    gen = rng("nb06.softmax_with_loss")
    uses = tr("\n(SoftmaxWithLoss.forward uses your softmax and cross_entropy_error: "
              "make sure their checks pass first.)")
    for shape in [(3, 5), (1, 4), (6, 3)]:
        x = _scores(gen, shape) * 0.5
        labels = _labels(gen, shape, shape[-1])
        n = shape[0]
        expected = _cross_entropy(_log_softmax(x), labels)
        # The reference for every backward: central differences of the loss formula, not of the student's forward.
        numeric = num_vjp(_loss_formula(labels), x, np.float64(1.0))
        hints = _dx_hints(n)
        for t in (_one_hot(labels, shape), labels):
            desc = tr("x of shape {shape} and {target}", shape=shape, target=_describe(t, shape))
            layer = call(SoftmaxWithLoss, what=tr("creating SoftmaxWithLoss()"))
            forward_what = tr("SoftmaxWithLoss.forward(x, t) for {desc}", desc=desc)
            loss = call(layer.forward, x.copy(), t.copy(), what=forward_what)
            _expect_scalar(loss, expected, forward_what, _ce_mistakes(n, shape[-1]), extra=uses)
            dx = call(layer.backward, 1, what=tr("SoftmaxWithLoss.backward(1) after forward(x, t) for {desc}",
                                                 desc=desc))
            try:
                expect_close(dx, numeric, tr("SoftmaxWithLoss.backward(1) for {desc} "
                                             "(checked against numerical gradients of the loss formula)", desc=desc),
                             rtol=1e-4, atol=1e-6, hints=hints, shape_hint=tr(_DX_SHAPE))
            except Failure as exc:
                one_hot_passed = t.ndim == 1
                told = one_hot_passed and not has_hint(str(exc))
                raise Failure(with_hint(str(exc), _LABELS_DX) if told else str(exc)) from None
        # The textbook calls backward() with no argument: dout must default to 1.
        what = tr("SoftmaxWithLoss.forward(x, t) for x of shape {shape}", shape=shape)
        layer = call(SoftmaxWithLoss, what=tr("creating SoftmaxWithLoss()"))
        loss = call(layer.forward, x.copy(), labels.copy(), what=what)
        _expect_scalar(loss, expected, what, _ce_mistakes(n, shape[-1]), extra=uses)
        try:
            dx0 = call(layer.backward, what=tr("SoftmaxWithLoss.backward() (called with no argument)"))
        except Failure as exc:
            raise Failure(tr("{message}\nHint: give dout a default value: def backward(self, dout=1).",
                             message=str(exc))) from None
        expect_close(dx0, numeric, tr("SoftmaxWithLoss.backward() with no argument for x of shape {shape}",
                                      shape=shape), rtol=1e-4, atol=1e-6, hints=hints, shape_hint=tr(_DX_SHAPE))
    _check_large_scores(SoftmaxWithLoss)
