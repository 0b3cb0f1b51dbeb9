"""Hidden tests for notebook 04: the ReLU and Sigmoid activation layers.

Forward values are checked against the formulas the notebook states (max(0, x) and
1 / (1 + exp(-x))); every backward against central differences of that formula, computed
here in float64, so a forward that answers differently near the checked inputs cannot move
the reference. Float32 answers are compared with float32 tolerances (see ``_core``). Sigmoid
must also stay finite and right on large inputs. When a check fails, a few classic mistakes
(a mask the wrong way round, a missing factor) are named in the message.
"""

from __future__ import annotations

import numpy as np

from bpcourse import mistakes
from bpcourse.i18n import tr

from ._core import (
    CASES,
    Failure,
    call,
    check_layer,
    hidden_check,
    rng,
)
from ._core import (
    replace_hint as _replace_hint,
)

__all__ = ["check_relu", "check_sigmoid"]

# Far beyond where exp overflows (about 709): a stable sigmoid gets every value right here.
LARGE = np.array([-800.0, -100.0, -30.0, -2.0, 0.0, 2.0, 30.0, 100.0, 800.0])


class _Arrays:
    """The student's layer, always handed NumPy arrays (a 0-d array for the scalar case).

    The layer contract is arrays in, arrays out; check_layer passes a Python float for shape (),
    and the textbook's ``x.copy()`` / ``dout[mask] = 0`` rightly assume an array.
    """

    def __init__(self, layer):
        self.layer = layer

    def forward(self, x):
        return self.layer.forward(np.array(x, dtype=np.float64))

    def backward(self, dout):
        return self.layer.backward(np.array(dout, dtype=np.float64))


_SIGMOID_TEXT = "y = 1 / (1 + exp(-x))"


_sigmoid = mistakes.sigmoid


def _finite(a) -> bool:
    try:
        return bool(np.all(np.isfinite(np.asarray(a, dtype=np.float64))))
    except (TypeError, ValueError):
        return True  # not numbers at all: check_layer's message already says so


def _run(cls, name: str, x: np.ndarray, dout: np.ndarray):
    """(out, dx) of a fresh layer, or (None, None) if the student's code raises."""
    try:
        layer = call(lambda: _Arrays(cls()), what=f"creating {name}")
        out = call(layer.forward, x.copy(), what=f"{name}.forward")
        dx = call(layer.backward, dout.copy(), what=f"{name}.backward")
    except Failure:
        return None, None
    return out, dx


def _check_cases(cls, name: str, inputs, formula, formula_text: str, diagnose):
    """check_layer on each input array; a failure gets a sharper hint from ``diagnose`` if it has one."""
    __tracebackhide__ = True
    for label, x in inputs:
        seed = f"{name} dout {label}"
        try:
            check_layer(lambda: _Arrays(cls()), [x], formula, name, ["dx"], seed=seed,
                        formula_text=formula_text)
        except Failure as exc:
            message = str(exc)
            dout = rng(seed).standard_normal(x.shape)
            out, dx = _run(cls, name, x, dout)
            hint = diagnose(x, dout, out, dx, message) if out is not None else None
            if hint:
                raise Failure(_replace_hint(message, hint)) from None
            raise


# ----------------------------------------------------------------------------- ReLU

def _relu_inputs():
    """Seeded inputs per shape, at least 0.05 away from the kink at 0, both signs present."""
    for shape in CASES:
        g = rng(f"Relu inputs {shape}")
        size = int(np.prod(shape))
        signs = g.permutation(np.where(np.arange(size) % 2 == 0, 1.0, -1.0)).reshape(shape)
        yield shape, signs * g.uniform(0.05, 3.0, shape)


def _relu_diagnose(x, dout, out, dx, message):
    if message.startswith("Relu.forward"):
        return mistakes.relu_forward(x, out)
    return mistakes.relu_backward(x, dout, dx)


@hidden_check
def check_relu(Relu):
    """Relu: forward(x) = max(0, x) elementwise; backward(dout) = dout where x > 0, else 0."""
    __tracebackhide__ = True
    _check_cases(Relu, "Relu", _relu_inputs(), lambda x: np.maximum(x, 0.0), "y = max(0, x)", _relu_diagnose)


# ----------------------------------------------------------------------------- Sigmoid

def _sigmoid_inputs():
    for shape in CASES:
        yield shape, 3.0 * rng(f"Sigmoid inputs {shape}").standard_normal(shape)


def _sigmoid_diagnose(x, dout, out, dx, message):
    if message.startswith("Sigmoid.forward"):
        return mistakes.sigmoid_forward(x, out)
    return mistakes.sigmoid_backward(x, dout, dx)


def _large_diagnose(x, dout, out, dx, message):
    if message.startswith("Sigmoid.forward"):
        return None if _finite(out) else mistakes.SIGMOID_OVERFLOW
    return None if _finite(dx) else mistakes.SIGMOID_BACKWARD_OVERFLOW


@hidden_check
def check_sigmoid(Sigmoid):
    """Sigmoid: forward(x) = 1 / (1 + exp(-x)), finite for any x; backward(dout) = dout * y * (1 - y)."""
    __tracebackhide__ = True
    _check_cases(Sigmoid, "Sigmoid", _sigmoid_inputs(), _sigmoid, _SIGMOID_TEXT, _sigmoid_diagnose)
    try:
        _check_cases(Sigmoid, "Sigmoid", [("large", LARGE)], _sigmoid, _SIGMOID_TEXT, _large_diagnose)
    except Failure as exc:
        raise Failure(tr("On large inputs x = {x}: {message}", x=LARGE.tolist(), message=exc)) from None
