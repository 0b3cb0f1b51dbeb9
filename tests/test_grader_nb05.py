"""Notebook 05: the hidden checks (cs231n's example, Affine, the planted bug in Linear) pass correct styles and fail
classic mistakes with a hint."""

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


# --- exercise 1: cs231n's q = Wx, f = Σq² -------------------------------------------------------------------

def vec_outer(W, x):
    q = W @ x
    return q, np.sum(q ** 2), np.outer(2 * q, x), W.T @ (2 * q)


def vec_loops(W, x):
    """Plain Python loops and lists, the way one writes it first on paper."""
    m, d = len(W), len(x)
    q = [sum(W[i][j] * x[j] for j in range(d)) for i in range(m)]
    dW = [[2 * q[i] * x[j] for j in range(d)] for i in range(m)]
    dx = [sum(2 * q[i] * W[i][j] for i in range(m)) for j in range(d)]
    return q, sum(v * v for v in q), dW, dx


def vec_einsum_row(W, x):
    """dq on the left of W, broadcasting for the outer product, einsum for q."""
    q = np.einsum("ij,j->i", W, x)
    dq = 2 * q
    return q, float(q @ q), dq[:, None] * x[None, :], dq @ W


def vec_float32(W, x):
    W, x = W.astype(np.float32), x.astype(np.float32)
    q = W @ x
    return q, np.sum(q * q), np.outer(2 * q, x), W.T @ (2 * q)


VEC_CORRECT = [vec_outer, vec_loops, vec_einsum_row, vec_float32]


def vec_dW_transposed(W, x):
    q = W @ x
    return q, np.sum(q ** 2), np.outer(x, 2 * q), W.T @ (2 * q)


def vec_no_two(W, x):
    q = W @ x
    return q, np.sum(q ** 2), np.outer(q, x), W.T @ q


def vec_dx_not_transposed(W, x):
    q = W @ x
    return q, np.sum(q ** 2), np.outer(2 * q, x), W @ (2 * q)


def vec_seed_numbers(W, x):
    """The seed's answers typed in: right for the seed's W and x only."""
    return (np.array([0.22, 0.26]), 0.116, np.array([[0.088, 0.176], [0.104, 0.208]]),
            np.array([-0.112, 0.636]))


def vec_three_values(W, x):
    q = W @ x
    return q, np.outer(2 * q, x), W.T @ (2 * q)


def vec_not_done(W, x):
    raise NotImplementedError()


VEC_WRONG = [
    (vec_dW_transposed, ["dW, that is ∂f/∂W", "is transposed", "square W"]),
    (vec_no_two, ["dW, that is ∂f/∂W", "factor 2 is missing"]),
    (vec_dx_not_transposed, ["dx, that is ∂f/∂x", "the wrong way round"]),
    (vec_seed_numbers, ["W of shape (3, 3)", "q (should be W·x) has shape (2,), expected (3,)"]),
    (vec_three_values, ["should return (q, f, dW, dx)", "of length 3"]),
    (vec_not_done, ["not implemented yet"]),
]


@pytest.mark.parametrize("impl", VEC_CORRECT, ids=lambda f: f.__name__)
def test_vectorized_example_correct_styles_pass(impl):
    nb05.check_vectorized_example(impl)


@pytest.mark.parametrize("impl, words", VEC_WRONG, ids=[w[0].__name__ for w in VEC_WRONG])
def test_vectorized_example_mistakes_fail_with_a_hint(impl, words):
    with pytest.raises(Failure) as info:
        nb05.check_vectorized_example(impl)
    for word in words:
        assert word in str(info.value), f"{word!r} missing from: {info.value}"


# --- exercise 4: the planted bug in Linear --------------------------------------------------------------------

def _cell_source(kind: str, grade_id: str) -> str:
    import nbformat
    from conftest import REPO

    path = REPO / kind / "05_affine_layer" / "05_affine_layer.ipynb"
    (source,) = [c.source for c in nbformat.read(path, as_version=4).cells
                 if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    return source


def _cell_class(kind: str, grade_id: str, name: str):
    """The class a cell of solutions/ or course/ defines, executed on its own."""
    source = _cell_source(kind, grade_id)
    space = {"np": np, "__name__": __name__}  # the class belongs to this module, like the rest of the zoo
    exec(source, space)
    return space[name]


LinearSolution = _cell_class("solutions", "linear", "Linear")
LinearReleased = _cell_class("course", "linear", "Linear")  # the given code, bug included


class LinearMatmul:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.x = x
        return x @ self.W.T + self.b

    def backward(self, dout):
        self.dW = dout.T @ self.x
        self.db = dout.sum(axis=0)
        return dout @ self.W


class LinearTransposeTwice(LinearMatmul):
    """The given line kept and its result transposed: also right."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.dW = (self.x.T @ dout).T
        return dx


def test_the_released_linear_fails_with_the_hint_and_the_solution_passes():
    with pytest.raises(Failure) as info:
        nb05.check_linear(LinearReleased)
    text = str(info.value)
    assert "Linear.backward: self.dW for x of shape (4, 2) and W of shape (2, 2)" in text, text
    assert "transpose of the right gradient" in text and "no shape error" in text, text
    nb05.check_linear(LinearSolution)


def test_the_release_gives_the_planted_line_in_place_of_the_fix():
    released, solution = _cell_source("course", "linear"), _cell_source("solutions", "linear")
    planted = 'self.dW = np.einsum("ni,nj->ji", dout, self.x)'
    assert f"        {planted}\n" in released and "planted" not in released and "YOUR CODE" not in released
    assert 'self.dW = np.einsum("ni,nj->ij", dout, self.x)' in solution
    assert 'self.dW = np.einsum("ni,nj->ij", dout, self.x)' not in released


@pytest.mark.parametrize("impl", [LinearMatmul, LinearTransposeTwice], ids=lambda c: c.__name__)
def test_linear_correct_styles_pass(impl):
    nb05.check_linear(impl)


def test_linear_square_cases_come_first_and_a_non_square_one_catches_the_shape():
    # The planted bug keeps W's shape on square W; on the non-square case the same line gives (D, M).
    square = [shape[1] == m for shape, m in nb05._LINEAR_CASES]
    assert square[0] and not all(square)

    class OnlyNonSquareWrong(LinearMatmul):
        def backward(self, dout):
            dx = super().backward(dout)
            if self.W.shape[0] != self.W.shape[1]:
                self.dW = self.x.T @ dout
            return dx

    with pytest.raises(Failure) as info:
        nb05.check_linear(OnlyNonSquareWrong)
    assert "has shape (4, 3), expected (3, 4)" in str(info.value), str(info.value)


def test_a_broken_given_forward_loses_the_exercise():
    class ForwardWithoutBias(LinearMatmul):
        def forward(self, x):
            return super().forward(x) - self.b

    with pytest.raises(Failure) as info:
        nb05.check_linear(ForwardWithoutBias)
    assert "Linear.forward output" in str(info.value)


class LinearFloat32(LinearMatmul):
    """Correct, computing in float32."""

    def forward(self, x):
        self.x = np.asarray(x, dtype=np.float32)
        return self.x @ self.W.astype(np.float32).T + self.b.astype(np.float32)

    def backward(self, dout):
        dout = np.asarray(dout, dtype=np.float32)
        self.dW, self.db = dout.T @ self.x, dout.sum(axis=0)
        return dout @ self.W.astype(np.float32)


def test_a_correct_float32_linear_passes():
    nb05.check_linear(LinearFloat32)
