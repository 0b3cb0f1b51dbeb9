"""The hidden checks of notebook 01 pass correct graph code in several styles and explain wrong code."""

from __future__ import annotations

import math
from collections import OrderedDict, defaultdict

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
    for name, op, parents in reversed(nodes):
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
