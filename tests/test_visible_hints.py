"""Every classic mistake the hidden tests name is named by the visible check below the exercise too.

The zoo is the suite's own: every wrong layer or function in the hidden-test modules of notebooks 03-07.
Each one goes through its hidden check; when the failure carries one of the named hints of
``bpcourse.mistakes``, the same code goes through the notebook's visible check, which must fail with the
same hint (numbers aside: the visible example has another batch size). Wrong answers no rule knows are left
out: for them both checks report expected/got only.
"""

import functools
import inspect
import math
import re
from collections import OrderedDict

import numpy as np
import pytest
import test_grader_nb01 as z01
import test_grader_nb02 as z02
import test_grader_nb03 as z03
import test_grader_nb04 as z04
import test_grader_nb05 as z05
import test_grader_nb06 as z06
import test_grader_nb07 as z07
import test_grader_nb08 as z08
from test_grader_nb03 import visible_check

from bpcourse import mistakes
from grader_tests import nb01, nb02, nb03, nb04, nb05, nb06, nb07, nb08
from grader_tests._core import Failure


def _named_hints() -> set[str]:
    texts = {v for v in vars(mistakes).values() if isinstance(v, str) and len(v) > 20}
    texts |= set(mistakes.ADD_RATIOS.values()) | {mistakes.BRANCH_OVERWRITTEN("x", ["a", "b"])}
    for n in range(1, 9):
        texts |= set(mistakes.cross_entropy_ratios(n, 3).values()) | set(mistakes.softmax_with_loss_ratios(n).values())
        texts |= {str(t) for t in mistakes.batch_ratios(n).values()}
    texts |= set(mistakes.sgd_ratios(0.1).values())
    texts |= {mistakes.GRADS_ACCUMULATED.format(name=n) for n in ("dW", "db")}
    return {_plain(t) for t in texts}


def _plain(text: str) -> str:
    """Numbers and quoted node names aside: the visible example has another batch size, another graph."""
    return re.sub(r"'[\w.]+'", "'#'", re.sub(r"\d+(\.\d+)?(e-?\d+)?", "#", text)).strip()


NAMED = _named_hints()
SWL_NAMES = {"softmax": z06.softmax_textbook, "cross_entropy_error": z06.ce_textbook}

# (zoo module, name prefix, hidden check, notebook, visible grade_id, the name the cell uses, other names)
GRAPHS = {"forward": z01.forward_loop, "math": math, "APPLE": nb01.APPLE, "APPLE_INPUTS": nb01.APPLE_INPUTS,
          "BRANCH": [("x", None, []), ("y", None, []), ("xy", "×", ["x", "y"]), ("f", "+", ["xy", "x"])],
          "SIGMOID": [("x", None, []), ("neg", "*-1", ["x"]), ("e", "exp", ["neg"]), ("d", "+1", ["e"]),
                      ("y", "1/x", ["d"])]}
GATE = {"math": math, "w_seed": [2.0, -3.0, -3.0], "x_seed": [-1.0, -2.0]}
NB07_LAYERS = {"OrderedDict": OrderedDict, "Affine": z07.Affine, "Relu": z07.Relu,
               "SoftmaxWithLoss": z07.SoftmaxWithLoss}

CHECKS = [
    (z01, "backward_", lambda b: nb01.check_backward(b, z01.forward_loop), "01_computational_graphs",
     "test_backward", "backward", GRAPHS),
    (z02, "diff_", nb02.check_numerical_diff, "02_chain_rule", "test_numerical_diff", "numerical_diff", {}),
    (z02, "dz_dx_", lambda f: nb02.check_chain_rule(f, z02.dz_dy_staged), "02_chain_rule", "test_chain_rule", "dz_dx",
     {"dz_dy": z02.dz_dy_staged}),
    (z02, "circuit_", nb02.check_circuit, "02_chain_rule", "test_circuit", "circuit_forward_backward", {}),
    (z02, "sigmoid_", nb02.check_sigmoid_gate, "02_chain_rule", "test_sigmoid_gate", "sigmoid_gate", GATE),
    (z02, "swish_", nb02.check_swish_gate, "02_chain_rule", "test_swish_gate", "swish_gate", {"math": math}),
    (z03, "Mul", nb03.check_mul_layer, "03_add_mul_nodes", "test_mul_layer", "MulLayer", {}),
    (z03, "Add", nb03.check_add_layer, "03_add_mul_nodes", "test_add_layer", "AddLayer", {}),
    (z03, "Max", nb03.check_max_layer, "03_add_mul_nodes", "test_max_layer", "MaxLayer", {}),
    (z04, "Relu", nb04.check_relu, "04_activation_layers", "test_relu", "Relu", {}),
    (z04, "Sigmoid", nb04.check_sigmoid, "04_activation_layers", "test_sigmoid", "Sigmoid", z04._GRAPH),
    (z05, "vec_", nb05.check_vectorized_example, "05_affine_layer", "test_vectorized_example", "vectorized_example",
     {}),
    (z05, "", nb05.check_affine_forward, "05_affine_layer", "test_affine_forward", "Affine", {}),
    (z05, "", nb05.check_affine_backward, "05_affine_layer", "test_affine_backward", "Affine", {}),
    (z05, "Linear", nb05.check_linear, "05_affine_layer", "test_linear", "Linear", {}),
    (z06, "softmax_", nb06.check_softmax, "06_softmax_with_loss", "test_softmax", "softmax", {}),
    (z06, "ce_", nb06.check_cross_entropy, "06_softmax_with_loss", "test_cross_entropy_error",
     "cross_entropy_error", {}),
    (z06, "SWL", nb06.check_softmax_with_loss, "06_softmax_with_loss", "test_softmax_with_loss",
     "SoftmaxWithLoss", SWL_NAMES),
    (z07, "", lambda c: nb07.check_two_layer_net_gradient(c, *z07.LAYERS), "07_two_layer_net", "test_gradient",
     "TwoLayerNet", NB07_LAYERS),
    (z07, "step_", nb07.check_sgd_step, "07_two_layer_net", "test_sgd_step", "sgd_step", NB07_LAYERS),
    (z07, "SafeAffine", nb07.check_safe_affine, "07_two_layer_net", "test_safe_affine", "SafeAffine", {}),
    (z08, "Net", nb08.check_multi_layer_net, "08_deep_networks", "test_multi_layer_net", "MultiLayerNet", {}),
    (z08, "Net", nb08.check_multi_layer_net_gradient, "08_deep_networks", "test_multi_layer_net_gradient",
     "MultiLayerNet", {}),
    (z08, "Value", nb08.check_value, "08_deep_networks", "test_value", "Value", {"math": math}),
]


def dz_dx_half(x, y):
    """The square node's local gradient taken as t instead of 2t."""
    return x + y


def circuit_unswapped(x, y, z):
    """Each input of the × gate given its own value instead of the other one's (test_grader_nb02's slip)."""
    q = x + y
    return q * z, (q * 1.0, q * 1.0, z * 1.0)


# Mistakes the hidden-test modules build inside their tests or by parameters, here as module-level code.
EXTRA = {"test_chain_rule": [dz_dx_half], "test_circuit": [circuit_unswapped],
         "test_sigmoid_gate": [functools.partial(z02.sigmoid_staged, swap=False),
                               functools.partial(z02.sigmoid_staged, neg_local=1.0)],
         "test_swish_gate": [functools.partial(z02.swish_staged, keep="s"),
                             functools.partial(z02.swish_staged, keep="f")],
         "test_safe_affine": [z07.PlantedSafeAffine]}


def _zoo(module, prefix: str) -> list:
    """Classes and functions the module defines, plus the layers its parametrised lists build on the fly."""
    found = {id(v): v for k, v in vars(module).items()
             if k.startswith(prefix) and (inspect.isclass(v) or inspect.isfunction(v))
             and getattr(v, "__module__", "") == module.__name__ and not k.startswith("test_")}
    for value in vars(module).values():  # e.g. WRONG = [(impl, check, words), ...]
        if isinstance(value, list):
            for row in value:
                for item in row if isinstance(row, tuple) else (row,):
                    if inspect.isclass(item) and item.__name__.startswith(prefix):
                        found.setdefault(id(item), item)
    return list(found.values())


def _named(obj, name: str):
    """The zoo's code under the name the notebook gives it (the student writes class MulLayer, not MulSwapped)."""
    if inspect.isclass(obj):
        return type(name, (obj,), {})

    def fn(*args, **kwargs):
        return obj(*args, **kwargs)
    fn.__name__ = name
    return fn


def _hidden_hint(check, obj) -> str:
    try:
        check(obj)
    except Failure as exc:
        return _plain(str(exc).rpartition("\nHint: ")[2]) if "\nHint: " in str(exc) else ""
    except Exception:
        return ""
    return ""


CASES, KOREAN_CASES = [], []
for module, prefix, check, notebook, grade_id, name, extra in CHECKS:
    for obj in _zoo(module, prefix) + EXTRA.get(grade_id, []):
        hint = _hidden_hint(check, obj)
        named = [t for t in NAMED if t in hint]
        if named:
            case_id = f"{grade_id}-{getattr(obj, '__name__', None) or obj.func.__name__}{len(CASES)}"
            CASES.append(pytest.param(notebook, grade_id, name, extra, obj, max(named, key=len), id=case_id))
            KOREAN_CASES.append(pytest.param(check, notebook, grade_id, name, extra, obj, id=case_id))


def test_the_zoo_has_named_mistakes_in_every_layer_notebook():
    seen = {case.values[1] for case in CASES}
    assert {"test_backward", "test_numerical_diff", "test_chain_rule", "test_circuit", "test_sigmoid_gate",
            "test_swish_gate", "test_mul_layer", "test_add_layer", "test_max_layer", "test_relu", "test_sigmoid",
            "test_vectorized_example", "test_affine_backward", "test_linear", "test_softmax",
            "test_cross_entropy_error", "test_softmax_with_loss",
            "test_gradient", "test_sgd_step", "test_safe_affine", "test_multi_layer_net",
            "test_multi_layer_net_gradient", "test_value"} <= seen, sorted(seen)
    assert len(CASES) >= 40, len(CASES)


@pytest.mark.parametrize("notebook, grade_id, name, extra, obj, hint", CASES)
def test_the_visible_check_names_the_same_mistake(notebook, grade_id, name, extra, obj, hint):
    with np.errstate(all="ignore"), pytest.raises(AssertionError) as info:
        visible_check(notebook, grade_id, **{name: _named(obj, name)}, **extra)
    assert hint in _plain(str(info.value)), f"visible check said:\n{info.value}\n\nhidden test's hint:\n{hint}"


HANGUL = re.compile(r"[\uac00-\ud7a3]")


@pytest.mark.parametrize("check, notebook, grade_id, name, extra, obj", KOREAN_CASES)
def test_the_korean_visible_check_names_the_same_mistake_in_korean(check, notebook, grade_id, name, extra, obj):
    """The same zoo through the Korean edition: the hidden test's hint is in Korean, and the Korean notebook's
    visible check gives that same hint."""
    from bpcourse.hints import split_hint
    from bpcourse.i18n import using

    with using("ko"):
        try:
            check(obj)
        except Failure as exc:
            message = str(exc)
        else:
            pytest.fail("the hidden check passed in Korean")
        hidden = split_hint(message)[1]
        assert HANGUL.search(hidden) and "Hint:" not in message, message
        with np.errstate(all="ignore"), pytest.raises(AssertionError) as info:
            visible_check(f"{notebook}_ko", grade_id, **{name: _named(obj, name)}, **extra)
    shown = _plain(split_hint(str(info.value))[1])
    assert _plain(hidden) in shown or shown in _plain(hidden), \
        f"Korean visible check said:\n{info.value}\n\nhidden test's hint:\n{hidden}"
