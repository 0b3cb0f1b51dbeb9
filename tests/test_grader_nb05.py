"""Notebook 05: the hidden Affine checks pass correct styles and fail classic mistakes with a hint."""

import numpy as np
import pytest

from grader_tests import nb05
from grader_tests._core import Failure

CHECKS = [nb05.check_affine_forward, nb05.check_affine_backward, nb05.check_affine]


# --- correct implementations in several styles -------------------------------------------------

class TextbookAffine:
    """The seeds' own style: np.dot, original_x_shape, x stored flattened."""

    def __init__(self, W, b):
        self.W, self.b = W, b
        self.x = self.original_x_shape = self.dW = self.db = None

    def forward(self, x):
        self.original_x_shape = x.shape
        x = x.reshape(x.shape[0], -1)
        self.x = x
        return np.dot(self.x, self.W) + self.b

    def backward(self, dout):
        dx = np.dot(dout, self.W.T)
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        return dx.reshape(*self.original_x_shape)


class MatmulAffine:
    """@ operator, other attribute names, the unflattened input kept."""

    def __init__(self, W, b):
        self.params = [W, b]

    def forward(self, x):
        self._inp = x
        return x.reshape(len(x), -1) @ self.params[0] + self.params[1]

    def backward(self, dout):
        W, _ = self.params
        flat = self._inp.reshape(len(self._inp), -1)
        self.dW = flat.T @ dout
        self.db = dout.sum(0)
        return (dout @ W.T).reshape(self._inp.shape)


class EinsumAffine:
    def __init__(self, W, b):
        self.W = W
        self.b = b

    def forward(self, x):
        self.shape = x.shape
        self.xf = np.reshape(x, (x.shape[0], -1))
        return np.einsum("nd,dm->nm", self.xf, self.W) + self.b

    def backward(self, dout):
        self.dW = np.einsum("nd,nm->dm", self.xf, dout)
        self.db = np.einsum("nm->m", dout)
        return np.einsum("nm,dm->nd", dout, self.W).reshape(self.shape)


class TensordotAffine:
    """tensordot straight on the N-d input: no explicit flatten in forward."""

    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.x = np.asarray(x, dtype=float)
        k = self.x.ndim - 1
        return np.tensordot(self.x, self.W.reshape(*self.x.shape[1:], -1), axes=k) + self.b

    def backward(self, dout):
        n = self.x.shape[0]
        self.dW = np.tensordot(self.x.reshape(n, -1), dout, axes=([0], [0]))
        self.db = np.add.reduce(dout, axis=0)
        return np.matmul(dout, np.transpose(self.W)).reshape(self.x.shape)


CORRECT = [TextbookAffine, MatmulAffine, EinsumAffine, TensordotAffine]


@pytest.mark.parametrize("impl", CORRECT, ids=lambda c: c.__name__)
@pytest.mark.parametrize("check", CHECKS, ids=lambda f: f.__name__)
def test_correct_styles_pass(check, impl):
    check(impl)


# --- typical mistakes ----------------------------------------------------------------------------

def variant(name, **methods):
    """A TextbookAffine with some methods replaced."""
    return type(name, (TextbookAffine,), methods)


def _init_copy(self, W, b):
    TextbookAffine.__init__(self, np.array(W), b.copy())


def _init_copy_b(self, W, b):
    TextbookAffine.__init__(self, W, np.copy(b))


def _forward_no_flatten(self, x):
    self.original_x_shape = x.shape
    self.x = x
    return x @ self.W + self.b


def _forward_no_bias(self, x):
    return TextbookAffine.forward(self, x) - self.b


def _forward_reshapes_caller(self, x):
    self.original_x_shape = x.shape
    x.shape = (x.shape[0], -1)  # reshapes the caller's array itself
    self.x = x
    return x @ self.W + self.b


def _backward_with(dx=None, dW=None, db=None):
    def backward(self, dout):
        out = TextbookAffine.backward(self, dout)
        if dW is not None:
            self.dW = dW(self, dout)
        if db is not None:
            self.db = db(self, dout)
        return out if dx is None else dx(self, dout)
    return backward


class AccumulatingAffine(TextbookAffine):
    def __init__(self, W, b):
        super().__init__(W, b)
        self.dW = np.zeros_like(W)
        self.db = np.zeros_like(b)

    def backward(self, dout):
        self.dW += self.x.T @ dout
        self.db += dout.sum(axis=0)
        return (dout @ self.W.T).reshape(self.original_x_shape)


class NamedGradAffine(TextbookAffine):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grad_W, self.grad_b = self.dW, self.db
        del self.dW, self.db
        return dx


class NotDone(TextbookAffine):
    def forward(self, x):
        raise NotImplementedError()


WRONG = [
    # (implementation, which check fails, words the message must contain)
    (variant("CopiesW", __init__=_init_copy), nb05.check_affine_forward, ["old W", "don't copy"]),
    (variant("CopiesB", __init__=_init_copy_b), nb05.check_affine_forward, ["old b", "reference"]),
    (variant("NoFlatten", forward=_forward_no_flatten), nb05.check_affine_forward, ["flatten the input"]),
    (variant("NoBias", forward=_forward_no_bias), nb05.check_affine_forward, ["without the bias", "add b"]),
    (variant("ReshapesCaller", forward=_forward_reshapes_caller), nb05.check_affine_forward,
     ["changed the caller's input x"]),
    (NotDone, nb05.check_affine_forward, ["not implemented yet"]),
    (variant("DbAveraged", backward=_backward_with(db=lambda s, d: d.mean(axis=0))),
     nb05.check_affine_backward, ["self.db", "sum over the batch, don't average"]),
    (variant("DbNotSummed", backward=_backward_with(db=lambda s, d: d)),
     nb05.check_affine_backward, ["self.db", "has shape (5, 3), expected (3,)", "dout.sum(axis=0)"]),
    (variant("DbKeepdims", backward=_backward_with(db=lambda s, d: d.sum(axis=0, keepdims=True))),
     nb05.check_affine_backward, ["self.db", "has shape (1, 3), expected (3,)", "no keepdims"]),
    (variant("DwAveraged", backward=_backward_with(dW=lambda s, d: s.x.T @ d / len(d))),
     nb05.check_affine_backward, ["self.dW", "don't average"]),
    (variant("DwTransposed", backward=_backward_with(dW=lambda s, d: d.T @ s.x)),
     nb05.check_affine_backward, ["self.dW", "has shape (3, 4), expected (4, 3)", "dout.T · x"]),
    (variant("DxNotReshaped", backward=_backward_with(dx=lambda s, d: d @ s.W.T)),
     nb05.check_affine_backward,
     ["dx for an input of shape (3, 2, 3, 2)", "reshape dx back to the input's shape"]),
    (variant("DxNoTranspose", backward=_backward_with(dx=lambda s, d: d @ s.W)),
     nb05.check_affine_backward, ["Affine.backward raised ValueError", "Shapes here"]),
    (variant("DxTwice", backward=_backward_with(dx=lambda s, d: 2 * (d @ s.W.T).reshape(s.original_x_shape))),
     nb05.check_affine_backward, ["dx for an input of shape (5, 4)", "2 times"]),
    (variant("ReturnsNothing", backward=_backward_with(dx=lambda s, d: None)),
     nb05.check_affine_backward, ["returned None"]),
    (AccumulatingAffine, nb05.check_affine_backward, ["sum of both gradients", "don't add to it"]),
    (NamedGradAffine, nb05.check_affine_backward, ["no attribute dW"]),
]


@pytest.mark.parametrize("impl, check, words", WRONG, ids=[w[0].__name__ for w in WRONG])
def test_typical_mistakes_fail_with_a_hint(impl, check, words):
    with pytest.raises(Failure) as info:
        check(impl)
    for word in words:
        assert word in str(info.value), f"{word!r} missing from: {info.value}"
    # The combined check fails the same way.
    with pytest.raises(Failure):
        nb05.check_affine(impl)


def test_copying_layer_loses_only_the_forward_points():
    # Its gradients are right, so the mistake costs the cell it belongs to and no other.
    nb05.check_affine_backward(WRONG[0][0])


@pytest.mark.parametrize("impl, check", [(w[0], w[1]) for w in WRONG[:3] + WRONG[6:9]])
def test_messages_are_deterministic(impl, check):
    messages = []
    for _ in range(2):
        with pytest.raises(Failure) as info:
            check(impl)
        messages.append(str(info.value))
    assert messages[0] == messages[1]


# --- the reference cannot be steered by the forward ------------------------------------------------
#
# Each steering layer is right at every point it is first given, so the forward check passes it; next to a
# point it has seen (one entry nudged), or when a differentiation routine is on the call stack, it answers
# so that its slope there is `factor` times the true one, and its backward claims exactly that slope.
# Graded against central differences of the student's forward, such a layer got full marks.

def _one_entry_nudge(seen, now) -> bool:
    """Whether the arrays `now` equal the arrays `seen` except for one entry moved by less than 1e-3."""
    if len(seen) != len(now) or any(np.shape(a) != np.shape(b) for a, b in zip(seen, now)):
        return False
    diffs = [np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float)).ravel()
             for a, b in zip(seen, now)]
    moved = np.concatenate(diffs)
    return int(np.count_nonzero(moved)) == 1 and float(moved.max()) < 1e-3


def _differentiating() -> bool:
    """Whether something that looks like a numerical differentiation is calling us."""
    import inspect
    names = [frame.function.lower() for frame in inspect.stack()[2:] if "grader_tests" in frame.filename]
    return any(word in name for name in names for word in ("num", "grad", "vjp")
               if not name.startswith("check_"))


def steering_affine(detector: str, factor: float):
    """A TextbookAffine whose forward bends the numerical reference to `factor` times the true slope."""
    memory = []  # (inputs, output) of every call, shared by all layers of the class

    class Steering(TextbookAffine):
        def forward(self, x):
            inputs = (np.array(x), np.array(self.W), np.array(self.b))
            true = TextbookAffine.forward(self, x)
            if detector == "stack":
                return factor * true if _differentiating() else true
            for seen, out in memory:
                if _one_entry_nudge(seen, inputs):
                    return out + factor * (true - out)
            memory.append((inputs, true.copy()))
            return true

        def backward(self, dout):
            dx = TextbookAffine.backward(self, dout)
            self.dW, self.db = factor * self.dW, factor * self.db
            return factor * dx

    Steering.__name__ = f"Steering_{detector}_{factor:g}"
    return Steering


STEERING = [steering_affine(detector, factor)
            for detector in ("remembers", "stack") for factor in (0.0, 0.5, -1.0)]


@pytest.mark.parametrize("impl", STEERING, ids=lambda c: c.__name__)
def test_a_forward_cannot_steer_the_reference(impl):
    nb05.check_affine_forward(impl)  # right wherever the forward is graded
    with pytest.raises(Failure) as info:
        nb05.check_affine_backward(impl)
    assert "Affine.backward" in str(info.value) and "is wrong" in str(info.value), str(info.value)


@pytest.mark.parametrize("forward", [_forward_no_bias, lambda self, x: 2 * TextbookAffine.forward(self, x),
                                     lambda self, x: TextbookAffine.forward(self, x) ** 2],
                         ids=["no_bias", "doubled", "squared"])
def test_a_correct_backward_keeps_its_points_when_the_forward_is_wrong(forward):
    impl = variant("WrongForward", forward=forward)
    with pytest.raises(Failure):
        nb05.check_affine_forward(impl)
    nb05.check_affine_backward(impl)  # graded in its own cell: full marks


class Float32Affine:
    """Correct, computing in float32 (as notebook 07 trains): every answer is float32."""

    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.shape = x.shape
        self.x = x.reshape(x.shape[0], -1).astype(np.float32)
        return self.x @ self.W.astype(np.float32) + self.b.astype(np.float32)

    def backward(self, dout):
        dout = np.asarray(dout, dtype=np.float32)
        self.dW = self.x.T @ dout
        self.db = dout.sum(axis=0)
        return (dout @ self.W.astype(np.float32).T).reshape(self.shape)


@pytest.mark.parametrize("check", CHECKS, ids=lambda f: f.__name__)
def test_a_correct_float32_affine_passes(check):
    check(Float32Affine)
