"""Hidden tests for notebook 03: the multiply, add and max nodes as layers.

Forward values are checked against the formulas the notebook states (x * y, x + y,
elementwise maximum); every backward against central differences of that formula, computed
here in float64, so a forward that answers differently near the checked inputs cannot move
the reference. Float32 answers are compared with float32 tolerances (see ``_core``). When a
check fails, a few classic mistakes are recognised from the returned gradients and named in
the message.
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
    expect_close,
    expect_true,
    hidden_check,
    num_vjp,
    rng,
)
from ._core import (
    replace_hint as _replace_hint,
)

__all__ = ["check_mul_layer", "check_add_layer", "check_max_layer"]

# The seed's shopping example (buy_apple, buy_apple_orange), as the script writes it: ints and a float.
APPLE, APPLE_NUM, ORANGE, ORANGE_NUM, TAX = 100, 2, 150, 3, 1.1


def _scalar_or_array(a: np.ndarray):
    """A python float for shape (), so the scalar case sees what the notebook's examples pass."""
    return float(a) if a.shape == () else a


def _pair(name: str, shape: tuple, *, apart: bool = False):
    """Seeded float64 inputs x, y; with ``apart`` they differ by at least 0.1 and x wins about half the time."""
    g = rng(f"{name} inputs {shape}")
    x = g.uniform(-3.0, 3.0, shape)
    if not apart:
        return x, g.uniform(-3.0, 3.0, shape)
    size = int(np.prod(shape))
    signs = g.permutation(np.where(np.arange(size) % 2 == 0, 1.0, -1.0)).reshape(shape)
    # Far from a tie, so central differences (h = 1e-6) of the formula never cross the kink of max.
    return x, x + signs * g.uniform(0.1, 2.0, shape)


def _run_case(make, name: str, x, y, dout):
    """What the student's layer returns for one case, or None if it does not return two gradients."""
    try:
        layer = call(make, what=f"creating {name}")
        call(layer.forward, x, y, what=f"{name}.forward")
        grads = call(layer.backward, dout, what=f"{name}.backward")
    except Failure:
        return None
    if not isinstance(grads, (tuple, list)) or len(grads) != 2:
        return None
    return grads


def _check_cases(make, name: str, formula, formula_text: str, *, apart=False, hints=None, grad_hints=None,
                 diagnose=None):
    """check_layer on every shape in CASES; on a backward failure, ask ``diagnose`` for a sharper hint."""
    __tracebackhide__ = True
    for shape in CASES:
        x, y = _pair(name, shape, apart=apart)
        args = [_scalar_or_array(x), _scalar_or_array(y)]
        seed = f"{name} dout {shape}"
        try:
            check_layer(make, args, formula, name, ["dx", "dy"], seed=seed, hints=hints,
                        grad_hints=grad_hints, formula_text=formula_text)
        except Failure as exc:
            message = str(exc)
            hint = None
            if diagnose is not None and message.startswith(f"{name}.backward"):
                # Rebuild the very upstream gradient check_layer used, and look at what came back.
                dout = rng(seed).standard_normal(shape)
                grads = _run_case(make, name, *args, float(dout) if shape == () else dout.copy())
                if grads is not None:
                    hint = diagnose(x, y, dout, grads[0], grads[1], shape)
            if hint:
                raise Failure(_replace_hint(message, hint)) from None
            raise


# ----------------------------------------------------------------------------- multiply

def _mul_diagnose(x, y, dout, dx, dy, shape):
    return mistakes.mul_layer(x, y, dout, dx, dy)


@hidden_check
def check_mul_layer(MulLayer):
    """MulLayer: forward(x, y) = x * y; backward(dout) -> (dx, dy); then the seed's apple shopping."""
    __tracebackhide__ = True
    _check_cases(MulLayer, "MulLayer", lambda x, y: x * y, "out = x * y", diagnose=_mul_diagnose)

    # buy_apple: two layers of the same class used one after the other.
    mul_apple = call(MulLayer, what="creating MulLayer")
    mul_tax = call(MulLayer, what="creating MulLayer")
    apple_price = call(mul_apple.forward, APPLE, APPLE_NUM, what="mul_apple_layer.forward(apple, apple_num)")
    price = call(mul_tax.forward, apple_price, TAX, what="mul_tax_layer.forward(apple_price, tax)")
    expect_close(price, APPLE * APPLE_NUM * TAX, tr("buy apple: price"))
    grads_tax = call(mul_tax.backward, 1, what="mul_tax_layer.backward(1)")
    expect_true(isinstance(grads_tax, (tuple, list)) and len(grads_tax) == 2,
                tr("buy apple: mul_tax_layer.backward(1) should return (dapple_price, dtax), got {got!r:.80}.",
                   got=grads_tax))
    dapple_price, dtax = grads_tax
    grads_apple = call(mul_apple.backward, dapple_price, what="mul_apple_layer.backward(dapple_price)")
    expect_true(isinstance(grads_apple, (tuple, list)) and len(grads_apple) == 2,
                tr("buy apple: mul_apple_layer.backward should return (dapple, dapple_num), got {got!r:.80}.",
                   got=grads_apple))
    dapple, dapple_num = grads_apple

    # The expected gradients are central differences of the formula price = apple * apple_num * tax.
    point = np.array([APPLE, APPLE_NUM, TAX], dtype=np.float64)
    expected = num_vjp(lambda v: v[0] * v[1] * v[2], point, np.float64(1.0))
    state_hint = mistakes.SHARED_STATE
    for got, want, what in [(dapple, expected[0], "d apple"), (dapple_num, expected[1], "d apple_num"),
                            (dtax, expected[2], "d tax")]:
        try:
            expect_close(got, want, tr("buy apple: {what}", what=what))
        except Failure as exc:
            # The single-layer cases passed, so a wrong chain points at state shared between objects.
            raise Failure(_replace_hint(str(exc), state_hint)) from None


# ----------------------------------------------------------------------------- add

_ADD_HINTS = mistakes.ADD_RATIOS


def _add_diagnose(x, y, dout, dx, dy, shape):
    return mistakes.add_layer(x, y, dout, dx, dy)


@hidden_check
def check_add_layer(AddLayer):
    """AddLayer: forward(x, y) = x + y; backward(dout) -> (dx, dy); then the add node of buy_apple_orange."""
    __tracebackhide__ = True
    _check_cases(AddLayer, "AddLayer", lambda x, y: x + y, "out = x + y",
                 grad_hints={"dx": _ADD_HINTS, "dy": _ADD_HINTS}, diagnose=_add_diagnose)

    # buy_apple_orange: price = (apple_price + orange_price) * tax; only the add node is the student's here.
    apple_price, orange_price = APPLE * APPLE_NUM, ORANGE * ORANGE_NUM
    layer = call(AddLayer, what="creating AddLayer")
    all_price = call(layer.forward, apple_price, orange_price,
                     what="add_apple_orange_layer.forward(apple_price, orange_price)")
    expect_close(all_price, apple_price + orange_price, tr("buy apple and orange: all_price"))
    expect_close(all_price * TAX, (apple_price + orange_price) * TAX, tr("buy apple and orange: price"))
    # Upstream gradient and expected gradients: central differences of the formula.
    dall_price = float(num_vjp(lambda s: s * TAX, np.float64(apple_price + orange_price), np.float64(1.0)))
    expected = num_vjp(lambda v: (v[0] + v[1]) * TAX, np.array([apple_price, orange_price], dtype=np.float64),
                       np.float64(1.0))
    grads = call(layer.backward, dall_price, what="add_apple_orange_layer.backward(dall_price)")
    expect_true(isinstance(grads, (tuple, list)) and len(grads) == 2,
                tr("buy apple and orange: backward should return (dapple_price, dorange_price), got {got!r:.80}.",
                   got=grads))
    expect_close(grads[0], expected[0], tr("buy apple and orange: d apple_price"), hints=_ADD_HINTS)
    expect_close(grads[1], expected[1], tr("buy apple and orange: d orange_price"), hints=_ADD_HINTS)


# ----------------------------------------------------------------------------- max

def _max_diagnose(x, y, dout, dx, dy, shape):
    return mistakes.max_layer(x, y, dout, dx, dy)


@hidden_check
def check_max_layer(MaxLayer):
    """MaxLayer: elementwise maximum; backward routes dout to the larger input and leaves dout unchanged."""
    __tracebackhide__ = True
    try:
        _check_cases(MaxLayer, "MaxLayer", np.maximum, "out = max(x, y)", apart=True,
                     diagnose=_max_diagnose)
    except Failure as exc:
        if "truth value of an array" in str(exc):
            raise Failure(_replace_hint(str(exc), mistakes.MAX_OF_ARRAYS)) from None
        raise

    # An add node may hand the very same dout array to two branches, so backward must not write into it.
    x, y = _pair("MaxLayer in place", (3, 4), apart=True)
    dout = rng("MaxLayer in place dout").standard_normal((3, 4))
    layer = call(MaxLayer, what="creating MaxLayer")
    call(layer.forward, x.copy(), y.copy(), what="MaxLayer.forward")
    given = dout.copy()
    call(layer.backward, given, what="MaxLayer.backward")
    expect_true(np.array_equal(given, dout),
                tr("MaxLayer.backward changed the dout array it was given. Build new arrays for dx and dy "
                   "(e.g. dout * mask) instead of writing zeros into dout: upstream, the same array may also "
                   "be used by another branch."))
