"""The hidden checks of notebook 04 accept correct activation layers in several styles and reject
typical mistakes with a hint."""

import warnings

import numpy as np
import pytest

from grader_tests import nb04
from grader_tests._core import Failure

# ----------------------------------------------------------------------------- ReLU, correct

class ReluTextbook:
    """The seeds' own layer: backward writes zeros into dout in place and returns it."""

    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = (x <= 0)
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout[self.mask] = 0
        dx = dout
        return dx


class ReluWhere:
    def forward(self, x):
        self.mask = x <= 0
        return np.where(self.mask, 0.0, x)

    def backward(self, dout):
        return np.where(self.mask, 0.0, dout)


class ReluMaximumPositiveMask:
    """np.maximum, a differently named attribute that is True where x > 0, a product in backward."""

    def forward(self, x):
        self.passes = x > 0
        return np.maximum(0, x)

    def backward(self, dout):
        return dout * self.passes


# ----------------------------------------------------------------------------- ReLU, wrong

class ReluPassesAtZero(ReluWhere):
    """Gradient 1 at x = 0 (mask x < 0): 03's ties-to-the-first-argument rule for max(x, 0), also valid."""

    def forward(self, x):
        self.mask = x < 0
        return np.where(self.mask, 0.0, x)


def test_either_rule_at_the_kink_passes_as_the_text_says():
    # Notebook 04: the gradient at 0 is 0 here, "the tests keep their inputs away from 0 ... so either rule passes".
    for layer in (ReluWhere, ReluPassesAtZero):
        nb04.check_relu(layer)
    assert all(np.min(np.abs(x)) >= 0.05 for _, x in nb04._relu_inputs())
    at_zero = [layer() for layer in (ReluWhere, ReluPassesAtZero)]
    for relu in at_zero:
        relu.forward(np.zeros(1))
    assert [float(r.backward(np.ones(1))[0]) for r in at_zero] == [0.0, 1.0]  # the rules differ at 0 only


class ReluBackwardInverted(ReluWhere):
    def backward(self, dout):
        return np.where(self.mask, dout, 0.0)


class ReluForwardInverted:
    def forward(self, x):
        self.mask = x > 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        return np.where(self.mask, 0.0, dout)


class ReluPassesAll(ReluWhere):
    def backward(self, dout):
        return dout.copy()


class ReluForgetsDout(ReluWhere):
    def backward(self, dout):
        return (~self.mask).astype(float)


class ReluScalesByX:
    def forward(self, x):
        self.x = x
        return np.maximum(0, x)

    def backward(self, dout):
        return dout * np.maximum(0, self.x)


class ReluStub:
    def forward(self, x):
        raise NotImplementedError()

    def backward(self, dout):
        raise NotImplementedError()


# ----------------------------------------------------------------------------- Sigmoid, correct

class SigmoidTextbook:
    """The seeds' own layer: exp(-x) overflows (with a warning) for x < -709, yet the value 0 is right."""

    def __init__(self):
        self.out = None

    def forward(self, x):
        out = 1 / (1 + np.exp(-x))
        self.out = out
        return out

    def backward(self, dout):
        dx = dout * (1.0 - self.out) * self.out
        return dx


class SigmoidSplitBySign:
    def forward(self, x):
        e = np.exp(-np.abs(x))
        self.out = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
        return self.out

    def backward(self, dout):
        return dout * self.out * (1 - self.out)


class SigmoidBooleanIndex:
    """Fills the output through boolean indexing, keeps the result under another name."""

    def forward(self, x):
        y = np.empty_like(x, dtype=float)
        pos = x >= 0
        y[pos] = 1 / (1 + np.exp(-x[pos]))
        ez = np.exp(x[~pos])
        y[~pos] = ez / (1 + ez)
        self.y = y
        return y

    def backward(self, dout):
        return np.multiply(dout, self.y - self.y ** 2)


class SigmoidTanh:
    def forward(self, x):
        self.s = 0.5 * (1 + np.tanh(0.5 * x))
        return self.s

    def backward(self, dout):
        return dout * self.s * (1 - self.s)


# ----------------------------------------------------------------------------- Sigmoid, wrong

class SigmoidOverflowsToNan(SigmoidTextbook):
    def forward(self, x):
        self.out = np.exp(x) / (1 + np.exp(x))
        return self.out


class SigmoidMissingOneMinusY(SigmoidTextbook):
    def backward(self, dout):
        return dout * self.out


class SigmoidMissingY(SigmoidTextbook):
    def backward(self, dout):
        return dout * (1.0 - self.out)


class SigmoidForgetsDout(SigmoidTextbook):
    def backward(self, dout):
        return self.out * (1.0 - self.out)


class SigmoidUsesInput(SigmoidSplitBySign):
    def forward(self, x):
        self.x = x
        return super().forward(x)

    def backward(self, dout):
        return dout * self.x * (1 - self.x)


class SigmoidSignFlipped(SigmoidTextbook):
    def forward(self, x):
        self.out = 1 / (1 + np.exp(x))
        return self.out


class SigmoidBackwardFromFourSteps(SigmoidSplitBySign):
    """The unsimplified graph result dout * y^2 * exp(-x): 0 * inf = nan at x = -800."""

    def forward(self, x):
        self.x = x
        return super().forward(x)

    def backward(self, dout):
        return dout * self.out ** 2 * np.exp(-self.x)


# ----------------------------------------------------------------------------- tests

@pytest.mark.parametrize("layer", [ReluTextbook, ReluWhere, ReluMaximumPositiveMask])
def test_correct_relu_passes(layer):
    nb04.check_relu(layer)


@pytest.mark.parametrize("layer", [SigmoidTextbook, SigmoidSplitBySign, SigmoidBooleanIndex, SigmoidTanh])
def test_correct_sigmoid_passes(layer):
    nb04.check_sigmoid(layer)


def test_textbook_sigmoid_warns_yet_check_lets_no_warning_out():
    # The premise: this correct layer does warn on large negative inputs ...
    with np.errstate(over="warn"), pytest.warns(RuntimeWarning, match="overflow"):
        assert SigmoidTextbook().forward(np.array([-800.0])) == 0.0
    # ... and nothing of it escapes the check (nbgrader scores a cell 0 on any stderr output).
    with warnings.catch_warnings(), np.errstate(over="warn"):
        warnings.simplefilter("error")
        nb04.check_sigmoid(SigmoidTextbook)


def test_textbook_relu_backward_really_writes_into_dout():
    # The premise of accepting it: check_relu must not hand the same dout to two computations.
    layer = ReluTextbook()
    layer.forward(np.array([1.0, -1.0]))
    dout = np.array([5.0, 5.0])
    layer.backward(dout)
    assert dout.tolist() == [5.0, 0.0]


def failure(check, layer) -> str:
    with pytest.raises(Failure) as info:
        check(layer)
    return str(info.value)


@pytest.mark.parametrize("layer, where, hint", [
    (ReluBackwardInverted, "Relu.backward: dx", "wrong way round"),
    (ReluForwardInverted, "Relu.forward output", "wrong way round"),
    (ReluPassesAll, "Relu.backward: dx", "set it to 0 wherever the forward input was <= 0"),
    (ReluForgetsDout, "Relu.backward: dx", "multiply it by the upstream gradient dout"),
    (ReluScalesByX, "Relu.backward: dx", "SIGN of the forward input"),
])
def test_wrong_relu_fails_with_hint(layer, where, hint):
    message = failure(nb04.check_relu, layer)
    assert message.startswith(where), message
    assert "expected" in message and "got" in message, message
    assert hint in message.split("\nHint:")[1], message


def test_relu_stub_says_not_implemented():
    assert "Relu.forward is not implemented yet" in failure(nb04.check_relu, ReluStub)


@pytest.mark.parametrize("layer, where, hint", [
    (SigmoidMissingOneMinusY, "Sigmoid.backward: dx", "missing the factor (1 - y)"),
    (SigmoidMissingY, "Sigmoid.backward: dx", "missing the factor y"),
    (SigmoidForgetsDout, "Sigmoid.backward: dx", "multiply it by the upstream gradient dout"),
    (SigmoidUsesInput, "Sigmoid.backward: dx", "forward OUTPUT"),
    (SigmoidSignFlipped, "Sigmoid.forward output", "sign inside exp"),
])
def test_wrong_sigmoid_fails_with_hint(layer, where, hint):
    message = failure(nb04.check_sigmoid, layer)
    assert message.startswith(where), message
    assert hint in message.split("\nHint:")[1], message


def test_sigmoid_that_overflows_to_nan_fails_on_large_inputs():
    message = failure(nb04.check_sigmoid, SigmoidOverflowsToNan)
    assert message.startswith("On large inputs"), message
    assert "Sigmoid.forward output is wrong" in message and "got nan" in message, message
    assert "exp(-|x|)" in message, message


def test_backward_that_overflows_fails_on_large_inputs():
    message = failure(nb04.check_sigmoid, SigmoidBackwardFromFourSteps)
    assert message.startswith("On large inputs") and "Sigmoid.backward: dx" in message, message
    assert "dout * y * (1 - y)" in message, message


@pytest.mark.parametrize("check, layer", [(nb04.check_relu, ReluBackwardInverted),
                                          (nb04.check_sigmoid, SigmoidMissingY),
                                          (nb04.check_sigmoid, SigmoidOverflowsToNan)])
def test_checks_are_deterministic(check, layer):
    assert failure(check, layer) == failure(check, layer)


# ----------------------------------------------------------------------------- steering forwards, other precisions

from test_grader_nb03 import in_precision, steered, visible_check  # noqa: E402


@pytest.mark.parametrize("mode", ["nudge", "stack"])
@pytest.mark.parametrize("check, base, name", [(nb04.check_relu, ReluWhere, "Relu"),
                                               (nb04.check_sigmoid, SigmoidSplitBySign, "Sigmoid")])
def test_forward_that_steers_central_differences_cannot_hide_a_wrong_backward(check, base, name, mode):
    message = failure(check, steered(base, mode))
    assert message.startswith(f"{name}.backward: dx"), message
    assert "got 0" in message, message


@pytest.mark.parametrize("dtype", [np.float32, np.longdouble])
@pytest.mark.parametrize("check, base", [(nb04.check_relu, ReluTextbook), (nb04.check_relu, ReluWhere),
                                         (nb04.check_sigmoid, SigmoidTextbook),
                                         (nb04.check_sigmoid, SigmoidSplitBySign)])
def test_correct_layers_in_other_precisions_pass(check, base, dtype):
    check(in_precision(base, dtype))


class SigmoidLongDouble(SigmoidSplitBySign):
    """Computes in extended precision and returns np.longdouble arrays, no conversion wrapped around it."""

    def forward(self, x):
        return super().forward(np.asarray(x, dtype=np.longdouble))


def test_sigmoid_returning_longdouble_passes():
    assert SigmoidLongDouble().forward(np.array([1.0])).dtype == np.longdouble
    nb04.check_sigmoid(SigmoidLongDouble)


class _Doubled:
    """Doubles dx on arrays of more than one number: right on the one-number examples of the notebook."""

    def backward(self, dout):
        dx = super().backward(dout)
        return 2 * dx if np.size(dx) > 1 else dx


@pytest.mark.parametrize("check, right, wrong, where, hint", [
    (nb04.check_relu, ReluWhere, ReluBackwardInverted, "Relu.backward: dx", "wrong way round"),
    (nb04.check_relu, ReluWhere, ReluForgetsDout, "Relu.backward: dx", "upstream gradient dout"),
    (nb04.check_relu, ReluWhere, type("ReluDoubled", (_Doubled, ReluWhere), {}), "Relu.backward: dx", "2 times"),
    (nb04.check_sigmoid, SigmoidTextbook, SigmoidSignFlipped, "Sigmoid.forward output", "sign inside exp"),
    (nb04.check_sigmoid, SigmoidTextbook, SigmoidMissingOneMinusY, "Sigmoid.backward: dx", "factor (1 - y)"),
])
def test_float32_tolerance_passes_the_right_layer_and_fails_the_wrong_one(check, right, wrong, where, hint):
    check(in_precision(right, np.float32))
    message = failure(check, in_precision(wrong, np.float32))
    assert message.startswith(where) and hint in message, message


def test_float16_sigmoid_fails_with_a_clear_message():
    message = failure(nb04.check_sigmoid, in_precision(SigmoidSplitBySign, np.float16))
    assert "Sigmoid.forward output is in half precision (float16)" in message, message
    assert "too few to check a gradient" in message and "float32 or float64" in message, message


_GRAPH = {"graph_x": 1.0, "graph_y": 1 / (1 + np.exp(-1.0)),
          "graph_dx": np.exp(-1.0) / (1 + np.exp(-1.0)) ** 2}


@pytest.mark.parametrize("dtype", [np.float32])
def test_visible_checks_agree_with_the_hidden_ones_in_float32(dtype):
    visible_check("04_activation_layers", "test_relu", Relu=in_precision(ReluWhere, dtype))
    visible_check("04_activation_layers", "test_sigmoid", Sigmoid=in_precision(SigmoidSplitBySign, dtype), **_GRAPH)
    with pytest.raises(AssertionError, match="numerical gradient"):
        # right on the small visible example, doubled elsewhere: only the gradient check can see it
        visible_check("04_activation_layers", "test_sigmoid", **_GRAPH,
                      Sigmoid=in_precision(type("SigmoidDoubled", (_Doubled, SigmoidSplitBySign), {}), dtype))


@pytest.mark.parametrize("grade_id, check", [("relu", nb04.check_relu), ("sigmoid", nb04.check_sigmoid)])
def test_textbook_style_answers_of_the_autograde_test_pass(grade_id, check):
    from test_autograde import TEXTBOOK_STYLE
    namespace = {"np": np}
    exec(TEXTBOOK_STYLE["04_activation_layers"][grade_id], namespace)
    check(namespace[grade_id.title()])
