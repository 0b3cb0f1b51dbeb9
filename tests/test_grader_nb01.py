"""The hidden checks of notebook 01 pass correct graph code in several styles and explain wrong code."""

from __future__ import annotations

import math
from collections import OrderedDict, defaultdict
from collections.abc import Mapping
from fractions import Fraction
from types import MappingProxyType

import numpy as np
import pytest

from grader_tests import nb01
from grader_tests._core import Failure

# The notebook's op table, as a student's kernel would hold it.
OPS = {
    "×": (lambda a, b: a * b, lambda a, b: (b, a)),
    "+": (lambda a, b: a + b, lambda a, b: (1, 1)),
    "*-1": (lambda a: -a, lambda a: (-1,)),
    "exp": (lambda a: math.exp(a), lambda a: (math.exp(a),)),
    "+1": (lambda a: a + 1, lambda a: (1,)),
    "1/x": (lambda a: 1 / a, lambda a: (-1 / a**2,)),
    "²": (lambda a: a**2, lambda a: (2 * a,)),
}


# ---- correct forwards -------------------------------------------------------------------------------

def forward_loop(nodes, inputs):
    values = {}
    for name, op, parents in nodes:
        if op is None:
            values[name] = inputs[name]
        else:
            f, _ = OPS[op]
            values[name] = f(*[values[p] for p in parents])
    return values


def forward_numpy(nodes, inputs):
    values = OrderedDict((k, np.float64(v)) for k, v in inputs.items())
    for name, op, parents in nodes:
        if parents:
            values[name] = np.float64(OPS[op][0](*map(values.__getitem__, parents)))
    return values


# ---- correct backwards ------------------------------------------------------------------------------

def backward_pull(nodes, values):
    """Algorithm 6.2 as written: each node sums over its children."""
    out = nodes[-1][0]
    grad = {out: 1.0}
    for j, _, _ in reversed(nodes[:-1]):
        total = 0.0
        for child, op, parents in nodes:
            for slot, p in enumerate(parents):
                if p == j:
                    local = OPS[op][1](*[values[q] for q in parents])[slot]
                    total += grad[child] * local
        grad[j] = total
    return grad


def backward_push(nodes, values):
    """Each node hands its gradient to its parents, accumulating in a defaultdict."""
    grad = defaultdict(float)
    grad[nodes[-1][0]] = 1.0
    for name, op, parents in reversed(nodes):
        if op is None:
            continue
        partials = OPS[op][1](*(values[p] for p in parents))
        for p, d in zip(parents, partials):
            grad[p] += grad[name] * d
    return grad


def backward_numpy(nodes, values):
    grad = OrderedDict((name, np.float64(0)) for name, _, _ in nodes)
    grad[nodes[-1][0]] = np.float64(1)
    for name, op, parents in nodes[::-1]:
        if parents:
            local = np.array(OPS[op][1](*[values[p] for p in parents]), dtype=float)
            for i, p in enumerate(parents):
                grad[p] = grad[p] + grad[name] * local[i]
    return grad


# ---- wrong code -------------------------------------------------------------------------------------

def backward_overwrite(nodes, values):
    grad = {name: 0.0 for name, _, _ in nodes}
    grad[nodes[-1][0]] = 1.0
    for name, op, parents in reversed(nodes):
        if op is not None:
            for p, d in zip(parents, OPS[op][1](*(values[p] for p in parents))):
                grad[p] = grad[name] * d  # should be +=
    return grad


def backward_no_upstream(nodes, values):
    grad = defaultdict(float)
    grad[nodes[-1][0]] = 1.0
    for _name, op, parents in reversed(nodes):
        if op is not None:
            for p, d in zip(parents, OPS[op][1](*(values[p] for p in parents))):
                grad[p] += d  # forgot grad[name] *
    return grad


def backward_forward_order(nodes, values):
    grad = defaultdict(float)
    grad[nodes[-1][0]] = 1.0
    for name, op, parents in nodes:  # should be reversed(nodes)
        if op is not None:
            for p, d in zip(parents, OPS[op][1](*(values[p] for p in parents))):
                grad[p] += grad[name] * d
    return grad


def backward_forward_order_pull(nodes, values):
    grad = {nodes[-1][0]: 1.0}
    for j, _, _ in nodes[:-1]:  # should walk from the output back
        grad[j] = sum(grad[c] * OPS[op][1](*[values[q] for q in ps])[s]
                      for c, op, ps in nodes for s, p in enumerate(ps) if p == j)
    return grad


def backward_only_inputs(nodes, values):
    full = backward_push(nodes, values)
    return {name: full[name] for name, op, _ in nodes if op is None}


# ---- tests ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("forward", [forward_loop, forward_numpy])
def test_correct_forward_passes(forward):
    nb01.check_forward(forward)


@pytest.mark.parametrize("backward", [backward_pull, backward_push, backward_numpy])
@pytest.mark.parametrize("forward", [forward_loop, forward_numpy, None])
def test_correct_backward_passes(backward, forward):
    nb01.check_backward(backward, forward)


def test_graphs_have_branches_and_repeated_parents():
    shapes = nb01.graphs("nb01.backward")
    assert len({len(nodes) for nodes, _ in shapes}) >= 4
    fan_out = [max(len(c) for c in nb01._children(nodes).values()) for nodes, _ in shapes]
    assert max(fan_out) >= 3
    assert sum(f >= 2 for f in fan_out) >= 4
    repeated = [any(len(set(ps)) < len(ps) for _, _, ps in nodes) for nodes, _ in shapes]
    assert sum(repeated) >= 3


def _fail(check, *args) -> str:
    with pytest.raises(Failure) as info:
        check(*args)
    return str(info.value)


def test_forward_stub_fails():
    def stub(nodes, inputs):
        raise NotImplementedError()
    assert "not implemented" in _fail(nb01.check_forward, stub)


def test_forward_returning_only_the_output_fails():
    msg = _fail(nb01.check_forward, lambda nodes, inputs: forward_loop(nodes, inputs)[nodes[-1][0]])
    assert "should return a dict" in msg


def test_forward_with_a_wrong_op_names_the_node():
    def forward_bad(nodes, inputs):
        values = {}
        for name, op, parents in nodes:
            if op is None:
                values[name] = inputs[name]
            elif op == "×":
                values[name] = values[parents[0]] + values[parents[1]]  # wrong op
            else:
                values[name] = OPS[op][0](*[values[p] for p in parents])
        return values
    msg = _fail(nb01.check_forward, forward_bad)
    assert "node 'apple_price' = apple × apple_num" in msg
    assert "should be 200, got 102" in msg


def test_forward_missing_a_node():
    def forward_inputs_dropped(nodes, inputs):
        values = forward_loop(nodes, inputs)
        return {k: v for k, v in values.items() if k not in inputs}
    assert "no value for node 'apple'" in _fail(nb01.check_forward, forward_inputs_dropped)


def test_forward_tampered_table_is_caught():
    """A kernel that changed its own OPS cannot move the reference: the grader uses its own table."""
    saved = OPS["exp"]
    OPS["exp"] = (lambda a: 1 + a, lambda a: (1,))
    try:
        msg = _fail(nb01.check_forward, forward_loop)
    finally:
        OPS["exp"] = saved
    assert "exp(" in msg


def test_overwrite_at_branch_is_recognised():
    msg = _fail(nb01.check_backward, backward_overwrite, forward_loop)
    assert "grad_table['x']" in msg and "expected -1" in msg and "got -2" in msg
    assert "gradients add at branches" in msg


def test_missing_upstream_factor_is_recognised():
    msg = _fail(nb01.check_backward, backward_no_upstream, forward_loop)
    assert "grad_table['apple_num']" in msg and "expected 110" in msg and "got 100" in msg
    assert "multiply each one by the upstream gradient" in msg


def test_forward_order_is_recognised():
    msg = _fail(nb01.check_backward, backward_forward_order, forward_loop)
    assert "grad_table['apple_num']" in msg and "expected 110" in msg and "got 0" in msg
    assert "REVERSE order" in msg


def test_forward_order_with_a_plain_dict_gets_a_keyerror_hint():
    msg = _fail(nb01.check_backward, backward_forward_order_pull, forward_loop)
    assert "KeyError" in msg and "from the output back to the inputs" in msg


def test_gradients_only_for_inputs_fail():
    msg = _fail(nb01.check_backward, backward_only_inputs, forward_loop)
    assert "no gradient for node 'price'" in msg


def test_output_gradient_must_be_one():
    def backward_two(nodes, values):
        g = backward_push(nodes, values)
        return {k: 2 * v for k, v in g.items()}
    assert "should be 1" in _fail(nb01.check_backward, backward_two, forward_loop)


def test_input_used_twice_needs_adding():
    """A node that lists one parent twice (a × a) must pass both shares back."""
    def backward_set_once(nodes, values):
        grad = defaultdict(float)
        grad[nodes[-1][0]] = 1.0
        for name, op, parents in reversed(nodes):
            if op is not None:
                partials = dict(zip(parents, OPS[op][1](*(values[p] for p in parents))))  # drops a repeat
                for p, d in partials.items():
                    grad[p] += grad[name] * d
        return grad
    msg = _fail(nb01.check_backward, backward_set_once, forward_loop)
    assert "grad_table['a']" in msg and "SUM" in msg


def test_backward_does_not_depend_on_a_broken_forward():
    def forward_broken(nodes, inputs):
        return {name: 0.0 for name, _, _ in nodes}
    nb01.check_backward(backward_push, forward_broken)


# ---- the reference cannot be steered by the forward ---------------------------------------------------
#
# A steering forward is right on every graph it is first given (check_forward passes it). On a graph that
# is a one-value nudge of one it has evaluated, or when a differentiation routine of the grader is on the
# call stack, it answers so that the output's slope is `factor` times the true one; its backward claims
# exactly that. Graded against central differences of the student's forward, it got full marks.

def _one_value_nudge(seen: dict, inputs: dict) -> bool:
    """Whether every input is a value `seen` holds, all equal but one, moved by less than 1e-3."""
    if not set(inputs) <= set(seen):
        return False
    moved = [abs(float(inputs[k]) - float(seen[k])) for k in inputs]
    return sum(m != 0 for m in moved) == 1 and max(moved) < 1e-3


def _differentiating() -> bool:
    """Whether one of the grader's functions that looks like a numerical differentiation is calling us."""
    import inspect
    names = [frame.function.lower() for frame in inspect.stack()[2:] if "grader_tests" in frame.filename]
    return any(word in name for name in names for word in ("num", "grad", "vjp")
               if not name.startswith("check_"))


def steering(detector: str, factor: float):
    memory = []

    def forward(nodes, inputs):
        true = forward_loop(nodes, inputs)
        if detector == "stack":
            return {k: factor * v for k, v in true.items()} if _differentiating() else true
        for seen in memory:
            if _one_value_nudge(seen, inputs):
                return {k: seen[k] + factor * (v - seen[k]) for k, v in true.items()}
        memory.append(dict(true))
        return true

    def backward(nodes, values):
        out = nodes[-1][0]
        return {k: v if k == out else factor * v for k, v in backward_push(nodes, values).items()}

    return forward, backward


STEERING = [(detector, factor) for detector in ("remembers", "stack") for factor in (0.0, 0.5, -1.0)]


@pytest.mark.parametrize("detector, factor", STEERING)
def test_a_forward_cannot_steer_the_reference(detector, factor):
    forward, backward = steering(detector, factor)
    nb01.check_forward(forward)  # right wherever the forward is graded
    msg = _fail(nb01.check_backward, backward, forward)
    assert "grad_table['" in msg and "is wrong: expected" in msg, msg


def test_backward_never_runs_the_students_forward():
    calls = []

    def forward_counting(nodes, inputs):
        calls.append(len(nodes))
        return forward_loop(nodes, inputs)
    nb01.check_backward(backward_pull, forward_counting)
    assert calls == []


def test_messages_are_deterministic():
    assert _fail(nb01.check_backward, backward_overwrite, forward_loop) == \
        _fail(nb01.check_backward, backward_overwrite, forward_loop)


def test_backward_stub_fails():
    def stub(nodes, values):
        raise NotImplementedError()
    assert "backward(nodes, values)" in _fail(nb01.check_backward, stub, forward_loop)


# ---- what the grader hands over is the student's to change --------------------------------------------
#
# Every call gets its own deep copy of the graph and the dict: a correct forward or backward that sorts,
# reverses or clears the parents lists, or changes the nodes list or the dict it was given, gets full marks,
# and the grader's own graphs (APPLE among them) stay as they were.

@pytest.fixture
def apple_kept():
    import copy
    saved = copy.deepcopy(nb01.APPLE), dict(nb01.APPLE_INPUTS)
    yield
    changed = (nb01.APPLE, nb01.APPLE_INPUTS) != saved
    # put it back even when it was changed, so that later tests see the original
    nb01.APPLE[:] = copy.deepcopy(saved[0])
    nb01.APPLE_INPUTS.clear()
    nb01.APPLE_INPUTS.update(saved[1])
    assert not changed, "student code changed the grader's own graph"


def forward_sorting(nodes, inputs):
    for _, _, parents in nodes:
        parents.sort()  # × and + commute: the values stay right
    return forward_loop(nodes, inputs)


def forward_sorting_backwards(nodes, inputs):
    for _, _, parents in nodes:
        parents.sort(reverse=True)
    return forward_loop(nodes, inputs)


def forward_reversing(nodes, inputs):
    for _, _, parents in nodes:
        parents.reverse()
    return forward_loop(nodes, inputs)


def forward_clearing(nodes, inputs):
    """Right values, then it empties every parents list, the nodes list and the inputs dict it was given."""
    values = dict(forward_loop(nodes, inputs))
    for _, _, parents in nodes:
        parents.clear()
    nodes.clear()
    inputs.clear()
    return values


def forward_popping(nodes, inputs):
    """Consumes the nodes list as a work queue, and writes its values into the inputs dict it returns."""
    while nodes:
        name, op, parents = nodes.pop(0)
        inputs[name] = inputs[name] if op is None else OPS[op][0](*[inputs[p] for p in parents])
        parents.append("done")
    return inputs


KEPT = []


def forward_keeping(nodes, inputs):
    """Keeps what it was given and changes the graph of the previous call afterwards."""
    for old_nodes, old_inputs in KEPT:
        for _, _, parents in old_nodes:
            parents[:] = parents[::-1] + ["x"]
        old_inputs.clear()
    KEPT.append((nodes, inputs))
    return forward_loop(nodes, inputs)


@pytest.mark.parametrize("forward", [forward_sorting, forward_sorting_backwards, forward_reversing,
                                     forward_clearing, forward_popping, forward_keeping])
def test_a_forward_that_changes_its_arguments_gets_full_marks(forward, apple_kept):
    KEPT.clear()
    nb01.check_forward(forward)
    nb01.check_backward(backward_push, forward)  # and the next check sees the graphs unchanged


def backward_sorting_and_clearing(nodes, values):
    for _, _, parents in nodes:
        parents.sort(reverse=True)
    grads = backward_push(nodes, values)
    for _, _, parents in nodes:
        parents.clear()
    nodes.reverse()
    values.clear()
    return grads


def test_a_backward_that_changes_its_arguments_gets_full_marks(apple_kept):
    nb01.check_backward(backward_sorting_and_clearing, forward_loop)
    nb01.check_forward(forward_loop)


def test_a_wrong_forward_that_changes_its_arguments_costs_only_the_forward(apple_kept):
    def forward_wrong_and_clearing(nodes, inputs):
        values = {name: inputs[name] if op is None else 0.0 for name, op, _ in nodes}  # wrong
        for _, _, parents in nodes:
            parents.clear()
        return values
    msg = _fail(nb01.check_forward, forward_wrong_and_clearing)
    assert "forward(nodes, inputs): node 'apple_price' = apple × apple_num" in msg, msg
    nb01.check_backward(backward_push, forward_wrong_and_clearing)


def test_a_wrong_forward_costs_only_the_forward():
    def forward_swapped(nodes, inputs):  # × computed as +
        return {k: (v if op != "×" else sum(forward_loop(nodes, inputs)[p] for p in ps))
                for (k, v), (_, op, ps) in zip(forward_loop(nodes, inputs).items(), nodes)}
    assert "should be 200, got 102" in _fail(nb01.check_forward, forward_swapped)
    for backward in (backward_pull, backward_push, backward_numpy):
        nb01.check_backward(backward, forward_swapped)


# ---- any mapping is a dict --------------------------------------------------------------------------

class SumsOnRead(dict):
    """A dict subclass that stores each node's contributions and adds them up when read (as [] does)."""

    def __getitem__(self, key):
        return sum(dict.__getitem__(self, key))


class Table(Mapping):
    """A custom read-only Mapping."""

    def __init__(self, data):
        self._data = dict(data)

    def __getitem__(self, key):
        return self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)


def backward_sums_on_read(nodes, values):
    grads = SumsOnRead({name: [] for name, _, _ in nodes})
    dict.__getitem__(grads, nodes[-1][0]).append(1.0)
    for name, op, parents in reversed(nodes):
        if op is not None:
            for p, d in zip(parents, OPS[op][1](*(values[q] for q in parents))):
                dict.__getitem__(grads, p).append(grads[name] * d)
    return grads


MAPPINGS = {
    "OrderedDict": lambda table: OrderedDict(reversed(list(table.items()))),
    "MappingProxyType": lambda table: MappingProxyType(dict(table)),
    "custom Mapping": Table,
    "np.str_ keys": lambda table: {np.str_(k): v for k, v in table.items()},
    "longdouble in a MappingProxyType": lambda table: MappingProxyType({k: np.longdouble(v)
                                                                        for k, v in table.items()}),
}


@pytest.mark.parametrize("mapping", list(MAPPINGS))
def test_a_backward_returning_any_mapping_gets_full_marks(mapping):
    wrap = MAPPINGS[mapping]
    nb01.check_backward(lambda nodes, values: wrap(backward_push(nodes, values)), forward_loop)


def test_a_backward_returning_a_dict_subclass_read_through_getitem_gets_full_marks():
    nb01.check_backward(backward_sums_on_read, forward_loop)


@pytest.mark.parametrize("mapping", list(MAPPINGS))
def test_a_forward_returning_any_mapping_gets_full_marks(mapping):
    wrap = MAPPINGS[mapping]
    nb01.check_forward(lambda nodes, inputs: wrap(forward_loop(nodes, inputs)))


def test_a_wrong_backward_in_a_mapping_still_fails():
    msg = _fail(nb01.check_backward, lambda n, v: MappingProxyType(backward_overwrite(n, v)), forward_loop)
    assert "grad_table['x']" in msg and "gradients add at branches" in msg, msg


def test_a_list_of_pairs_or_a_string_is_a_clear_failure():
    msg = _fail(nb01.check_backward, lambda n, v: list(backward_push(n, v).items()), forward_loop)
    assert "backward(nodes, values) should return a dict (node name -> gradient), got list" in msg, msg
    assert "dict(pairs)" in msg, msg
    msg = _fail(nb01.check_backward, lambda n, v: str(backward_push(n, v)), forward_loop)
    assert "should return a dict (node name -> gradient), got str" in msg, msg
    msg = _fail(nb01.check_forward, lambda n, i: list(forward_loop(n, i).items()))
    assert "forward(nodes, inputs) should return a dict (node name -> value), got list" in msg, msg


# ---- any real number, tolerances by precision ---------------------------------------------------------

def _cast(table: dict, to) -> dict:
    return {k: to(v) for k, v in table.items()}


def _as_int_when_whole(v):
    return np.int64(v) if float(v).is_integer() else v


def forward_float32(nodes, inputs):
    """Every value computed in float32, node by node."""
    values = {}
    for name, op, parents in nodes:
        if op is None:
            values[name] = np.float32(inputs[name])
        elif op == "exp":
            values[name] = np.exp(values[parents[0]])
        else:
            values[name] = np.float32(OPS[op][0](*[values[p] for p in parents]))
    return values


def backward_float32(nodes, values):
    values = _cast(values, np.float32)
    grad = {name: np.float32(0) for name, _, _ in nodes}
    grad[nodes[-1][0]] = np.float32(1)
    for name, op, parents in reversed(nodes):
        if op is not None:
            partials = [np.float32(d) for d in OPS[op][1](*(values[p] for p in parents))]
            for p, d in zip(parents, partials):
                grad[p] = np.float32(grad[p] + grad[name] * d)
    return grad


def backward_longdouble(nodes, values):
    values = _cast(values, np.longdouble)
    grad = {name: np.longdouble(0) for name, _, _ in nodes}
    grad[nodes[-1][0]] = np.longdouble(1)
    for name, op, parents in reversed(nodes):
        if op is not None:
            for p, d in zip(parents, OPS[op][1](*(values[q] for q in parents))):
                grad[p] = grad[p] + grad[name] * np.longdouble(d)
    return grad


NUMBER_FORWARDS = {
    "float32 throughout": forward_float32,
    "longdouble": lambda n, i: _cast(forward_loop(n, i), np.longdouble),
    "0-d longdouble arrays": lambda n, i: _cast(forward_loop(n, i),
                                                lambda v: np.array(v, dtype=np.longdouble)),
    "numpy ints where whole": lambda n, i: _cast(forward_loop(n, i), _as_int_when_whole),
    "Fraction": lambda n, i: _cast(forward_loop(n, i), Fraction),
}


@pytest.mark.parametrize("style", list(NUMBER_FORWARDS))
def test_forward_values_of_any_real_type_pass(style):
    nb01.check_forward(NUMBER_FORWARDS[style])


@pytest.mark.parametrize("backward", [backward_float32, backward_longdouble,
                                      lambda n, v: _cast(backward_push(n, v), _as_int_when_whole)])
def test_backward_gradients_of_any_real_type_pass(backward):
    nb01.check_backward(backward, forward_loop)


def test_wrong_values_in_float32_or_longdouble_still_fail():
    def forward_wrong32(nodes, inputs):
        values = forward_float32(nodes, inputs)
        return {k: (v * np.float32(1.01) if op is not None else v)
                for (k, v), (_, op, _) in zip(values.items(), nodes)}
    assert "node 'apple_price' = apple × apple_num" in _fail(nb01.check_forward, forward_wrong32)
    msg = _fail(nb01.check_backward, lambda n, v: _cast(backward_overwrite(n, v), np.longdouble),
                forward_loop)
    assert "grad_table['x']" in msg and "got -2" in msg, msg
    msg = _fail(nb01.check_backward, lambda n, v: _cast(backward_overwrite(n, v), np.float32), forward_loop)
    assert "grad_table['x']" in msg and "got -2" in msg, msg
    msg = _fail(nb01.check_forward, lambda n, i: _cast(forward_loop(n, i), np.float16))
    assert "half precision" in msg, msg


@pytest.mark.parametrize("value, words", [
    ("220.0", "got the text '220.0' (a str)"),
    (None, "got None"),
    (True, "got a bool"),
    (1 + 0j, "got a complex number"),
    ([1.0, 2.0], "got list"),
    (np.array([1.0, 2.0]), "got an array of shape (2,)"),
])
def test_a_non_number_is_a_clear_failure_naming_the_node(value, words):
    def forward(nodes, inputs):
        values = forward_loop(nodes, inputs)
        values["price"] = value
        return values
    msg = _fail(nb01.check_forward, forward)
    assert msg.startswith("forward(nodes, inputs): the value of node 'price' should be a number"), msg
    assert words in msg, msg

    def backward(nodes, values):
        grads = backward_push(nodes, values)
        grads["tax"] = value
        return grads
    msg = _fail(nb01.check_backward, backward, forward_loop)
    assert "the gradient of node 'tax' should be a number" in msg and words in msg, msg
