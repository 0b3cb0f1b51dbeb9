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


class MaxTiesToY(MaxMask):
    """Ties sent to y (x > y) instead of to x: the other valid subgradient at a tie."""

    def forward(self, x, y):
        self.mask = np.asarray(x) > np.asarray(y)
        return np.maximum(x, y)


def test_either_tie_rule_passes_as_the_text_says():
    # Notebook 03: "This MaxLayer sends ties to x ... The tests never use tied inputs (nor inputs within the
    # numerical step of a tie) ... so either rule passes."
    for layer in (MaxMask, MaxTiesToY):
        nb03.check_max_layer(layer)
    for shape in ((), (5,), (3, 4), (1, 6)):
        x, y = nb03._pair("MaxLayer", shape, apart=True)
        assert np.min(np.abs(x - y)) >= 0.1, shape
    ties_x, ties_y = MaxMask(), MaxTiesToY()
    ties_x.forward(1.0, 1.0)
    ties_y.forward(1.0, 1.0)
    assert ties_x.backward(1.0) == (1.0, 0.0) and ties_y.backward(1.0) == (0.0, 1.0)  # they differ at a tie only


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


# ----------------------------------------------------------------------------- helpers shared with nb04 and nb06

def steered(base, mode: str):
    """``base`` with a forward that is right at every input it is first given but, on arrays, steers central
    differences of itself, and a backward that is all zeros on arrays. On plain Python numbers both are
    honest, so the one-number cases and the notebooks' examples with ints and floats pass.

    mode "nudge": an input within 1e-3 of one it has seen, but not equal to it (a nudged copy), gets the output it
    gave for the remembered input, so central differences of this forward see 0.
    mode "stack": while a function whose name contains 'num', 'grad' or 'vjp' is on the call stack (a
    differentiation routine), the forward returns zeros: a constant, whose central differences are 0.
    """
    import inspect

    seen = []  # on the class: numerical differentiation builds a fresh layer for every evaluation

    def floats(inputs):
        return [np.asarray(a, dtype=float) for a in inputs if np.asarray(a).dtype.kind == "f"]

    class Steered(base):
        def forward(self, *inputs):
            self._plain = not any(isinstance(a, (np.ndarray, np.generic)) for a in inputs)
            if self._plain:
                return base.forward(self, *inputs)
            if mode == "stack":
                names = [frame.function.lower() for frame in inspect.stack(0)]
                if any(word in n for n in names for word in ("num", "grad", "vjp")):
                    return 0.0 * np.asarray(base.forward(self, *inputs))
                return base.forward(self, *inputs)
            now = floats(inputs)
            for before, out in seen:
                if len(before) == len(now) and all(a.shape == b.shape for a, b in zip(before, now)):
                    gap = max((float(np.max(np.abs(a - b), initial=0.0)) for a, b in zip(before, now)), default=0)
                    if 0 < gap < 1e-3:
                        base.forward(self, *inputs)  # keep the layer's state consistent
                        return out
            out = base.forward(self, *inputs)
            seen.append((now, out))
            return out

        def backward(self, *args):
            grads = base.backward(self, *args)
            if getattr(self, "_plain", False):
                return grads
            if isinstance(grads, (tuple, list)):
                return type(grads)(np.zeros(np.shape(g)) for g in grads)
            return np.zeros(np.shape(grads))

    Steered.__name__ = f"{base.__name__}Steered{mode.title()}"
    return Steered


def _cast(value, dtype):
    if isinstance(value, (tuple, list)):
        return type(value)(_cast(v, dtype) for v in value)
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value.astype(dtype)
    if isinstance(value, float) or (isinstance(value, np.generic) and value.dtype.kind == "f"):
        return dtype(value)
    return value


def in_precision(base, dtype):
    """``base`` computing in ``dtype``: every float it is given is converted first, and so is what it returns."""

    class Cast(base):
        def forward(self, *inputs):
            return _cast(base.forward(self, *[_cast(a, dtype) for a in inputs]), dtype)

        def backward(self, *args):
            return _cast(base.backward(self, *[_cast(a, dtype) for a in args]), dtype)

    Cast.__name__ = f"{base.__name__}In{np.dtype(dtype).name.title()}"
    return Cast


def visible_check(notebook: str, grade_id: str, **names) -> None:
    """Run the visible part of a graded cell of ``solutions/<notebook>`` (everything above its hidden tests)."""
    import nbformat
    from conftest import REPO

    from bpcourse.gradcheck import check_gradient
    from bpcourse.hints import explain

    nb = nbformat.read(REPO / "solutions" / notebook / f"{notebook}.ipynb", as_version=4)
    (source,) = [c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    import warnings
    exec(source.split("### BEGIN HIDDEN TESTS")[0], {"np": np, "check_gradient": check_gradient,
                                                      "explain": explain, "warnings": warnings, **names})


# ----------------------------------------------------------------------------- steering forwards cannot pass

LAYERS = [(nb03.check_mul_layer, MulTextbook, "MulLayer"), (nb03.check_add_layer, AddTextbook, "AddLayer"),
          (nb03.check_max_layer, MaxMask, "MaxLayer")]


@pytest.mark.parametrize("mode", ["nudge", "stack"])
@pytest.mark.parametrize("check, base, name", LAYERS)
def test_forward_that_steers_central_differences_cannot_hide_a_wrong_backward(check, base, name, mode):
    message = _message(check, steered(base, mode))
    assert message.startswith(f"{name}.backward: d"), message
    assert "expected" in message and "got 0" in message, message


# ----------------------------------------------------------------------------- other precisions

@pytest.mark.parametrize("dtype", [np.float32, np.longdouble])
@pytest.mark.parametrize("check, base", [(nb03.check_mul_layer, MulTextbook), (nb03.check_mul_layer, MulNumpyList),
                                         (nb03.check_add_layer, AddTextbook), (nb03.check_max_layer, MaxMask)])
def test_correct_layers_in_other_precisions_pass(check, base, dtype):
    check(in_precision(base, dtype))


@pytest.mark.parametrize("check, right, wrong, words", [
    (nb03.check_mul_layer, MulTextbook, MulNotSwapped, ["MulLayer.backward: dx", "swaps its inputs"]),
    (nb03.check_mul_layer, MulTextbook, MulNoDout, ["MulLayer.backward: dx", "upstream gradient dout"]),
    (nb03.check_add_layer, AddTextbook, AddDoubled, ["AddLayer.backward: dx", "does not double"]),
    (nb03.check_max_layer, MaxMask, MaxToSmaller, ["MaxLayer.backward: dx", "LARGER input"]),
])
def test_float32_tolerance_passes_the_right_layer_and_fails_the_wrong_one(check, right, wrong, words):
    check(in_precision(right, np.float32))
    message = _message(check, in_precision(wrong, np.float32))
    for word in words:
        assert word in message, message


def test_float16_layer_fails_with_a_clear_message():
    message = _message(nb03.check_mul_layer, in_precision(MulTextbook, np.float16))
    assert "MulLayer.forward output is in half precision (float16)" in message, message
    assert "float32 or float64" in message, message


@pytest.mark.parametrize("dtype", [np.float32])
def test_visible_check_agrees_with_the_hidden_one_on_float32(dtype):
    visible_check("03_add_mul_nodes", "test_mul_layer", MulLayer=in_precision(MulTextbook, dtype))
    visible_check("03_add_mul_nodes", "test_add_layer", AddLayer=in_precision(AddTextbook, dtype))
    visible_check("03_add_mul_nodes", "test_max_layer", MaxLayer=in_precision(MaxMask, dtype))
    for wrong in (MulNotSwapped, MulNoDout):
        with pytest.raises(AssertionError):
            visible_check("03_add_mul_nodes", "test_mul_layer", MulLayer=in_precision(wrong, dtype))
