"""The hidden checks of notebook 02 pass correct code in several styles and explain wrong code."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from grader_tests import nb02
from grader_tests._core import Failure


def failure_message(check, *args) -> str:
    with pytest.raises(Failure) as info:
        check(*args)
    return str(info.value)


# ---- exercise 1: numerical_diff -----------------------------------------------------------------------

def diff_central(f, x, h=1e-4):
    return (f(x + h) - f(x - h)) / (2 * h)


def diff_central_numpy(f, x, h=1e-4):
    x = np.float64(x)
    left, right = f(x - h), f(x + h)
    return np.divide(np.subtract(right, left), 2.0 * h)


def diff_forward(f, x, h=1e-4):
    return (f(x + h) - f(x)) / h


def diff_tiny_h(f, x, h=1e-50):
    return (f(x + h) - f(x - h)) / (2 * h)


def diff_fixed_h(f, x, h=1e-4):
    return (f(x + 1e-4) - f(x - 1e-4)) / 2e-4


def diff_no_half(f, x, h=1e-4):
    return (f(x + h) - f(x - h)) / h


@pytest.mark.parametrize("impl", [diff_central, diff_central_numpy])
def test_numerical_diff_accepts_correct_styles(impl):
    nb02.check_numerical_diff(impl)


@pytest.mark.parametrize("impl, words", [
    (diff_forward, "forward difference"),
    (diff_tiny_h, "x + h == x"),
    (diff_fixed_h, "use the h argument"),
    (diff_no_half, "divide by 2h"),
])
def test_numerical_diff_explains_wrong_code(impl, words):
    message = failure_message(nb02.check_numerical_diff, impl)
    assert "numerical_diff(f," in message and words in message, message


def test_forward_difference_is_within_reach_of_the_tolerance_only_when_central():
    # The premise of the check: on every test function the forward error is far above RTOL,
    # the central one far below.
    for _, f, df, (lo, hi) in nb02.FUNCTIONS:
        for x in np.linspace(lo, hi, 7):
            assert abs(diff_forward(f, x) - df(x)) > 10 * nb02.RTOL * abs(df(x))
            assert abs(diff_central(f, x) - df(x)) < 0.1 * nb02.RTOL * abs(df(x))


def test_numerical_diff_int_x_breaking_code_fails():
    def int_only(f, x, h=1e-4):
        x = np.array(x)  # keeps an int dtype, so the in-place step below truncates h away
        x += np.array(h).astype(x.dtype)
        up = f(x)
        x -= 2 * np.array(h).astype(x.dtype)
        return (up - f(x)) / (2 * h)
    message = failure_message(nb02.check_numerical_diff, int_only)
    assert "numerical_diff(f, 2) with an int x" in message or "numerical_diff(f," in message, message


def test_not_implemented_is_reported():
    def stub(*args, **kwargs):
        raise NotImplementedError()
    assert "not implemented yet" in failure_message(nb02.check_numerical_diff, stub)


# ---- exercise 2: dz_dx, dz_dy -------------------------------------------------------------------------

def dz_dx_staged(x, y):
    t = x + y
    dz_dt = 2 * t
    dt_dx = 1
    return dz_dt * dt_dx


def dz_dy_staged(x, y):
    t = x + y
    return 2 * t * 1


def dz_dx_numpy(x, y):
    return np.multiply(2.0, np.add(x, y))


def dz_dy_array(x, y):
    return np.array(2.0 * (x + y))  # a 0-d array is a number too


@pytest.mark.parametrize("dx, dy", [(dz_dx_staged, dz_dy_staged), (dz_dx_numpy, dz_dy_array)])
def test_chain_rule_accepts_correct_styles(dx, dy):
    nb02.check_chain_rule(dx, dy)


def test_chain_rule_missing_factor_two():
    message = failure_message(nb02.check_chain_rule, lambda x, y: x + y, dz_dy_staged)
    assert message.startswith("dz_dx(") and "factor 2 is missing" in message, message


def test_chain_rule_wrong_dz_dy_is_named():
    message = failure_message(nb02.check_chain_rule, dz_dx_staged, lambda x, y: 2 * y)
    assert message.startswith("dz_dy(") and "expected" in message, message


def test_chain_rule_both_from_one_function_is_explained():
    message = failure_message(nb02.check_chain_rule, lambda x, y: (2 * (x + y), 2 * (x + y)), dz_dy_staged)
    assert "has shape (2,)" in message and "one number" in message, message


# ---- exercise 3: the circuit f = (x + y) z ------------------------------------------------------------

def circuit_staged(x, y, z):
    q = x + y
    f = q * z
    df = 1.0
    dq, dz = z * df, q * df
    dx, dy = 1.0 * dq, 1.0 * dq
    return f, (dx, dy, dz)


def circuit_numpy(x, y, z):
    q = np.add(x, y)
    f = np.multiply(q, z)
    return np.float64(f), np.array([z, z, q], dtype=float)


def circuit_lists(x, y, z):
    q = x + y
    return [q * z, [z, z, q]]


@pytest.mark.parametrize("impl", [circuit_staged, circuit_numpy, circuit_lists])
def test_circuit_accepts_correct_styles(impl):
    nb02.check_circuit(impl)


def test_circuit_unswapped_mul_gate():
    def unswapped(x, y, z):
        q = x + y
        dq, dz = q * 1.0, z * 1.0  # each input gets its own value: the classic slip
        return q * z, (dq, dq, dz)
    message = failure_message(nb02.check_circuit, unswapped)
    assert "dfdx" in message and "swaps its inputs" in message, message


def test_circuit_wrong_forward_is_named():
    message = failure_message(nb02.check_circuit, lambda x, y, z: (x + y + z, (1, 1, 1)))
    assert "f (should be (x + y) * z)" in message, message


def test_circuit_wrong_return_shape():
    message = failure_message(nb02.check_circuit, lambda x, y, z: ((x + y) * z, z, z, x + y))
    assert "should return (f, (dfdx, dfdy, dfdz))" in message, message


# ---- exercise 4: the sigmoid gate ---------------------------------------------------------------------

def sigmoid_staged(w, x, neg_local=-1.0, swap=True):
    w0, w1, w2 = w
    x0, x1 = x
    a, b = w0 * x0, w1 * x1
    c = a + b
    s = c + w2
    n = s * -1
    e = math.exp(n)
    d = e + 1
    f = 1 / d
    dd = -1 / d ** 2
    de = dd
    dn = e * de
    ds = neg_local * dn
    dc = dw2 = ds
    da = db = dc
    if swap:
        dw0, dx0, dw1, dx1 = x0 * da, w0 * da, x1 * db, w1 * db
    else:
        dw0, dx0, dw1, dx1 = w0 * da, x0 * da, w1 * db, x1 * db
    return f, (dw0, dw1, dw2), [dx0, dx1]


def sigmoid_numpy(w, x):
    w, x = np.asarray(w, dtype=float), np.asarray(x, dtype=float)
    s = np.dot(w[:2], x) + w[2]
    e = np.exp(-s)
    f = np.reciprocal(1.0 + e)
    ds = (-1.0) * (-(1.0 + e) ** -2.0) * e  # 1/x node, then +1, then exp, then *-1
    return f, np.append(x * ds, ds), w[:2] * ds


@pytest.mark.parametrize("impl", [sigmoid_staged, sigmoid_numpy])
def test_sigmoid_gate_accepts_correct_styles(impl):
    nb02.check_sigmoid_gate(impl)


def test_sigmoid_gate_sign_error_in_neg_node():
    message = failure_message(nb02.check_sigmoid_gate, lambda w, x: sigmoid_staged(w, x, neg_local=1.0))
    assert "dw" in message and "*-1 node" in message, message


def test_sigmoid_gate_unswapped_mul_gate():
    message = failure_message(nb02.check_sigmoid_gate, lambda w, x: sigmoid_staged(w, x, swap=False))
    assert "dw" in message and "swap their inputs" in message, message


def test_sigmoid_gate_overflowing_code_fails_on_large_inputs():
    def via_exp_plus(w, x):
        # exp(s) / (1 + exp(s)) is the same function on paper, but inf / inf for large positive s.
        w, x = np.asarray(w), np.asarray(x)
        s = w[0] * x[0] + w[1] * x[1] + w[2]
        f = np.exp(s) / (1 + np.exp(s))
        ds = f * (1 - f)
        return f, [x[0] * ds, x[1] * ds, ds], [w[0] * ds, w[1] * ds]
    message = failure_message(nb02.check_sigmoid_gate, via_exp_plus)
    assert "f (should be" in message and "inf or nan" in message, message


def test_sigmoid_gate_wrong_lengths():
    message = failure_message(nb02.check_sigmoid_gate, lambda w, x: (0.5, [0, 0], [0, 0]))
    assert "dw should hold 3 numbers" in message, message


def test_forgotten_return_is_named():
    message = failure_message(nb02.check_sigmoid_gate, lambda w, x: (None, [0, 0, 0], [0, 0]))
    assert "f is None" in message, message
    assert "None" in failure_message(nb02.check_numerical_diff, lambda f, x, h=1e-4: None)


# ---- exercise 5: the planted bug in swish_gate ----------------------------------------------------------

def _course_cell(kind: str, grade_id: str) -> str:
    import nbformat
    from conftest import REPO

    nb = nbformat.read(REPO / kind / "02_chain_rule" / "02_chain_rule.ipynb", as_version=4)
    (source,) = [c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    return source


def _swish_from(kind: str):
    """swish_gate as the notebook's cell defines it: the planted release (course/) or the fix (solutions/)."""
    names = {"np": np}
    exec(_course_cell(kind, "swish_gate"), names)
    return names["swish_gate"]


def swish_staged(w, x, b, keep="both"):
    """The notebook's staging; keep="s" or "f" keeps only the share of x through that node (overwritten)."""
    s = w * x
    g = 1 / (1 + np.exp(-(s + b)))
    f = x * g
    dx_f = g * 1.0
    du = g * (1 - g) * x
    dw, db = x * du, du
    dx_s = w * du
    dx = {"both": dx_f + dx_s, "s": dx_s, "f": dx_f}[keep]
    return f, (dw, dx, db)


def swish_closed_form(w, x, b):
    g = 1 / (1 + math.exp(-(w * x + b)))
    return x * g, [x * x * g * (1 - g), g + w * x * g * (1 - g), x * g * (1 - g)]


def swish_float32(w, x, b):
    w, x, b = np.float32(w), np.float32(x), np.float32(b)
    f, grads = swish_staged(w, x, b)
    return np.float32(f), np.array(grads, dtype=np.float32)


def swish_grad_table(w, x, b):
    """A dict of gradients, filled with += as in notebook 01, returned as a tuple."""
    g = 1 / (1 + np.exp(-(w * x + b)))
    grad = {"f": 1.0, "g": 0.0, "u": 0.0, "s": 0.0, "w": 0.0, "x": 0.0, "b": 0.0}
    grad["x"] += g * grad["f"]
    grad["g"] += x * grad["f"]
    grad["u"] += g * (1 - g) * grad["g"]
    grad["s"] += grad["u"]
    grad["b"] += grad["u"]
    grad["w"] += x * grad["s"]
    grad["x"] += w * grad["s"]
    return x * g, (grad["w"], grad["x"], grad["b"])


@pytest.mark.parametrize("impl", [swish_staged, swish_closed_form, swish_float32, swish_grad_table])
def test_swish_gate_accepts_correct_styles(impl):
    nb02.check_swish_gate(impl)


@pytest.mark.parametrize("keep", ["s", "f"])
def test_swish_gate_overwritten_share_is_named(keep):
    message = failure_message(nb02.check_swish_gate, lambda w, x, b: swish_staged(w, x, b, keep=keep))
    assert message.startswith("swish_gate(0.5, 2, -0.5): dfdx (checked against numerical gradients"), message
    assert "its gradient is the SUM" in message and "'x' feeds 2 edges" in message, message


def test_the_released_planted_code_fails_and_the_fix_passes():
    # The release hands out the code with the mistake in it: it must fail this check, with the hint.
    message = failure_message(nb02.check_swish_gate, _swish_from("course"))
    assert "dfdx" in message and "gradients add at branches" in message, message
    nb02.check_swish_gate(_swish_from("solutions"))
    assert "# planted:" not in _course_cell("course", "swish_gate")


def test_swish_gate_other_mistakes_fail_without_the_branch_hint():
    wrong_sign = lambda w, x, b: (lambda f, g: (f, (g[0], -g[1], g[2])))(*swish_staged(w, x, b))  # noqa: E731
    message = failure_message(nb02.check_swish_gate, wrong_sign)
    assert "dfdx" in message and "wrong sign" in message and "SUM" not in message, message
    wrong_f = lambda w, x, b: (lambda f, g: (f + 1.0, g))(*swish_staged(w, x, b))  # noqa: E731
    assert "f (should be x * sigmoid(w*x + b))" in failure_message(nb02.check_swish_gate, wrong_f)
    message = failure_message(nb02.check_swish_gate, lambda w, x, b: (1.0, (0.0, 0.0)))
    assert "should hold 3 numbers" in message, message


# ---- all checks ---------------------------------------------------------------------------------------

def test_checks_are_deterministic():
    wrong = lambda w, x: sigmoid_staged(w, x, neg_local=1.0)  # noqa: E731
    assert failure_message(nb02.check_sigmoid_gate, wrong) == failure_message(nb02.check_sigmoid_gate, wrong)
    assert failure_message(nb02.check_numerical_diff, diff_forward) == \
        failure_message(nb02.check_numerical_diff, diff_forward)


def test_seed_answers_typed_in_do_not_pass():
    # Right at the lecture's point, wrong everywhere else: the random points catch it.
    typed_circuit = lambda x, y, z: (-12, (-4, -4, 3))  # noqa: E731
    assert "circuit_forward_backward(" in failure_message(nb02.check_circuit, typed_circuit)
    typed = lambda w, x: (0.73, [-0.2, -0.39, 0.2], [0.39, -0.59])  # noqa: E731
    assert "sigmoid_gate(" in failure_message(nb02.check_sigmoid_gate, typed)
    assert "dz_dx(" in failure_message(nb02.check_chain_rule, lambda x, y: 4.0, lambda x, y: 4.0)


# ---- the reference cannot be steered by the forward ---------------------------------------------------
#
# A steering function is right at every point it is first given, so its f passes. At a one-value nudge of a
# point it has seen, or when a differentiation routine of the grader is on the call stack, its f has
# `factor` times the true slope, and the gradients it returns claim exactly that. Graded against central
# differences of the student's f, it got full marks.

def _one_value_nudge(seen, now) -> bool:
    """Whether the numbers `now` equal `seen` except for one, moved by less than 1e-3."""
    seen, now = np.ravel(np.asarray(seen, dtype=float)), np.ravel(np.asarray(now, dtype=float))
    if seen.shape != now.shape:
        return False
    moved = np.abs(seen - now)
    return int(np.count_nonzero(moved)) == 1 and float(moved.max()) < 1e-3


def _differentiating() -> bool:
    """Whether one of the grader's functions that looks like a numerical differentiation is calling us."""
    import inspect
    names = [frame.function.lower() for frame in inspect.stack()[2:] if "grader_tests" in frame.filename]
    return any(word in name for name in names for word in ("num", "grad", "vjp")
               if not name.startswith("check_"))


def steering(correct, pack, detector: str, factor: float):
    """`correct(*args)` -> (f, gradients as one flat array); `pack(f, grads)` makes the exercise's result."""
    memory = []

    def impl(*args):
        point = np.concatenate([np.ravel(np.asarray(a, dtype=float)) for a in args])
        f, grads = correct(*args)
        if detector == "stack":
            if _differentiating():
                f = factor * f
        else:
            for seen, f_seen in memory:
                if _one_value_nudge(seen, point):
                    f = f_seen + factor * (f - f_seen)
                    break
            else:
                memory.append((point, f))
        return pack(f, factor * np.asarray(grads, dtype=float))

    return impl


def _circuit_parts(x, y, z):
    f, grads = circuit_staged(x, y, z)
    return f, np.array(grads)


def _gate_parts(w, x):
    f, dw, dx = sigmoid_numpy(w, x)
    return f, np.concatenate([dw, dx])


EXERCISES = {
    "circuit": (nb02.check_circuit, _circuit_parts, lambda f, g: (f, tuple(g))),
    "sigmoid_gate": (nb02.check_sigmoid_gate, _gate_parts, lambda f, g: (f, g[:3], g[3:])),
    "swish_gate": (nb02.check_swish_gate, lambda w, x, b: (lambda f, g: (f, np.array(g)))(*swish_staged(w, x, b)),
                   lambda f, g: (f, tuple(g))),
}


@pytest.mark.parametrize("factor", [0.0, 0.5, -1.0])
@pytest.mark.parametrize("detector", ["remembers", "stack"])
@pytest.mark.parametrize("exercise", list(EXERCISES))
def test_a_forward_cannot_steer_the_reference(exercise, detector, factor):
    check, correct, pack = EXERCISES[exercise]
    check(steering(correct, pack, detector, 1.0))  # not steered: a correct submission, and passes
    message = failure_message(check, steering(correct, pack, detector, factor))
    assert "(checked against numerical gradients of" in message and ") is wrong" in message, message


# ---- the default step is the notebook's h = 1e-4 ------------------------------------------------------

def diff_divided_by_distance(f, x, h=1e-4):
    right, left = x + h, x - h
    return (f(right) - f(left)) / (right - left)


def diff_two_halves(f, x, h=1e-4):
    half = h / 2  # two half steps make the whole step h
    return (f(x + 2 * half) - f(x - 2 * half)) / (4 * half)


def diff_mean_of_one_sided(f, x, h=1e-4):
    return 0.5 * ((f(x + h) - f(x)) / h + (f(x) - f(x - h)) / h)


def diff_none_default(f, x, h=None):
    h = 1e-4 if h is None else h
    return (f(x + h) - f(x - h)) / 2 / h


def diff_longdouble(f, x, h=1e-4):
    x, h = np.longdouble(x), np.longdouble(h)
    return (f(x + h) - f(x - h)) / (2 * h)


def diff_0d_array(f, x, h=1e-4):
    return np.array(0.5 * (f(x + h) - f(x - h)) / h)


def diff_float_literal(f, x, h=0.0001):
    return (f(x + h) - f(x - h)) * (0.5 / h)


@pytest.mark.parametrize("impl", [diff_central, diff_central_numpy, diff_divided_by_distance, diff_two_halves,
                                  diff_mean_of_one_sided, diff_none_default, diff_longdouble, diff_0d_array,
                                  diff_float_literal])
def test_numerical_diff_with_the_required_default_step_passes(impl):
    nb02.check_numerical_diff(impl)


def _with_default(h_default):
    def numerical_diff(f, x, h=h_default):
        return (f(x + h) - f(x - h)) / (2 * h)
    return numerical_diff


@pytest.mark.parametrize("h, shown", [(1e-6, "1e-06"), (1e-2, "0.01"), (1e-3, "0.001"), (1e-5, "1e-05"),
                                      (1e-7, "1e-07"), (1.1e-4, "0.00011"), (3e-4, "0.0003")])
def test_numerical_diff_with_another_default_step_fails_and_says_so(h, shown):
    message = failure_message(nb02.check_numerical_diff, _with_default(h))
    assert "default h=1e-4" in message and f"appears to use a step of {shown}:" in message, message


def test_numerical_diff_with_a_step_that_grows_with_x_fails():
    def relative_step(f, x, h=1e-4):
        step = h * max(1.0, abs(x))
        return (f(x + step) - f(x - step)) / (2 * step)
    message = failure_message(nb02.check_numerical_diff, relative_step)
    assert "default h=1e-4" in message and "appears to use a step of 0.0003" in message, message
    assert "change with x" in message, message


def test_numerical_diff_with_half_steps_is_named():
    def half_steps(f, x, h=1e-4):
        return (f(x + h / 2) - f(x - h / 2)) / h
    message = failure_message(nb02.check_numerical_diff, half_steps)
    assert "default h=1e-4" in message and "appears to use a step of 5e-05" in message, message
    assert "steps of h/2" in message, message

    def half_steps_doubled_default(f, x, h=2e-4):  # right at the default, not with the h it is given
        return (f(x + h / 2) - f(x - h / 2)) / h
    message = failure_message(nb02.check_numerical_diff, half_steps_doubled_default)
    assert "numerical_diff(f, 2.0, 0.01)" in message and "steps of h/2" in message, message


def test_numerical_diff_wrong_default_and_wrong_formula_names_the_formula():
    # The formula is the more basic mistake: it is named first.
    message = failure_message(nb02.check_numerical_diff, lambda f, x, h=1e-6: (f(x + h) - f(x - h)) / h)
    assert "divide by 2h" in message, message


def test_numerical_diff_gets_a_fresh_function_on_every_call():
    # What it is handed is its own to change (attributes, even __code__): never one of the grader's functions.
    received = []

    def keeping(f, x, h=1e-4):
        received.append(f)
        return (f(x + h) - f(x - h)) / (2 * h)
    nb02.check_numerical_diff(keeping)
    graders = [f for _, f, _, _ in nb02.FUNCTIONS]
    assert not any(f is g for f in received for g in graders)
    assert len({id(f) for f in received}) == len(received)


# ---- any real number, tolerances by precision; anything else named ------------------------------------

def circuit_float32(x, y, z):
    x, y, z = np.float32(x), np.float32(y), np.float32(z)
    q = x + y
    return q * z, [z, z, q]


def circuit_longdouble(x, y, z):
    x, y, z = np.longdouble(x), np.longdouble(y), np.longdouble(z)
    q = x + y
    return q * z, np.array([z, z, q])


def circuit_numpy_ints(x, y, z):
    f, grads = circuit_staged(x, y, z)
    whole = lambda v: np.int64(v) if float(v).is_integer() else v  # noqa: E731
    return whole(f), tuple(whole(g) for g in grads)


def circuit_fractions(x, y, z):
    f, grads = circuit_staged(x, y, z)
    return Fraction(f), [Fraction(g) for g in grads]


@pytest.mark.parametrize("impl", [circuit_float32, circuit_longdouble, circuit_numpy_ints, circuit_fractions])
def test_circuit_numbers_of_any_real_type_pass(impl):
    nb02.check_circuit(impl)


def sigmoid_float32(w, x):
    w, x = np.asarray(w, dtype=np.float32), np.asarray(x, dtype=np.float32)
    s = w[0] * x[0] + w[1] * x[1] + w[2]
    f = np.float32(1) / (np.float32(1) + np.exp(-s)) if s >= 0 else np.exp(s) / (np.float32(1) + np.exp(s))
    ds = f * (np.float32(1) - f)
    return f, [x[0] * ds, x[1] * ds, ds], [w[0] * ds, w[1] * ds]


def sigmoid_longdouble(w, x):
    f, dw, dx = sigmoid_numpy(w, x)
    return np.longdouble(f), [np.longdouble(v) for v in dw], np.asarray(dx, dtype=np.longdouble)


def sigmoid_float32_mixed(w, x):
    f, dw, dx = sigmoid_numpy(w, x)
    return f, [np.float32(dw[0]), dw[1], dw[2]], dx


@pytest.mark.parametrize("impl", [sigmoid_float32, sigmoid_longdouble, sigmoid_float32_mixed])
def test_sigmoid_gate_numbers_of_any_real_type_pass(impl):
    nb02.check_sigmoid_gate(impl)


@pytest.mark.parametrize("to", [np.float32, np.longdouble, np.int64])
def test_chain_rule_numbers_of_any_real_type_pass(to):
    nb02.check_chain_rule(lambda x, y: to(2 * (x + y)) if to is not np.int64 or float(x + y).is_integer()
                          else 2 * (x + y), dz_dy_staged)


def test_wrong_answers_in_float32_or_longdouble_still_fail():
    def flipped32(w, x):
        f, dw, dx = sigmoid_float32(w, x)
        return f, [-v for v in dw], [-v for v in dx]
    assert "*-1 node" in failure_message(nb02.check_sigmoid_gate, flipped32)
    message = failure_message(nb02.check_chain_rule, lambda x, y: np.longdouble(x + y), dz_dy_staged)
    assert "factor 2 is missing" in message, message
    message = failure_message(nb02.check_circuit, lambda x, y, z: (np.float32((x + y) * z),
                                                                   [np.float32(x + y)] * 2 + [np.float32(z)]))
    assert "swaps its inputs" in message, message
    message = failure_message(nb02.check_numerical_diff,
                              lambda f, x, h=1e-4: np.longdouble(diff_forward(f, x)))
    assert "forward difference" in message, message


def test_strings_and_other_non_numbers_are_named():
    message = failure_message(nb02.check_numerical_diff, lambda f, x, h=1e-4: str(diff_central(f, x, h)))
    assert "numerical_diff(f, 0.5) with f(x) = exp(x) should be a number, got the text '1.64" in message, \
        message
    message = failure_message(nb02.check_chain_rule, lambda x, y: str(2 * (x + y)), dz_dy_staged)
    assert message.startswith("dz_dx(3, -1) should be a number, got the text '4'"), message
    message = failure_message(nb02.check_circuit, lambda x, y, z: ((x + y) * z, (z, str(z), x + y)))
    assert "circuit_forward_backward(-2, 5, -4): dfdy should be a number, got the text '-4'" in message, \
        message
    message = failure_message(nb02.check_circuit, lambda x, y, z: (str((x + y) * z), (z, z, x + y)))
    assert "circuit_forward_backward(-2, 5, -4): f should be a number, got the text" in message, message
    message = failure_message(nb02.check_sigmoid_gate,
                              lambda w, x: (lambda f, dw, dx: (f, dw, [dx[0], None]))(*sigmoid_numpy(w, x)))
    assert "dx[1] should be a number, got None" in message, message
    message = failure_message(nb02.check_sigmoid_gate,
                              lambda w, x: (lambda f, dw, dx: (f, [True, *dw[1:]], dx))(*sigmoid_numpy(w, x)))
    assert "dw[0] should be a number, got a bool" in message, message
    message = failure_message(nb02.check_sigmoid_gate, lambda w, x: (0.5, "dw", [0, 0]))
    assert "dw should hold 3 numbers, got the text 'dw'" in message, message


def test_sigmoid_gate_that_changes_its_arguments_passes():
    def overwriting(w, x):
        result = sigmoid_numpy(w, x)
        w[:] = 0.0
        x *= -1
        return result
    nb02.check_sigmoid_gate(overwriting)


def test_each_exercise_is_graded_on_its_own():
    # A wrong answer to one exercise costs nothing in another: the checks take only their own exercise.
    failure_message(nb02.check_numerical_diff, diff_forward)
    failure_message(nb02.check_circuit, lambda x, y, z: (x + y + z, (1, 1, 1)))
    nb02.check_chain_rule(dz_dx_staged, dz_dy_staged)
    nb02.check_circuit(circuit_staged)
    nb02.check_sigmoid_gate(sigmoid_staged)
    nb02.check_swish_gate(swish_staged)
    nb02.check_numerical_diff(diff_central)
