"""Hidden tests for notebook 01, computational graphs: forward (Algorithm 6.1) and backward (Algorithm 6.2).

A graph is a list of ``(name, op, parents)`` in topological order; ``op`` is None for an input.
The op table below is our own copy of the one the notebook states: the student's kernel may
have changed the notebook's ``OPS``, so nothing here reads it. Forward values are checked
against evaluating that table node by node; every gradient is checked against central
differences of the output with the node in question turned into a perturbed input, evaluated
with that same table. The student's forward is never run on those perturbed graphs: a forward
that answered differently there could otherwise make a wrong gradient look right, and a
forward mistake is check_forward's to grade, not check_backward's.

What the student's code is handed is its own: every call gets a fresh deep copy of the graph (its
``parents`` lists included) and of the dict, so a forward that sorts, reverses or clears what it is
given, or keeps it and changes it later, cannot change a graph the grader evaluates or replays.
A returned table may be any mapping (dict, OrderedDict, defaultdict, MappingProxyType, a custom
``collections.abc.Mapping``); it is read into a plain dict inside the call, so the transcript holds its
contents. Each entry must be a real number (Python, NumPy scalar or 0-d array), compared with
tolerances by its precision.
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Mapping

import numpy as np

from bpcourse import mistakes
from bpcourse.i18n import N_, tr

from ._core import Failure, as_number, call, expect_true, hidden_check, kind, rng, tolerances

__all__ = ["check_forward", "check_backward"]

# label -> (forward, local partials: one per parent); the same formulas as the notebook's OPS.
_OPS = {
    "×": (lambda a, b: a * b, lambda a, b: (b, a)),
    "+": (lambda a, b: a + b, lambda a, b: (1.0, 1.0)),
    "*-1": (lambda a: -a, lambda a: (-1.0,)),
    "exp": (lambda a: math.exp(a), lambda a: (math.exp(a),)),
    "+1": (lambda a: a + 1.0, lambda a: (1.0,)),
    "1/x": (lambda a: 1.0 / a, lambda a: (-1.0 / (a * a),)),
    "²": (lambda a: a * a, lambda a: (2.0 * a,)),
}
_ARITY = {"×": 2, "+": 2, "*-1": 1, "exp": 1, "+1": 1, "1/x": 1, "²": 1}

# The seed's apple shopping (DL from Scratch, figure 5-14).
APPLE = [("apple", None, []), ("apple_num", None, []), ("tax", None, []),
         ("apple_price", "×", ["apple", "apple_num"]), ("price", "×", ["apple_price", "tax"])]
APPLE_INPUTS = {"apple": 100.0, "apple_num": 2.0, "tax": 1.1}


def _evaluate(nodes, inputs) -> dict:
    """Algorithm 6.1 with our own table: the formula forward values are checked against."""
    values = {}
    for name, op, parents in nodes:
        values[name] = float(inputs[name]) if op is None else _OPS[op][0](*(values[p] for p in parents))
    return values


def _formula(op, parents) -> str:
    if op in ("×", "+"):
        return f"{parents[0]} {op} {parents[1]}"
    return f"{op}({parents[0]})"


def _children(nodes) -> dict:
    """name -> list of (child, slot) edges; a parent listed twice gives two edges."""
    kids = {name: [] for name, _, _ in nodes}
    for name, _, parents in nodes:
        for slot, p in enumerate(parents):
            kids[p].append((name, slot))
    return kids


def _random_graph(g: np.random.Generator, n_inputs: int, n_ops: int):
    """A random DAG with shared nodes, a parent used twice, and every node feeding the output.

    Values are kept in a tame range (no huge exp, no 1/x near 0) so central differences are
    accurate; a draw that leaves that range is thrown away and redrawn from the same generator.
    """
    for _ in range(1000):
        nodes = [(f"x{i}", None, []) for i in range(n_inputs)]
        inputs = {f"x{i}": float(g.choice([-1, 1]) * g.uniform(0.4, 1.6)) for i in range(n_inputs)}
        uses = {f"x{i}": 0 for i in range(n_inputs)}
        twice = False  # has some node used one parent twice yet?
        for k in range(n_ops):
            names = [n for n, _, _ in nodes]
            # favour little-used nodes so everything gets consumed, but allow reuse (branches)
            w = np.array([1.0 / (1 + uses[n]) for n in names])
            op = str(g.choice(list(_OPS)))
            if _ARITY[op] == 2:
                if not twice or g.random() < 0.15:
                    p = str(g.choice(names, p=w / w.sum()))
                    parents, twice = [p, p], True
                else:
                    parents = [str(x) for x in g.choice(names, size=2, replace=False, p=w / w.sum())]
            else:
                parents = [str(g.choice(names, p=w / w.sum()))]
            for p in parents:
                uses[p] += 1
            nodes.append((f"u{k}", op, parents))
            uses[f"u{k}"] = 0
        # join the loose ends so every node reaches the output
        sinks = [n for n, _, _ in nodes if uses[n] == 0]
        acc, k = sinks[0], n_ops
        for s in sinks[1:]:
            nodes.append((f"u{k}", str(g.choice(["+", "×"])), [acc, s]))
            acc, k = f"u{k}", k + 1
        if twice and max(len(c) for c in _children(nodes).values()) >= 2 and _tame(nodes, inputs):
            return nodes, inputs
    raise RuntimeError("could not draw a tame random graph")  # pragma: no cover


def _tame(nodes, inputs) -> bool:
    values = {}
    for name, op, parents in nodes:
        if op is None:
            values[name] = inputs[name]
            continue
        args = [values[p] for p in parents]
        if op == "exp" and args[0] > 2.5 or op == "1/x" and abs(args[0]) < 0.3:
            return False
        values[name] = _OPS[op][0](*args)
        if not 0.02 < abs(values[name]) < 60:
            return False
    return True


def graphs(name: str):
    """The graphs a check runs on: the seed's apple, two hand-made branch cases, random DAGs."""
    g = rng(name)
    fixed = [
        (APPLE, APPLE_INPUTS),
        # f = x*y + x: x feeds two children
        ([("x", None, []), ("y", None, []), ("xy", "×", ["x", "y"]), ("f", "+", ["xy", "x"])],
         {"x": 3.0, "y": -2.0}),
        # one input used twice by one node, and a node feeding three children
        ([("a", None, []), ("b", None, []), ("aa", "×", ["a", "a"]), ("s", "+", ["aa", "b"]),
          ("e", "*-1", ["s"]), ("t", "×", ["s", "e"]), ("r", "+1", ["s"]), ("q", "+", ["t", "r"])],
         {"a": 0.7, "b": -1.3}),
    ]
    return fixed + [_random_graph(g, ni, no) for ni, no in [(2, 4), (3, 7), (4, 11)]]


# ---- what student code returns: plain data, real numbers --------------------------------------------

def _plain_number(value):
    """A number of some other real type (Fraction, an int or float subclass, an object with __array__ holding
    one number) as a plain one, so the transcript records it; anything else unchanged (runs in the kernel)."""
    if type(value) in (int, float, bool) or isinstance(value, (np.generic, np.ndarray, str, bytes)):
        return value
    if isinstance(value, complex):
        return np.complex128(value)  # recorded, so the check can say it is complex
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if hasattr(type(value), "__array__"):
        try:
            arr = np.asarray(value)
        except Exception:  # noqa: BLE001 - not array-like after all: reported as what it is
            return value
        if arr.ndim == 0 and arr.dtype.kind in "iuf":
            return arr
    return value


def _is_mapping(value) -> bool:
    """A collections.abc.Mapping, or anything dict() would read as one (keys() and [])."""
    if isinstance(value, Mapping):
        return True
    return (not isinstance(value, (str, bytes, list, tuple, np.ndarray))
            and callable(getattr(value, "keys", None)) and hasattr(type(value), "__getitem__"))


def plain(value):
    """What student code returned, as plain data (runs in the kernel, inside call()).

    Any mapping becomes a plain dict read the way the notebook's own checks read it (``table[key]`` for each
    key it lists; str subclasses such as np.str_ as str keys), and numbers of other real types plain numbers,
    in it or in a tuple or list. Anything else is left as it is, for the check to report.
    """
    if _is_mapping(value):
        return {(str(k) if isinstance(k, str) else k): _plain_number(value[k]) for k in list(value.keys())}
    if type(value) in (tuple, list):
        return type(value)(plain(v) if _is_mapping(v) or type(v) in (tuple, list) else _plain_number(v)
                           for v in value)
    return _plain_number(value)


def returning_plain(fn, *args):
    """Call student ``fn`` and return its result as plain data: pass this to call(), not ``fn`` itself, so the
    conversion happens in the kernel and the transcript holds the contents (``plain``)."""
    return plain(fn(*args))


def number_problem(value) -> str:
    """'' if ``value`` is one real number (int, float, a NumPy integer or floating scalar, an array holding
    one such number), else what it is instead, for a message."""
    if isinstance(value, (bool, np.bool_)):
        return tr("a bool ({value!r}), not a number", value=value)
    if type(value) in (int, float) or isinstance(value, (np.integer, np.floating)):
        return ""
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "iuf":
            return tr("an array of {dtype} ({value!r:.60})", dtype=value.dtype, value=value)
        return "" if value.size == 1 else tr("an array of shape {shape}, not one number", shape=value.shape)
    if value is None:
        return tr("None (was it computed and returned?)")
    if isinstance(value, (complex, np.complexfloating)):
        return tr("a complex number ({value!r})", value=value)
    if isinstance(value, str):
        return tr("the text {value!r:.60} (a str), not a number", value=value)
    return f"{kind(value)}: {value!r:.80}"


def real(value, what: str) -> float:
    """``value`` as a float if it is one real number, else a Failure saying what came back instead."""
    __tracebackhide__ = True
    problem = number_problem(value)
    if problem:
        raise Failure(tr("{what} should be a number, got {problem}.", what=what, problem=problem))
    return as_number(value, what)  # float16 fails here, with the reason


def _lookup(table, name: str, fn: str, quantity: str):
    """(the entry for ``name`` as a float, the entry as returned: its precision sets the tolerance).

    ``quantity`` is an ``N_`` template ("value", "gradient"), translated here.
    """
    __tracebackhide__ = True
    quantity = tr(quantity)
    if not isinstance(table, dict):
        pairs = isinstance(table, (list, tuple)) and table and all(
            isinstance(p, (list, tuple)) and len(p) == 2 for p in table)
        hint = "\n" + tr("Hint: these look like (name, value) pairs: dict(pairs) makes the dict.") if pairs else ""
        raise Failure(tr("{fn} should return a dict (node name -> {quantity}), got {kind}: {table!r:.80}{hint}",
                         fn=fn, quantity=quantity, kind=kind(table), table=table, hint=hint))
    try:
        v = table[name]
    except (KeyError, TypeError):
        raise Failure(tr("{fn} returned no {quantity} for node '{name}': it should have an entry for every "
                         "node (it has {names}).", fn=fn, quantity=quantity, name=name,
                         names=sorted(map(str, table.keys())))) from None
    return real(v, tr("{fn}: the {quantity} of node '{name}'", fn=fn, quantity=quantity, name=name)), v


def _agrees(got: float, raw, expected: float, what: str, rtol: float, atol: float) -> bool:
    """Whether ``got`` is close to ``expected``, with tolerances by the precision of ``raw`` (as returned)."""
    __tracebackhide__ = True
    rtol, atol = tolerances(raw, expected, what, rtol=rtol, atol=atol)
    return _close(got, expected, rtol, atol)


def _fresh(*structures):
    """A deep copy of each, for one call: nothing student code does to them reaches the grader's own."""
    return [copy.deepcopy(x) for x in structures]


def _close(got: float, expected: float, rtol: float, atol: float) -> bool:
    return math.isfinite(got) and abs(got - expected) <= atol + rtol * abs(expected)


def _show(nodes) -> str:
    return "[" + ", ".join(f"({n!r}, {op!r}, {ps!r})" for n, op, ps in nodes) + "]"


def _check_forward_on(forward, nodes, inputs) -> None:
    __tracebackhide__ = True
    expected = _evaluate(nodes, inputs)
    got = call(returning_plain, forward, *_fresh(nodes, inputs),
               what=tr("forward(nodes, inputs) on the graph {graph}", graph=_show(nodes)))
    for name, op, parents in nodes:
        v, raw = _lookup(got, name, "forward(nodes, inputs)", N_("value"))
        what = tr("{fn}: the {quantity} of node '{name}'", fn="forward(nodes, inputs)", quantity=tr("value"),
                  name=name)
        if _agrees(v, raw, expected[name], what, 1e-7, 1e-9):
            continue
        if op is None:
            raise Failure(tr("forward(nodes, inputs): input node '{name}' should hold inputs['{name}'] = "
                             "{expected:.6g}, got {got:.6g}.", name=name, expected=expected[name], got=v))
        args = ", ".join(f"{p} = {expected[p]:.6g}" for p in dict.fromkeys(parents))
        raise Failure(tr("forward(nodes, inputs): node '{name}' = {formula} with {args} should be {expected:.6g}, "
                         "got {got:.6g}.\nGraph: {graph}\nHint: evaluate each node with OPS[op][0] applied to its "
                         "parents' values, in list order.", name=name, formula=_formula(op, parents), args=args,
                         expected=expected[name], got=v, graph=_show(nodes)))


@hidden_check
def check_forward(forward) -> None:
    """forward(nodes, inputs) -> {name: value} for every node, checked node by node against the op table."""
    __tracebackhide__ = True
    for nodes, inputs in graphs("nb01.forward"):
        _check_forward_on(forward, nodes, inputs)


def _numeric_grad(nodes, inputs, values, j: str) -> float:
    """d output / d node j: make j an input holding values[j] +- h and difference the output (our table)."""
    cut = [(n, None, []) if n == j else (n, op, ps) for n, op, ps in nodes]
    h = 1e-6 * max(1.0, abs(values[j]))
    out = nodes[-1][0]
    plus = _evaluate(cut, {**inputs, j: values[j] + h})[out]
    minus = _evaluate(cut, {**inputs, j: values[j] - h})[out]
    return (plus - minus) / (2 * h)


def _hint(j, got, expected, kids, nodes_by_name, values, grads_ok) -> str:
    """Name the classic mistake behind a wrong grad_table[j], given its children's grads are right."""
    edges = kids[j]
    partials = [_OPS[nodes_by_name[c][1]][1](*(values[p] for p in nodes_by_name[c][2]))[slot]
                for c, slot in edges]
    shares = [grads_ok[c] * d for (c, _), d in zip(edges, partials)]
    if len(edges) > 1 and any(_close(got, s, 1e-4, 1e-6) for s in shares):
        return mistakes.BRANCH_OVERWRITTEN(j, [c for c, _ in edges])
    upstream_matters = any(not _close(grads_ok[c], 1.0, 1e-9, 0) for c, _ in edges)
    if upstream_matters and _close(got, sum(partials), 1e-4, 1e-6):
        return tr(mistakes.UPSTREAM_SUM)
    if got == 0 and expected != 0:
        return tr(mistakes.REVERSE_ORDER)
    if _close(got, -expected, 1e-4, 1e-6):
        return tr("it has the right size but the wrong sign.")
    return ""


@hidden_check
def check_backward(backward, forward=None) -> None:
    """backward(nodes, values) -> grad_table {name: d output / d name} for every node.

    Each entry is compared with central differences of the output computed with the op table (the
    notebook's formulas), never with the student's forward. ``forward`` is accepted because the
    notebook passes it, and is not called: a forward mistake costs check_forward's points only.
    """
    __tracebackhide__ = True
    for nodes, inputs in graphs("nb01.backward"):
        values = _evaluate(nodes, inputs)
        try:
            table = call(returning_plain, backward, *_fresh(nodes, values),
                         what=tr("backward(nodes, values) on the graph {graph}", graph=_show(nodes)))
        except Failure as exc:
            if "KeyError" in str(exc):
                raise Failure(tr("{error}\nHint: {hint}", error=str(exc), hint=tr(mistakes.READ_TOO_EARLY))) from None
            raise
        out = nodes[-1][0]
        g_out, raw = _lookup(table, out, "backward(nodes, values)", N_("gradient"))
        expect_true(_agrees(g_out, raw, 1.0, f"backward(nodes, values): grad_table['{out}']", 1e-9, 1e-12),
                    tr("backward(nodes, values): grad_table['{out}'] for the output node should be 1 "
                       "(d {out} / d {out}), got {got:.6g}.", out=out, got=g_out))
        kids, by_name = _children(nodes), {n: (n, op, ps) for n, op, ps in nodes}
        right = {out: 1.0}
        for j, _, _ in reversed(nodes[:-1]):
            got, raw = _lookup(table, j, "backward(nodes, values)", N_("gradient"))
            expected = _numeric_grad(nodes, inputs, values, j)
            if _agrees(got, raw, expected, f"backward(nodes, values): grad_table['{j}']", 1e-4, 1e-6):
                right[j] = expected
                continue
            hint = _hint(j, got, expected, kids, by_name, values, right)
            raise Failure(tr("backward(nodes, values): grad_table['{name}'] (d {out} / d {name}) is wrong: expected "
                             "{expected:.6g} (checked against numerical gradients of the graph's formulas), "
                             "got {got:.6g}.\nGraph: {graph}\nValues: {values}", name=j, out=out,
                             expected=expected, got=got, graph=_show(nodes),
                             values=", ".join(f"{n} = {values[n]:.4g}" for n, _, _ in nodes))
                          + ("\n" + tr("Hint: {hint}", hint=hint) if hint else ""))
