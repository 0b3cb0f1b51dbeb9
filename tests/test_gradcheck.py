import numpy as np
import pytest

from bpcourse.gradcheck import (check_gradient, numerical_derivative, numerical_gradient,
                                numerical_vjp, rel_error)


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
