"""Every classic mistake the hidden tests name is named by the visible check below the exercise too.

The zoo is the suite's own: every wrong layer or function in the hidden-test modules of notebooks 03-07.
Each one goes through its hidden check; when the failure carries one of the named hints of
``bpcourse.mistakes``, the same code goes through the notebook's visible check, which must fail with the
same hint (numbers aside: the visible example has another batch size). Wrong answers no rule knows are left
out: for them both checks report expected/got only.
"""

import inspect
import re

import numpy as np
import pytest
import test_grader_nb03 as z03
import test_grader_nb04 as z04
import test_grader_nb05 as z05
import test_grader_nb06 as z06
import test_grader_nb07 as z07
from test_grader_nb03 import visible_check

from bpcourse import mistakes
from grader_tests import nb03, nb04, nb05, nb06, nb07
from grader_tests._core import Failure


def _named_hints() -> set[str]:
    texts = {v for v in vars(mistakes).values() if isinstance(v, str) and len(v) > 20}
    texts |= set(mistakes.ADD_RATIOS.values())
    for n in range(1, 9):
        texts |= set(mistakes.cross_entropy_ratios(n, 3).values()) | set(mistakes.softmax_with_loss_ratios(n).values())
        texts |= {str(t) for t in mistakes.batch_ratios(n).values()}
    texts |= {mistakes.GRADS_ACCUMULATED.format(name=n) for n in ("dW", "db")}
    return {_plain(t) for t in texts}


def _plain(text: str) -> str:
    return re.sub(r"\d+", "#", text).strip()


NAMED = _named_hints()
SWL_NAMES = {"softmax": z06.softmax_textbook, "cross_entropy_error": z06.ce_textbook}

# (zoo module, name prefix, hidden check, notebook, visible grade_id, the name the cell uses, other names)
CHECKS = [
    (z03, "Mul", nb03.check_mul_layer, "03_add_mul_nodes", "test_mul_layer", "MulLayer", {}),
    (z03, "Add", nb03.check_add_layer, "03_add_mul_nodes", "test_add_layer", "AddLayer", {}),
    (z03, "Max", nb03.check_max_layer, "03_add_mul_nodes", "test_max_layer", "MaxLayer", {}),
    (z04, "Relu", nb04.check_relu, "04_activation_layers", "test_relu", "Relu", {}),
    (z04, "Sigmoid", nb04.check_sigmoid, "04_activation_layers", "test_sigmoid", "Sigmoid", z04._GRAPH),
    (z05, "", nb05.check_affine_forward, "05_affine_layer", "test_affine_forward", "Affine", {}),
    (z05, "", nb05.check_affine_backward, "05_affine_layer", "test_affine_backward", "Affine", {}),
    (z06, "softmax_", nb06.check_softmax, "06_softmax_with_loss", "test_softmax", "softmax", {}),
    (z06, "ce_", nb06.check_cross_entropy, "06_softmax_with_loss", "test_cross_entropy_error",
     "cross_entropy_error", {}),
    (z06, "SWL", nb06.check_softmax_with_loss, "06_softmax_with_loss", "test_softmax_with_loss",
     "SoftmaxWithLoss", SWL_NAMES),
    (z07, "", nb07.check_two_layer_net_gradient, "07_two_layer_net", "test_gradient", "TwoLayerNet", {}),
]


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


CASES = []
for module, prefix, check, notebook, grade_id, name, extra in CHECKS:
    for obj in _zoo(module, prefix):
        hint = _hidden_hint(check, obj)
        named = [t for t in NAMED if t in hint]
        if named:
            CASES.append(pytest.param(notebook, grade_id, name, extra, obj, max(named, key=len),
                                      id=f"{grade_id}-{obj.__name__}"))


def test_the_zoo_has_named_mistakes_in_every_layer_notebook():
    seen = {case.values[1] for case in CASES}
    assert {"test_mul_layer", "test_add_layer", "test_max_layer", "test_relu", "test_sigmoid",
            "test_affine_backward", "test_softmax", "test_cross_entropy_error", "test_softmax_with_loss",
            "test_gradient"} <= seen, sorted(seen)
    assert len(CASES) >= 25, len(CASES)


@pytest.mark.parametrize("notebook, grade_id, name, extra, obj, hint", CASES)
def test_the_visible_check_names_the_same_mistake(notebook, grade_id, name, extra, obj, hint):
    with np.errstate(all="ignore"), pytest.raises(AssertionError) as info:
        visible_check(notebook, grade_id, **{name: _named(obj, name)}, **extra)
    assert hint in _plain(str(info.value)), f"visible check said:\n{info.value}\n\nhidden test's hint:\n{hint}"
