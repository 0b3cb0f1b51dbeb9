"""Hidden tests for notebook 05: cs231n's q = Wx, f = Σq² example, the Affine layer, and the planted bug in
``Linear`` (a transposed dW on a square W).

Forward values are compared with the formula the notebook states, x.reshape(N, -1) @ W + b.
dx, dW and db are compared with central differences of that same formula (our own float64
evaluation of it), not of the student's forward: the student's code is only ever asked for
values at the points the check looks at, so a forward that answers differently next to those
points cannot move the reference, and a correct backward earns its points even when the
forward (graded in its own cell) is wrong. Student values go to ``expect_close`` as returned,
so their dtype sets the tolerance. The messages name shapes, never the backward formulas: deriving them is
the exercise (the notebook's staged hints go from a nudge to the shapes to the formula).
"""

from __future__ import annotations

import numpy as np

from bpcourse import mistakes
from bpcourse.i18n import N_, tr

from ._core import (
    Failure,
    _as_array,
    as_number,
    call,
    expect_close,
    expect_true,
    hidden_check,
    kind,
    num_vjp,
    replace_hint,
    rng,
)

__all__ = ["check_vectorized_example", "check_affine_forward", "check_affine_backward", "check_affine",
           "check_linear"]

# ---- cs231n's example: q = W·x, f = sum of q² (W of shape (M, D), x of D numbers) ----------------------

SEED_W, SEED_X = [[0.1, 0.5], [-0.3, 0.8]], [0.2, 0.4]


def _vec_f(W, x) -> float:
    """f = Σ_i q_i² with q = W·x, as the notebook states it."""
    return float(np.sum((W @ x) ** 2))


def _vec_cases():
    """The seed's W and x, then square and non-square ones of our own (the seed's numbers alone pass nothing)."""
    g = rng("nb05.vectorized_example")
    yield np.array(SEED_W), np.array(SEED_X)
    for m, d in ((3, 3), (3, 2), (2, 4), (1, 3)):
        yield g.standard_normal((m, d)), g.standard_normal(d)


def _call(fn, *args, what: str, shown: str):
    """``call`` with the transcript keyed by ``what``, an English name that is the same in every edition (a record
    made in a Korean kernel must replay in the grading process whatever language that one uses); a failure names
    the call ``shown``, its description in the language in use."""
    __tracebackhide__ = True
    try:
        return call(fn, *args, what=what)
    except Failure as exc:
        if shown == what:
            raise
        raise Failure(str(exc).replace(what, shown, 1)) from None


def _graded(got, numeric, what: str, hint: str | None, **kw) -> None:
    """expect_close against a numerical gradient; a recognised mistake's hint replaces the generic one."""
    __tracebackhide__ = True
    try:
        expect_close(got, numeric, what, rtol=1e-4, atol=1e-6, **kw)
    except Failure as exc:
        raise (Failure(replace_hint(str(exc), tr(hint))) if hint else exc) from None


@hidden_check
def check_vectorized_example(vectorized_example) -> None:
    """q and f against the formula; ∂f/∂W and ∂f/∂x against central differences of that formula."""
    __tracebackhide__ = True
    for W, x in _vec_cases():
        (m, d), q_right = W.shape, W @ x
        # key names the call in the transcript: English in every edition (see _call); what is what a student reads
        key = f"vectorized_example(W, x) with W of shape {W.shape}, x of shape {x.shape}"
        what = tr("vectorized_example(W, x) with W of shape {W_shape}, x of shape {x_shape}",
                  W_shape=W.shape, x_shape=x.shape)
        result = _call(vectorized_example, W.copy(), x.copy(), what=key, shown=what)
        if isinstance(result, (tuple, list)):
            expect_true(len(result) == 4, tr("{what} should return (q, f, dW, dx), got {kind} of length {length}.",
                                             what=what, kind=kind(result), length=len(result)))
        else:
            expect_true(False, tr("{what} should return (q, f, dW, dx), got {kind}.", what=what, kind=kind(result)))
        q, f, dW, dx = result
        expect_close(q, q_right, tr("{what}: q (should be W·x)", what=what),
                     shape_hint=tr("q = W·x has one number per row of W: shape ({m},).", m=m))
        as_number(f, f"{what}: f")
        expect_close(np.asarray(f).reshape(()), _vec_f(W, x), tr("{what}: f (should be the sum of q²)", what=what))
        num_W = num_vjp(lambda w, x=x: _vec_f(w, x), W, np.float64(1.0))
        num_x = num_vjp(lambda v, W=W: _vec_f(W, v), x, np.float64(1.0))
        for value, name in ((dW, "dW"), (dx, "dx")):
            expect_true(value is not None,
                        tr("{what}: {name} is None: did you forget to compute or return it?", what=what, name=name))
        try:
            hint = mistakes.vectorized_example(W, x, dW, dx, num_W, num_x)
        except (TypeError, ValueError):  # not numbers: the comparison below says so
            hint = None
        _graded(dW, num_W, tr("{what}: dW, that is ∂f/∂W (checked against numerical gradients of Σ (W·x)²)",
                              what=what), hint,
                shape_hint=tr("∂f/∂W has the shape of W, ({m}, {d}): one entry per weight.", m=m, d=d))
        _graded(dx, num_x, tr("{what}: dx, that is ∂f/∂x (checked against numerical gradients of Σ (W·x)²)",
                              what=what), hint,
                shape_hint=tr("∂f/∂x has the shape of x, ({d},): one entry per input.", d=d))


# (input shape, number of outputs M): a batch, a batch of one, and image-like 4-d input
# whose D = c*h*w; W is never square so a transpose in the wrong place cannot hide.
_CASES = [((5, 4), 3), ((1, 4), 3), ((3, 2, 3, 2), 5)]

_FLATTEN = N_("flatten the input to (N, D) first, e.g. x.reshape(x.shape[0], -1), and remember x.shape "
              "for backward.")
_COPIED = N_("keep a reference to the arrays you are given (self.W = W, self.b = b); don't copy them "
             "(W.copy(), np.array(W), W.astype(...)). The training loop updates W and b in place and the "
             "layer must see the new values.")


def _data(seed: str):
    g = rng(seed)
    for shape, m in _CASES:
        d = int(np.prod(shape[1:]))
        yield (g.standard_normal(shape), g.standard_normal((d, m)), g.standard_normal(m),
               g.standard_normal((shape[0], m)))


def _formula(x, W, b):
    return x.reshape(x.shape[0], -1) @ W + b


def _numeric(x, W, b, dout, wrt: str, formula=None) -> np.ndarray:
    """Central differences of sum(formula(x, W, b) * dout) with respect to x, W or b (float64, ours);
    the formula is Affine's unless another (Linear's) is given."""
    x, W, b = (np.asarray(a, dtype=np.float64) for a in (x, W, b))
    formula = formula or _formula
    if wrt == "x":
        return num_vjp(lambda z: formula(z, W, b), x, dout)
    if wrt == "W":
        return num_vjp(lambda w: formula(x, w, b), W, dout)
    return num_vjp(lambda c: formula(x, W, c), b, dout)


def _forward(layer, x, what="Affine.forward", shown="Affine.forward"):
    """Run forward on x itself (callers keep their own copy to compare); explain flattening for N-d input.
    ``what`` names the call in the transcript (English), ``shown`` in messages."""
    __tracebackhide__ = True
    shape = x.shape
    try:
        return _call(layer.forward, x, what=f"{what} on an input of shape {shape}",
                     shown=tr("{what} on an input of shape {shape}", what=shown, shape=shape))
    except Failure as exc:
        if len(shape) > 2:
            raise Failure(tr("{message}\nHint: {hint}", message=exc, hint=tr(_FLATTEN))) from None
        raise


def _make(Affine, W, b):
    __tracebackhide__ = True
    return _call(Affine, W, b, what=f"Affine(W, b) with W of shape {W.shape} and b of shape {b.shape}",
                 shown=tr("Affine(W, b) with W of shape {W_shape} and b of shape {b_shape}",
                          W_shape=W.shape, b_shape=b.shape))


def _grad_attr(layer, name: str, shape) -> np.ndarray:
    __tracebackhide__ = True
    has, value = _call(lambda: (hasattr(layer, name), getattr(layer, name, None)), what=f"reading self.{name}",
                       shown=tr("reading self.{name}", name=name))
    expect_true(has, tr("after backward the layer has no attribute {name}: backward must set self.{name}, "
                        "the gradient of the loss with respect to {param} (shape {shape}).",
                        name=name, param=name[1:], shape=shape))
    expect_true(value is not None, tr("after backward, self.{name} is None: backward must set it.", name=name))
    return value


@hidden_check
def check_affine_forward(Affine) -> None:
    """Forward values and shape on batches and N-d input; W and b held by reference; inputs untouched."""
    __tracebackhide__ = True
    for x, W, b, _ in _data("nb05.affine_forward"):
        x0, W0, b0 = x.copy(), W.copy(), b.copy()
        layer = _make(Affine, W, b)
        out = _forward(layer, x)
        expected = _formula(x0, W0, b0)
        what = tr("Affine.forward output for an input of shape {shape}", shape=x.shape)
        expect_true(out is not None, tr("Affine.forward returned None for an input of shape {shape}; "
                                        "it should return x·W + b, of shape {out_shape}.",
                                        shape=x.shape, out_shape=expected.shape))
        got = _as_array(out, what)
        if got.shape == expected.shape and np.allclose(got, expected - b0):
            raise Failure(tr("{what} is x·W without the bias.\nHint: add b (it broadcasts over the rows).",
                             what=what))
        expect_close(out, expected, what,
                     shape_hint=tr("the output has one row per sample and one column per column of W: (N, M) = "
                                   "{shape}.", shape=expected.shape) + (" " + tr(_FLATTEN) if x.ndim > 2 else ""))
        expect_true(x.shape == x0.shape and np.array_equal(x, x0),
                    tr("Affine.forward changed the caller's input x (shape {shape}): reshape into a new "
                       "variable (x.reshape returns a new view) instead of assigning to x.shape or writing "
                       "into x.", shape=x0.shape))
        expect_true(np.array_equal(W, W0) and np.array_equal(b, b0),
                    tr("Affine.forward changed W or b: forward must only read the parameters."))

        # The training loop does W -= lr * dW in place: the layer must see the new numbers.
        for name, param in (("W", W), ("b", b)):
            before = _formula(x0, W, b)
            param -= 0.5 * rng(f"nb05.update_{name}").standard_normal(param.shape)
            what = tr("Affine.forward after {name} was updated in place", name=name)
            out = _forward(layer, x, what=f"Affine.forward after {name} was updated in place", shown=what)
            got = _as_array(out, tr("{what}: the output", what=what))
            if got.shape == before.shape and np.allclose(got, before):
                raise Failure(tr("Affine.forward still uses the old {name} after the caller updated {name} in "
                                 "place ({name} -= lr * d{name}).\nHint: {hint}", name=name, hint=tr(_COPIED)))
            expect_close(out, _formula(x0, W, b), tr("{what}: the output", what=what))


def _check_dx(dx, x, numeric) -> None:
    __tracebackhide__ = True
    what = tr("Affine.backward: dx for an input of shape {shape} "
              "(checked against numerical gradients of x·W + b)", shape=x.shape)
    expect_true(dx is not None, tr("Affine.backward returned None: it should return dx, the gradient with "
                                   "respect to the input, shaped like the input {shape}.", shape=x.shape))
    got = _as_array(dx, "dx")
    if got.shape != x.shape:
        if got.size == x.size and np.allclose(got.reshape(x.shape), numeric, rtol=1e-4, atol=1e-6):
            raise Failure(tr("{what} has shape {got}, expected {expected}; the numbers are right.\n"
                             "Hint: reshape dx back to the input's shape (remember x.shape in forward).",
                             what=what, got=got.shape, expected=x.shape))
        raise Failure(tr("{what} has shape {got}, expected {expected} (the input's shape).\n"
                         "Hint: combine dout (N, M) with W (D, M) into an (N, D) array, then reshape it back "
                         "to the input's shape.", what=what, got=got.shape, expected=x.shape))
    expect_close(dx, numeric, what, rtol=1e-4, atol=1e-6)


@hidden_check
def check_affine_backward(Affine) -> None:
    """dx, dW, db against numerical VJPs of x.reshape(N, -1) @ W + b; their shapes; db summed, not averaged.

    The student's forward runs once per case (backward needs what it saved) but its output is not
    graded here: check_affine_forward does that, in its own test cell.
    """
    __tracebackhide__ = True
    for x, W, b, dout in _data("nb05.affine_backward"):
        n, (d, m) = x.shape[0], W.shape
        x0, W0, b0 = x.copy(), W.copy(), b.copy()
        layer = _make(Affine, W, b)
        _forward(layer, x)
        flat = tr(" (flattened ({n}, {d}))", n=n, d=d) if x0.ndim > 2 else ""
        shapes = tr("Shapes here: x {x_shape}{flat}, W {W_shape}, b {b_shape}, dout {dout_shape}; dx must come "
                    "out shaped like x, dW like W, db like b (see Hint 2 at the exercise).",
                    x_shape=x0.shape, flat=flat, W_shape=W.shape, b_shape=b.shape, dout_shape=dout.shape)
        try:
            dx = call(layer.backward, dout.copy(), what="Affine.backward")
        except Failure as exc:
            raise Failure(f"{exc}\n{shapes}") from None

        _check_dx(dx, x0, _numeric(x0, W0, b0, dout, "x"))

        dW = _grad_attr(layer, "dW", W.shape)
        expect_close(dW, _numeric(x0, W0, b0, dout, "W"),
                     tr("Affine.backward: self.dW for {n} samples (checked against numerical gradients of "
                        "x·W + b)", n=n),
                     rtol=1e-4, atol=1e-6,
                     hints={1 / n: tr(mistakes.DW_AVERAGED)},
                     shape_hint=tr("dW must have the shape of W, (D, M) = {W_shape}, built from x flattened to "
                                   "({n}, {d}) and dout {dout_shape}.", W_shape=W.shape, n=n, d=d,
                                   dout_shape=dout.shape)
                     + (" " + tr(mistakes.DW_TRANSPOSED) if np.shape(dW) == (m, d) else ""))

        db = _grad_attr(layer, "db", b.shape)
        if np.shape(db) == (n, m) and n > 1:
            summed = " " + tr(mistakes.DB_NOT_SUMMED)
        elif np.size(db) == m:
            summed = " " + tr(mistakes.DB_NOT_FLAT)
        else:
            summed = ""
        expect_close(db, _numeric(x0, W0, b0, dout, "b"),
                     tr("Affine.backward: self.db for {n} samples (checked against numerical gradients of "
                        "x·W + b)", n=n),
                     rtol=1e-4, atol=1e-6, hints={1 / n: tr(mistakes.DB_AVERAGED)},
                     shape_hint=tr("db must have the shape of b, (M,) = {b_shape}.", b_shape=b.shape) + summed)

        expect_true(np.array_equal(x, x0) and np.array_equal(W, W0) and np.array_equal(b, b0),
                    tr("Affine.backward changed the caller's x, W or b: backward must only read them."))

    # A second backward on the same layer must replace dW and db, not add to them: after dout and then
    # 2 * dout they must be the numerical gradients of the formula for 2 * dout alone.
    x, W, b, dout = next(_data("nb05.affine_twice"))
    x0, W0, b0 = x.copy(), W.copy(), b.copy()
    layer = _make(Affine, W, b)
    _forward(layer, x)
    call(layer.backward, dout.copy(), what="Affine.backward")
    _call(layer.backward, 2 * dout, what="Affine.backward (called a second time)",
          shown=tr("Affine.backward (called a second time)"))
    for name, wrt, shape in (("dW", "W", W0.shape), ("db", "b", b0.shape)):
        value = _grad_attr(layer, name, shape)
        got = _as_array(value, f"self.{name}")
        want = _numeric(x0, W0, b0, 2 * dout, wrt)
        if got.shape == want.shape and np.allclose(got, 1.5 * want) and not np.allclose(got, want):
            raise Failure(tr("after two backward calls, self.{name} holds the sum of both gradients.\n"
                             "Hint: {hint}", name=name, hint=tr(mistakes.GRADS_ACCUMULATED, name=name)))
        expect_close(value, want, tr("self.{name} after a second backward call with a new dout "
                                     "(checked against numerical gradients of x·W + b for that dout alone)",
                                     name=name),
                     rtol=1e-4, atol=1e-6)


@hidden_check
def check_affine(Affine) -> None:
    """Both checks, forward first."""
    __tracebackhide__ = True
    check_affine_forward(Affine)
    check_affine_backward(Affine)


# ---- find the planted bug: Linear, out = x·Wᵀ + b with W of shape (M, D) -----------------------------------

# (input shape, M): the square cases come first, where the planted transpose keeps W's shape.
_LINEAR_CASES = [((4, 2), 2), ((3, 3), 3), ((1, 3), 3), ((5, 4), 3)]


def _linear_formula(x, W, b):
    return x @ W.T + b


@hidden_check
def check_linear(Linear) -> None:
    """Forward against x·Wᵀ + b; dx, dW and db against central differences of that formula, square W first."""
    __tracebackhide__ = True
    g = rng("nb05.linear")
    for shape, m in _LINEAR_CASES:
        x, W = g.standard_normal(shape), g.standard_normal((m, shape[1]))
        b, dout = g.standard_normal(m), g.standard_normal((shape[0], m))
        layer = _call(Linear, W.copy(), b.copy(), what=f"Linear(W, b) with W of shape {W.shape}, b of shape {b.shape}",
                      shown=tr("Linear(W, b) with W of shape {W_shape}, b of shape {b_shape}",
                               W_shape=W.shape, b_shape=b.shape))
        out = _call(layer.forward, x.copy(), what=f"Linear.forward on an input of shape {x.shape}",
                    shown=tr("{what} on an input of shape {shape}", what="Linear.forward", shape=x.shape))
        expect_close(out, _linear_formula(x, W, b), tr("Linear.forward output for x of shape {shape} (should be "
                     "x·Wᵀ + b: the forward was right as given)", shape=x.shape))
        dx = call(layer.backward, dout.copy(), what="Linear.backward")
        about = tr("for x of shape {x_shape} and W of shape {W_shape} (checked against numerical gradients of "
                   "x·Wᵀ + b)", x_shape=x.shape, W_shape=W.shape)
        expect_true(dx is not None, tr("Linear.backward returned None: it should return dx, shaped like x."))
        expect_close(dx, _numeric(x, W, b, dout, "x", _linear_formula), f"Linear.backward: dx {about}",
                     rtol=1e-4, atol=1e-6)
        dW = _grad_attr(layer, "dW", W.shape)
        num_W = _numeric(x, W, b, dout, "W", _linear_formula)
        _graded(dW, num_W, f"Linear.backward: self.dW {about}",
                mistakes.transposed(dW, num_W, mistakes.LINEAR_DW_TRANSPOSED),
                shape_hint=tr("dW must have the shape of W, (M, D) = {W_shape}.", W_shape=W.shape))
        db = _grad_attr(layer, "db", b.shape)
        expect_close(db, _numeric(x, W, b, dout, "b", _linear_formula), f"Linear.backward: self.db {about}",
                     rtol=1e-4, atol=1e-6)
