import numpy as np
import pytest

from bpcourse.gradcheck import check_gradient, numerical_derivative, numerical_gradient, numerical_vjp, rel_error


def test_numerical_derivative_is_central():
    # x**3 at 2: a forward difference with h=1e-4 is off by ~6e-4, a central one by ~1e-8.
    assert abs(numerical_derivative(lambda x: x ** 3, 2.0) - 12.0) < 1e-6


def test_numerical_gradient_of_scalar_function():
    x = np.array([[1.0, -2.0, 0.5], [3.0, 0.25, -1.0]])
    grad = numerical_gradient(lambda z: np.sum(z ** 2 * np.sin(z)), x)
    np.testing.assert_allclose(grad, 2 * x * np.sin(x) + x ** 2 * np.cos(x), rtol=1e-7)


def test_integer_input_is_converted():
    # With an int array, x + h would be truncated back to x and every derivative would be 0.
    grad = numerical_gradient(lambda z: np.sum(z ** 2), np.array([1, 2, 3]))
    np.testing.assert_allclose(grad, [2.0, 4.0, 6.0], rtol=1e-7)
    assert grad.dtype == np.float64


def test_caller_array_is_not_modified():
    x = np.array([1.0, 2.0])
    before = x.copy()
    numerical_gradient(lambda z: z.__imul__(3).sum(), x)  # f mutates what it receives
    np.testing.assert_array_equal(x, before)


def test_vjp_matches_jacobian_product():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((3, 2))
    x = rng.standard_normal((4, 3))
    dout = rng.standard_normal((4, 2))
    np.testing.assert_allclose(numerical_vjp(lambda z: z @ W, x, dout), dout @ W.T, rtol=1e-6)


def test_check_gradient_passes_correct_backward():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 5))
    dout = rng.standard_normal((3, 5))
    sig = 1 / (1 + np.exp(-x))
    result = check_gradient(lambda z: 1 / (1 + np.exp(-z)), x, dout * sig * (1 - sig), dout=dout, name="dx")
    assert result.ok and bool(result)
    assert "dx: OK" in result.report()


def test_check_gradient_catches_wrong_backward_and_names_the_index():
    x = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    dout = np.ones_like(x)
    analytic = 2 * x
    analytic[1, 2] = 0.0  # one wrong entry
    result = check_gradient(lambda z: z ** 2, x, analytic, dout=dout, name="dx")
    assert not result.ok
    assert result.worst_index == (1, 2)
    assert result.expected == pytest.approx(12.0, rel=1e-6) and result.got == 0.0
    assert "index (1, 2)" in result.report() and "WRONG" in result.report()


def test_check_gradient_hints_a_constant_factor():
    x = np.linspace(-1, 1, 6).reshape(2, 3) + 0.05
    dout = np.ones_like(x)
    result = check_gradient(lambda z: z ** 2, x, 2 * (2 * x), dout=dout)
    assert not result.ok and "2 times too large" in result.report()
    result = check_gradient(lambda z: z ** 2, x, -(2 * x), dout=dout)
    assert "sign is flipped" in result.report()


def test_zero_true_gradient_does_not_fail_correct_code():
    x = np.array([1.0, -2.0, 3.0])
    result = check_gradient(lambda z: np.sum(z * 0.0 + 7.0), x, np.zeros(3))
    assert result.ok


def test_rel_error():
    assert rel_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert rel_error([1.0], [3.0]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="shapes"):
        rel_error([1.0, 2.0], [1.0])


@pytest.mark.parametrize("call, error, words", [
    (lambda: numerical_gradient("not a function", np.ones(2)), TypeError, "f must be a function"),
    (lambda: numerical_gradient(np.sum, np.array([1.0, np.nan])), ValueError, "index (1,)"),
    (lambda: numerical_gradient(lambda z: z, np.ones(3)), ValueError, "single number"),
    (lambda: numerical_vjp(lambda z: z, np.ones(3), np.ones(2)), ValueError, "dout has shape (2,)"),
    (lambda: check_gradient(lambda z: z, np.ones(3), np.ones(2), dout=np.ones(3)), ValueError, "shape (2,)"),
    (lambda: numerical_gradient(np.sum, [["a", "b"]]), TypeError, "x must be a number"),
])
def test_bad_input_gets_a_clear_message(call, error, words):
    with pytest.raises(error) as info:
        call()
    assert words in str(info.value)


# ----------------------------------------------------------------------------- precision

def _sigmoid32(z):
    return (1 / (1 + np.exp(-np.asarray(z, dtype=np.float32)))).astype(np.float32)


def _float32_cases(seed):
    """(name, f, x, dout, right backward): float32 forward/backward pairs, elementwise and a matrix product."""
    g = np.random.default_rng(seed)
    x, y, dout = g.uniform(-3, 3, (3, 3, 5))
    y32 = y.astype(np.float32)
    s = _sigmoid32(x)
    W = g.standard_normal((6, 5)).astype(np.float32)
    X, D = g.standard_normal((4, 6)), g.standard_normal((4, 5))
    return [("x * y", lambda z: z.astype(np.float32) * y32, x, dout, dout.astype(np.float32) * y32),
            ("sigmoid", _sigmoid32, x, dout, (dout * s * (1 - s)).astype(np.float32)),
            ("x @ W", lambda z: z.astype(np.float32) @ W, X, D, D.astype(np.float32) @ W.T)]


@pytest.mark.parametrize("seed", range(10))
def test_correct_float32_backward_passes_and_says_float32(seed):
    for name, f, x, dout, right in _float32_cases(seed):
        result = check_gradient(f, x, right, dout=dout, name=name)
        assert result.ok, result.report()
        assert "float32" in result.report(), result.report()


@pytest.mark.parametrize("wrong, hint", [(lambda g: 2 * g, "2 times too large"), (lambda g: -g, "sign is flipped"),
                                         (lambda g: g[::-1].copy(), "")])
def test_float32_check_passes_the_right_backward_and_fails_the_wrong_one(wrong, hint):
    for name, f, x, dout, right in _float32_cases(0):
        assert check_gradient(f, x, right, dout=dout, name=name).ok
        result = check_gradient(f, x, wrong(right), dout=dout, name=name)
        assert not result.ok, result.report()
        assert hint in result.report(), result.report()


def test_swapped_float32_product_fails():
    g = np.random.default_rng(7)
    x, y, dout = (g.uniform(-3, 3, (3, 4)).astype(np.float32) for _ in range(3))
    assert check_gradient(lambda z: z.astype(np.float32) * y, x, dout * y, dout=dout, name="dx").ok
    result = check_gradient(lambda z: z.astype(np.float32) * y, x, dout * x, dout=dout, name="dx")
    assert not result.ok, result.report()


def test_float32_scalar_loss_passes():
    g = np.random.default_rng(3)
    x, labels = g.standard_normal((2, 3)), np.array([2, 0])

    def loss(z):
        z = z.astype(np.float32)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return -np.mean(np.log((e / e.sum(axis=1, keepdims=True))[np.arange(2), labels]))

    y = np.exp(x - x.max(axis=1, keepdims=True))
    y /= y.sum(axis=1, keepdims=True)
    y[np.arange(2), labels] -= 1
    assert check_gradient(loss, x, (y / 2).astype(np.float32)).ok


def test_float32_gradient_of_a_float64_function_is_checked_in_float32():
    # the lower precision of output and gradient counts
    x = np.linspace(-1, 1, 5)
    result = check_gradient(lambda z: z ** 2, x, (2 * x).astype(np.float32), dout=np.ones(5))
    assert result.ok and "float32" in result.report()


@pytest.mark.parametrize("call", [
    lambda: check_gradient(lambda z: z.astype(np.float16) * 2, np.ones(3), 2 * np.ones(3), dout=np.ones(3)),
    lambda: check_gradient(lambda z: z * 2, np.ones(3), 2 * np.ones(3, dtype=np.float16), dout=np.ones(3)),
    lambda: numerical_gradient(lambda z: np.float16(np.sum(z)), np.ones(3)),
])
def test_float16_gets_a_clear_message(call):
    with pytest.raises(TypeError) as info:
        call()
    assert "half precision (float16)" in str(info.value) and "float32 or float64" in str(info.value)


def test_float64_is_unchanged():
    x = np.array([[0.5, -1.25, 2.0], [1.5, 0.25, -0.75]])
    f = lambda z: np.sum(np.sin(z) * z)  # noqa: E731
    manual = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[idx] += 1e-5
        minus[idx] -= 1e-5
        manual[idx] = (f(plus) - f(minus)) / 2e-5
    np.testing.assert_array_equal(numerical_gradient(f, x), manual)
    result = check_gradient(f, x, np.sin(x) + x * np.cos(x), name="dx")
    assert result.ok and result.tol == 1e-6 and result.h == 1e-5
    assert "tolerance 1e-06; float64, step h=1e-05" in result.report(), result.report()


def test_explicit_step_and_tolerance_are_used():
    x = np.array([1.0, 2.0])
    result = check_gradient(lambda z: np.sum(z ** 3), x, 3 * x ** 2, tol=1e-12, h=1e-3)
    assert result.tol == 1e-12 and result.h == 1e-3 and not result.ok  # truncation error h^2 = 1e-6 > 1e-12
    assert check_gradient(lambda z: np.sum(z ** 3), x, 3 * x ** 2, tol=1e-5, h=1e-3).ok
    np.testing.assert_allclose(numerical_gradient(lambda z: np.sum(z ** 3), x, h=1e-3), 3 * x ** 2 + 1e-6)
