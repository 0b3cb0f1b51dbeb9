"""The hidden checks of notebook 03 accept correct layers in several styles and reject typical mistakes."""

import numpy as np
import pytest

from grader_tests import nb03
from grader_tests._core import Failure


# ----------------------------------------------------------------------------- correct, several styles

class MulTextbook:
    def __init__(self):
        self.x = None
        self.y = None

    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dout):
        return dout * self.y, dout * self.x


class MulNumpyList:
    """np.multiply, other attribute names, a list return."""

    def forward(self, a, b):
        self.saved = (np.asarray(a), np.asarray(b))
        return np.multiply(a, b)

    def backward(self, grad):
        a, b = self.saved
        return [np.multiply(grad, b), np.multiply(grad, a)]


class AddTextbook:
    def forward(self, x, y):
        return x + y

    def backward(self, dout):
        return dout * 1, dout * 1


class AddSameObject:
    """Hands the very same dout to both inputs, via np.add."""

    def forward(self, x, y):
        return np.add(x, y)

    def backward(self, dout):
        return [dout, dout]


class MaxMask:
    def forward(self, x, y):
        self.mask = np.asarray(x) >= np.asarray(y)
        return np.maximum(x, y)

    def backward(self, dout):
        return dout * self.mask, dout * ~self.mask


class MaxWhere:
    """np.where, a stored output instead of a mask, float arithmetic for the other branch."""

    def forward(self, left, right):
        self.left = np.asarray(left, dtype=float)
        self.out = np.where(self.left > right, left, right)
        return self.out

    def backward(self, g):
        x_won = (self.out == self.left).astype(float)
        return (g * x_won, g * (1.0 - x_won))


@pytest.mark.parametrize("layer", [MulTextbook, MulNumpyList])
def test_correct_mul_layers_pass(layer):
    nb03.check_mul_layer(layer)


@pytest.mark.parametrize("layer", [AddTextbook, AddSameObject])
def test_correct_add_layers_pass(layer):
    nb03.check_add_layer(layer)


@pytest.mark.parametrize("layer", [MaxMask, MaxWhere])
def test_correct_max_layers_pass(layer):
    nb03.check_max_layer(layer)


# ----------------------------------------------------------------------------- wrong

class MulNotSwapped(MulTextbook):
    def backward(self, dout):
        return dout * self.x, dout * self.y


class MulNoDout(MulTextbook):
    def backward(self, dout):
        return self.y, self.x


class MulSharedState:
    """Keeps the inputs on the class, so two layers overwrite each other."""

    def forward(self, x, y):
        MulSharedState.x, MulSharedState.y = x, y
        return x * y

    def backward(self, dout):
        return dout * MulSharedState.y, dout * MulSharedState.x


class MulOneGradient(MulTextbook):
    def backward(self, dout):
        return dout * self.y


class AddZero(AddTextbook):
    def backward(self, dout):
        return dout, 0 * dout


class AddDoubled(AddTextbook):
    def backward(self, dout):
        return 2 * dout, 2 * dout


class AddHalf(AddTextbook):
    def backward(self, dout):
        return dout / 2, dout / 2


class AddMulRule:
    def forward(self, x, y):
        self.x, self.y = x, y
        return x + y

    def backward(self, dout):
        return dout * self.y, dout * self.x


class AddWrongForward(AddTextbook):
    def forward(self, x, y):
        return x * y


class MaxToSmaller(MaxMask):
    def backward(self, dout):
        return dout * ~self.mask, dout * self.mask


class MaxBoth(MaxMask):
    def backward(self, dout):
        return dout, dout


class MaxPythonMax(MaxMask):
    def forward(self, x, y):
        self.mask = np.asarray(x) >= np.asarray(y)
        return max(x, y)


class MaxPythonBool:
    """x > y on Python floats is a Python bool, and ~True == -2."""

    def forward(self, x, y):
        self.mask = x > y
        return np.maximum(x, y)

    def backward(self, dout):
        return dout * self.mask, dout * ~self.mask


class MaxInPlace(MaxMask):
    def backward(self, dout):
        dy = dout.copy() if isinstance(dout, np.ndarray) else dout
        dy = dy * ~self.mask
        if isinstance(dout, np.ndarray):
            dout[~self.mask] = 0  # writes into the caller's array
            return dout, dy
        return dout * self.mask, dy


def _message(check, layer) -> str:
    with pytest.raises(Failure) as info:
        check(layer)
    return str(info.value)


@pytest.mark.parametrize("check, layer, words", [
    (nb03.check_mul_layer, MulNotSwapped, ["MulLayer.backward: dx", "the multiply node swaps its inputs"]),
    (nb03.check_mul_layer, MulNoDout, ["MulLayer.backward: dx", "upstream gradient dout"]),
    (nb03.check_mul_layer, MulSharedState, ["buy apple", "keep its own inputs"]),
    (nb03.check_mul_layer, MulOneGradient, ["should return 2 gradients (dx, dy)"]),
    (nb03.check_add_layer, AddZero, ["AddLayer.backward: dy", "BOTH inputs"]),
    (nb03.check_add_layer, AddDoubled, ["AddLayer.backward: dx", "does not double"]),
    (nb03.check_add_layer, AddHalf, ["AddLayer.backward: dx", "does not split"]),
    (nb03.check_add_layer, AddMulRule, ["AddLayer.backward: dx", "multiply node's rule"]),
    (nb03.check_add_layer, AddWrongForward, ["AddLayer.forward output is wrong"]),
    (nb03.check_max_layer, MaxToSmaller, ["MaxLayer.backward: dx", "LARGER input"]),
    (nb03.check_max_layer, MaxBoth, ["MaxLayer.backward", "router, not a distributor"]),
    (nb03.check_max_layer, MaxPythonMax, ["MaxLayer.forward raised ValueError", "np.maximum"]),
    (nb03.check_max_layer, MaxPythonBool, ["MaxLayer.backward", "~True == -2"]),
    (nb03.check_max_layer, MaxInPlace, ["changed the dout array"]),
])
def test_wrong_layers_fail_with_the_right_message(check, layer, words):
    message = _message(check, layer)
    for word in words:
        assert word in message, message


def test_scalar_case_drops_the_meaningless_ratio_hint():
    class MulPlusOne(MulTextbook):
        def backward(self, dout):
            return dout * self.y + 1, dout * self.x + 1

    message = _message(nb03.check_mul_layer, MulPlusOne)
    assert message.startswith("MulLayer.backward: dx") and "Hint" not in message, message


def test_not_implemented_is_reported():
    class Stub:
        def forward(self, x, y):
            raise NotImplementedError()

    for check in (nb03.check_mul_layer, nb03.check_add_layer, nb03.check_max_layer):
        assert "not implemented yet" in _message(check, Stub)


def test_checks_are_deterministic():
    for check, layer in [(nb03.check_mul_layer, MulNotSwapped), (nb03.check_add_layer, AddMulRule),
                         (nb03.check_max_layer, MaxToSmaller)]:
        assert _message(check, layer) == _message(check, layer)


def test_max_inputs_stay_away_from_ties_and_route_both_ways():
    from grader_tests._core import CASES
    for shape in CASES:
        x, y = nb03._pair("MaxLayer", shape, apart=True)
        assert np.all(np.abs(x - y) >= 0.1)
        if np.size(x) > 1:
            assert np.any(x > y) and np.any(y > x)
