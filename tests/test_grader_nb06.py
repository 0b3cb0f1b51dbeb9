"""grader_tests.nb06 is fair: correct code in several styles passes, classic mistakes fail with the right hint."""

import numpy as np
import pytest

from grader_tests import nb06
from grader_tests._core import Failure

# --------------------------------------------------------------------------- softmax implementations

def softmax_keepdims(x):
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def softmax_textbook(x):
    if x.ndim == 2:
        x = x.T
        x = x - np.max(x, axis=0)
        y = np.exp(x) / np.sum(np.exp(x), axis=0)
        return y.T
    x = x - np.max(x)
    return np.exp(x) / np.sum(np.exp(x))


def softmax_logsumexp(x):
    m = x.max(axis=-1, keepdims=True)
    lse = m + np.log(np.exp(x - m).sum(axis=-1, keepdims=True))
    return np.exp(x - lse)


def softmax_in_place(x):
    # modifies its argument and uses a list of rows: unusual, still correct
    x -= np.max(x, axis=-1, keepdims=True)
    np.exp(x, out=x)
    if x.ndim == 1:
        return x / x.sum()
    return np.array([row / row.sum() for row in x])


def softmax_unstable(x):
    e = np.exp(x)
    return e / np.sum(e, axis=-1, keepdims=True)


def softmax_whole_batch(x):
    e = np.exp(x - np.max(x))
    return e / np.sum(e)


def softmax_columns(x):
    e = np.exp(x - np.max(x, axis=0, keepdims=True))
    return e / np.sum(e, axis=0, keepdims=True)


def softmax_global_max(x):
    e = np.exp(x - np.max(x))
    return e / np.sum(e, axis=-1, keepdims=True)


def softmax_batch_only(x):
    e = np.exp(x - np.max(x, axis=1, keepdims=True))
    return e / np.sum(e, axis=1, keepdims=True)


def softmax_not_normalised(x):
    return np.exp(x - np.max(x, axis=-1, keepdims=True))


@pytest.mark.parametrize("fn", [softmax_keepdims, softmax_textbook, softmax_logsumexp, softmax_in_place])
def test_correct_softmax_passes(fn):
    nb06.check_softmax(fn)


@pytest.mark.parametrize("fn, words", [
    (softmax_unstable, ["nan or inf", "subtract each row's maximum"]),
    (softmax_whole_batch, ["whole batch", "axis=-1"]),
    (softmax_columns, ["wrong axis", "each row"]),
    (softmax_global_max, ["largest score of the whole batch", "each row's own"]),
    (softmax_batch_only, ["1-D", "AxisError"]),
    (softmax_not_normalised, ["sum to 1"]),
])
def test_wrong_softmax_fails_with_hint(fn, words):
    with pytest.raises(Failure) as info:
        nb06.check_softmax(fn)
    for word in words:
        assert word in str(info.value), str(info.value)


# --------------------------------------------------------------------------- cross entropy implementations

def ce_textbook(y, t):
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    if t.size == y.size:
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size


def ce_take_along_axis(y, t):
    y = np.atleast_2d(y)
    t = np.asarray(t)
    labels = t.reshape(-1, y.shape[1]).argmax(axis=1) if t.size == y.size else t.reshape(-1)
    picked = np.take_along_axis(y, labels[:, None], axis=1)
    return float(-np.mean(np.log(picked)))


def ce_one_hot_sum(y, t):
    y = np.atleast_2d(y)
    if np.size(t) != y.size:
        t = np.eye(y.shape[1])[np.ravel(t)]
    t = np.reshape(t, y.shape)
    return -np.sum(t * np.log(y + 1e-7)) / y.shape[0]


def ce_where(y, t):
    y = y.reshape(-1, y.shape[-1])
    t = np.asarray(t)
    if t.size == y.size:
        t = t.reshape(y.shape)
    else:
        t = np.where(np.arange(y.shape[1]) == t.reshape(-1, 1), 1.0, 0.0)
    return -np.einsum("nk,nk->", t, np.log(y)) / len(y)


def ce_summed(y, t):
    return ce_textbook(y, t) * np.atleast_2d(y).shape[0]


def ce_mean_all(y, t):
    y = np.atleast_2d(y)
    if np.size(t) != y.size:
        t = np.eye(y.shape[1])[np.ravel(t)]
    return -np.mean(np.reshape(t, y.shape) * np.log(y))


def ce_sign(y, t):
    return -ce_textbook(y, t)


def ce_log10(y, t):
    return ce_textbook(y, t) / np.log(10)


def ce_one_hot_only(y, t):
    return -np.sum(t * np.log(y)) / np.atleast_2d(y).shape[0]


@pytest.mark.parametrize("fn", [ce_textbook, ce_take_along_axis, ce_one_hot_sum, ce_where])
def test_correct_cross_entropy_passes(fn):
    nb06.check_cross_entropy(fn)


@pytest.mark.parametrize("fn, words", [
    (ce_summed, ["times too large", "batch size"]),
    (ce_mean_all, ["N * K", "divide by the batch size N only"]),
    (ce_sign, ["sign is flipped"]),
    (ce_log10, ["log base 10"]),
    (ce_one_hot_only, ["integer label", "works for one-hot t but not for integer labels"]),
])
def test_wrong_cross_entropy_fails_with_hint(fn, words):
    with pytest.raises(Failure) as info:
        nb06.check_cross_entropy(fn)
    for word in words:
        assert word in str(info.value), str(info.value)


# --------------------------------------------------------------------------- SoftmaxWithLoss implementations
# They call the module-level softmax/cross_entropy_error, as the notebook's class calls the student's functions.
softmax = softmax_textbook
cross_entropy_error = ce_textbook


class SWLTextbook:
    def __init__(self):
        self.loss = None
        self.y = None
        self.t = None

    def forward(self, x, t):
        self.t = t
        self.y = softmax(x)
        self.loss = cross_entropy_error(self.y, self.t)
        return self.loss

    def backward(self, dout=1):  # ignores dout, as the textbook does
        batch_size = self.t.shape[0]
        if self.t.size == self.y.size:
            dx = (self.y - self.t) / batch_size
        else:
            dx = self.y.copy()
            dx[np.arange(batch_size), self.t] -= 1
            dx = dx / batch_size
        return dx


class SWLOneHot:
    """Turns labels into one-hot rows in forward; scales by dout."""

    def forward(self, x, t):
        self.y = softmax_keepdims(x)
        self.t = t if t.ndim == 2 else np.eye(x.shape[1])[t]
        return ce_take_along_axis(self.y, self.t)

    def backward(self, dout=1.0):
        return dout * (self.y - self.t) / len(self.y)


class SWLLogSoftmax:
    """Self-contained: log-softmax for the loss, a python float out, dout as a keyword."""

    def forward(self, x, t):
        logp = x - x.max(axis=1, keepdims=True)
        logp = logp - np.log(np.exp(logp).sum(axis=1, keepdims=True))
        labels = t.argmax(axis=1) if t.ndim == 2 else t
        self.cache = (np.exp(logp), labels)
        return float(-logp[np.arange(len(x)), labels].mean())

    def backward(self, dout=1):
        y, labels = self.cache
        dx = y.copy()
        np.subtract.at(dx, (np.arange(len(y)), labels), 1.0)
        return dx * (dout / len(y))


class SWLNotDivided(SWLTextbook):
    def backward(self, dout=1):
        return super().backward(dout) * self.t.shape[0]


class SWLSign(SWLTextbook):
    def backward(self, dout=1):
        return -super().backward(dout)


class SWLNoDefault(SWLTextbook):
    def backward(self, dout):
        return super().backward(dout)


class SWLLabelsBroken(SWLTextbook):
    def backward(self, dout=1):
        return (self.y - np.reshape(self.t, (len(self.y), -1))) / len(self.y)


class SWLSummedLoss(SWLTextbook):
    def forward(self, x, t):
        return super().forward(x, t) * x.shape[0]


@pytest.mark.parametrize("cls", [SWLTextbook, SWLOneHot, SWLLogSoftmax])
def test_correct_softmax_with_loss_passes(cls):
    nb06.check_softmax_with_loss(cls)


@pytest.mark.parametrize("cls, words", [
    (SWLNotDivided, ["dx is exactly N = 3 times too large", "did you divide by the batch size?"]),
    (SWLSign, ["wrong sign", "(y - t) / N"]),
    (SWLNoDefault, ["no argument", "dout=1"]),
    (SWLLabelsBroken, ["integer labels", "backward(1)", "dx[np.arange(N), t]"]),
    (SWLSummedLoss, ["forward", "times too large", "make sure their checks pass first"]),
])
def test_wrong_softmax_with_loss_fails_with_hint(cls, words):
    with pytest.raises(Failure) as info:
        nb06.check_softmax_with_loss(cls)
    for word in words:
        assert word in str(info.value), str(info.value)


def test_unimplemented_stub_fails_politely():
    def stub(*args):
        raise NotImplementedError()

    class Stub:
        def forward(self, x, t):
            raise NotImplementedError()

        def backward(self, dout=1):
            raise NotImplementedError()

    for check, obj in [(nb06.check_softmax, stub), (nb06.check_cross_entropy, stub),
                       (nb06.check_softmax_with_loss, Stub)]:
        with pytest.raises(Failure, match="not implemented yet"):
            check(obj)


@pytest.mark.parametrize("check, obj", [(nb06.check_softmax, softmax_columns),
                                        (nb06.check_cross_entropy, ce_summed),
                                        (nb06.check_softmax_with_loss, SWLNotDivided)])
def test_checks_are_deterministic(check, obj):
    messages = []
    for _ in range(2):
        with pytest.raises(Failure) as info:
            check(obj)
        messages.append(str(info.value))
    assert messages[0] == messages[1]


# --------------------------------------------------------------------------- steering forwards, precision, large scores

from test_grader_nb03 import in_precision, steered, visible_check  # noqa: E402


@pytest.mark.parametrize("mode", ["nudge", "stack"])
@pytest.mark.parametrize("base", [SWLTextbook, SWLLogSoftmax])
def test_forward_that_steers_central_differences_cannot_hide_a_wrong_backward(base, mode):
    with pytest.raises(Failure) as info:
        nb06.check_softmax_with_loss(steered(base, mode))
    message = str(info.value)
    assert message.startswith("SoftmaxWithLoss.backward(1)") and "got 0" in message, message


@pytest.mark.parametrize("dtype", [np.float32, np.longdouble])
@pytest.mark.parametrize("cls", [SWLTextbook, SWLOneHot, SWLLogSoftmax])
def test_correct_softmax_with_loss_in_other_precisions_passes(cls, dtype):
    nb06.check_softmax_with_loss(in_precision(cls, dtype))


@pytest.mark.parametrize("dtype", [np.longdouble])
@pytest.mark.parametrize("fn", [softmax_keepdims, softmax_textbook])
def test_correct_softmax_in_other_precisions_passes(fn, dtype):
    nb06.check_softmax(lambda x: fn(x.astype(dtype)))


@pytest.mark.parametrize("cls, words", [
    (SWLNotDivided, ["dx is exactly N = 3 times too large"]),
    (SWLSign, ["wrong sign", "(y - t) / N"]),
    (SWLSummedLoss, ["forward", "times too large"]),
])
def test_float32_tolerance_passes_the_right_layer_and_fails_the_wrong_one(cls, words):
    nb06.check_softmax_with_loss(in_precision(SWLTextbook, np.float32))
    with pytest.raises(Failure) as info:
        nb06.check_softmax_with_loss(in_precision(cls, np.float32))
    for word in words:
        assert word in str(info.value), str(info.value)


def test_float16_softmax_with_loss_fails_with_a_clear_message():
    with pytest.raises(Failure) as info:
        nb06.check_softmax_with_loss(in_precision(SWLTextbook, np.float16))
    assert "in half precision (float16)" in str(info.value) and "float32 or float64" in str(info.value)


class SWLNaiveExp(SWLTextbook):
    """Right on small scores; exponentiates without subtracting the maximum."""

    def forward(self, x, t):
        self.t = t
        e = np.exp(x)
        self.y = e / np.sum(e, axis=1, keepdims=True)
        return cross_entropy_error(self.y, t)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_naive_exp_softmax_with_loss_fails_on_large_scores_with_the_fix(dtype):
    with pytest.raises(Failure) as info:
        nb06.check_softmax_with_loss(in_precision(SWLNaiveExp, dtype))
    message = str(info.value)
    assert message.startswith("SoftmaxWithLoss.forward(x, t) for large scores") and "got nan" in message, message
    assert "subtract each row's maximum before np.exp" in message.split("\nHint:")[1], message


@pytest.mark.parametrize("dtype", [np.float32])
def test_visible_check_agrees_with_the_hidden_one_in_float32(dtype):
    names = {"softmax": softmax_textbook, "cross_entropy_error": ce_textbook}
    visible_check("06_softmax_with_loss", "test_softmax_with_loss",
                  SoftmaxWithLoss=in_precision(SWLTextbook, dtype), **names)
    with pytest.raises(AssertionError, match="numerical gradient"):
        visible_check("06_softmax_with_loss", "test_softmax_with_loss",
                      SoftmaxWithLoss=in_precision(SWLNotDivided, dtype), **names)


def test_textbook_style_answer_of_the_autograde_test_passes():
    from test_autograde import TEXTBOOK_STYLE
    namespace = {"np": np, "softmax": softmax_textbook, "cross_entropy_error": ce_textbook}
    exec(TEXTBOOK_STYLE["06_softmax_with_loss"]["softmax_with_loss"], namespace)
    nb06.check_softmax_with_loss(namespace["SoftmaxWithLoss"])
