"""bpcourse.widgets: moving a slider re-evaluates the graph and redraws its numbers, without a browser."""

import base64

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from bpcourse.graphplot import fmt  # noqa: E402
from bpcourse.widgets import APPLE_NODES, apple_explorer, grad_table_stepper, graph_explorer  # noqa: E402

CIRCUIT = [("x", None, []), ("y", None, []), ("z", None, []), ("q", "+", ["x", "y"]), ("f", "×", ["q", "z"])]
CIRCUIT_INPUTS = {"x": (-5, 5, 0.5, -2), "y": (-5, 5, 0.5, 5), "z": (-5, 5, 0.5, -4)}


def circuit(inputs):
    x, y, z = inputs["x"], inputs["y"], inputs["z"]
    q = x + y
    return {"q": q, "f": q * z}, {"f": 1.0, "q": z, "z": q, "x": z, "y": z}


class Spy:
    def __init__(self, fn):
        self.fn, self.calls = fn, []

    def __call__(self, inputs):
        self.calls.append(dict(inputs))
        return self.fn(inputs)


def texts(widget):
    return {t.get_gid(): t.get_text() for t in widget.ax.texts if t.get_gid()}


def shown_png(widget):
    (out,) = widget.output.outputs
    return base64.b64decode(out["data"]["image/png"])


def test_slider_move_reevaluates_and_redraws():
    spy = Spy(circuit)
    w = graph_explorer(CIRCUIT, spy, CIRCUIT_INPUTS, title="circuit")
    assert spy.calls == [{"x": -2, "y": 5, "z": -4}]
    assert texts(w)["value:f->output"] == fmt(-12) and texts(w)["grad:x->q"] == fmt(-4)
    first_png = shown_png(w)
    assert first_png.startswith(b"\x89PNG")

    w.sliders["z"].value = 2.5
    assert spy.calls[-1] == {"x": -2, "y": 5, "z": 2.5}
    values, grads = circuit(spy.calls[-1])
    shown = texts(w)
    assert shown["value:f->output"] == fmt(values["f"])
    assert shown["value:z->f"] == fmt(2.5)  # slider values are drawn as the inputs' forward values
    for edge in ("x->q", "y->q", "z->f", "q->f"):
        assert shown[f"grad:{edge}"] == fmt(grads[edge.split("->")[0]]), edge
    assert shown_png(w) != first_png
    assert w.ax.get_title() == "circuit"


def test_redraws_do_not_leak_figures():
    w = graph_explorer(CIRCUIT, circuit, CIRCUIT_INPUTS)
    before = len(plt.get_fignums())
    for v in (-1.0, 0.5, 3.0, 4.5, -4.0):
        w.sliders["x"].value = v
    assert len(plt.get_fignums()) == before == 0
    assert len(w.output.outputs) == 1


def test_apple_explorer_starts_at_the_seed_and_follows_the_sliders():
    w = apple_explorer()
    assert set(w.sliders) == {"apple", "apple_num", "tax"}
    shown = texts(w)
    a, n, t = (w.sliders[k].value for k in ("apple", "apple_num", "tax"))
    assert (a, n, t) == (100, 2, pytest.approx(1.1))
    assert shown["value:price->output"] == fmt(a * n * t)
    assert [shown[f"grad:{e}"] for e in ("apple->apple_price", "apple_num->apple_price", "tax->price")] == \
        [fmt(n * t), fmt(a * t), fmt(a * n)]
    w.sliders["apple_num"].value = 5
    shown = texts(w)
    assert shown["value:price->output"] == fmt(a * 5 * t)
    assert shown["grad:apple->apple_price"] == fmt(5 * t) and shown["grad:tax->price"] == fmt(a * 5)
    assert len([g for g in shown if g.startswith("op:")]) == len([n for n in APPLE_NODES if n[1]])


def test_unfinished_exercise_shows_a_message():
    def evaluate(inputs):
        raise NotImplementedError()

    w = graph_explorer(CIRCUIT, evaluate, CIRCUIT_INPUTS)
    w.sliders["y"].value = 1.0  # must not raise either
    assert w.ax is None and "finish the exercise" in w.message.lower()
    (out,) = w.output.outputs
    assert out["output_type"] == "stream" and "finish the exercise" in out["text"].lower()


def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match="evaluate must be a function"):
        graph_explorer(CIRCUIT, {"f": 1}, CIRCUIT_INPUTS)
    with pytest.raises(ValueError, match="'q', which is not an input"):
        graph_explorer(CIRCUIT, circuit, {"q": (0, 1, 0.1, 0.5)})
    with pytest.raises(ValueError, match=r"inputs\['x'\] must be \(min, max, step, initial\)"):
        graph_explorer(CIRCUIT, circuit, {"x": (0, 1)})
    with pytest.raises(ValueError, match=r"inputs\['x'\]: initial 7.0 is outside"):
        graph_explorer(CIRCUIT, circuit, {"x": (0, 1, 0.1, 7)})
    with pytest.raises(ValueError, match="unknown parent"):
        graph_explorer(CIRCUIT + [("g", "exp", ["w"])], circuit, CIRCUIT_INPUTS)
    with pytest.raises(TypeError, match=r"evaluate must return \(values, grads\)"):
        graph_explorer(CIRCUIT, lambda inputs: -12.0, CIRCUIT_INPUTS)


# ---------------------------------------------------------------- the student's own forward and backward (01)

OPS = {"×": (lambda a, b: a * b, lambda a, b: (b, a)), "+": (lambda a, b: a + b, lambda a, b: (1.0, 1.0))}
BRANCH = [("x", None, []), ("y", None, []), ("xy", "×", ["x", "y"]), ("f", "+", ["xy", "x"])]


def forward_walk(nodes, inputs):
    """Notebook 01's forward, as a student writes it."""
    values = {}
    for name, op, parents in nodes:
        values[name] = inputs[name] if op is None else OPS[op][0](*[values[p] for p in parents])
    return values


def backward_overwriting(nodes, values):
    """Notebook 01's backward with the classic slip: `=` where a branch needs `+=`."""
    grads = {name: 0.0 for name, _, _ in nodes}
    grads[nodes[-1][0]] = 1.0
    for name, op, parents in reversed(nodes):
        if op is not None:
            for p, d in zip(parents, OPS[op][1](*[values[q] for q in parents])):
                grads[p] = grads[name] * d
    return grads


def backward_summing(nodes, values):
    """Notebook 01's backward, right: every share that reaches a node is added."""
    grads = {name: 0.0 for name, _, _ in nodes}
    grads[nodes[-1][0]] = 1.0
    for name, op, parents in reversed(nodes):
        if op is not None:
            for p, d in zip(parents, OPS[op][1](*[values[q] for q in parents])):
                grads[p] += grads[name] * d
    return grads


def backward_scaled(nodes, values):
    """Deliberately wrong everywhere but the output: 10 times each entry the overwriting slip gives."""
    grads = backward_overwriting(nodes, values)
    return {n: g if n == nodes[-1][0] else 10 * g for n, g in grads.items()}


def unfinished(*args):
    raise NotImplementedError("backward is not written yet: replace this line with your code")


def test_apple_explorer_draws_the_students_own_numbers_and_says_so():
    w = apple_explorer(forward_walk, backward_scaled)
    shown = texts(w)
    # 10 × the right gradients (apple price 1.1 → 11, tax 200 → 2000): they came from the function given
    assert shown["grad:apple_price->price"] == fmt(11) and shown["grad:tax->price"] == fmt(2000)
    assert shown["value:price->output"] == fmt(220)
    assert w.note == w.label.value and "forward: yours" in w.note and "backward: yours" in w.note
    w.sliders["apple_num"].value = 3
    assert texts(w)["grad:apple->apple_price"] == fmt(10 * 3 * 1.1)


@pytest.mark.parametrize("backward, why", [
    (None, "no backward was given"),
    (unfinished, "your backward is not written yet"),
    (lambda nodes, values: 1 / 0, "your backward raised ZeroDivisionError"),
    (lambda nodes, values: {"price": 1.0}, "your backward has no entry for node 'apple'"),
    (lambda nodes, values: [1.0] * 5, "your backward returned list, not a dict"),
    (lambda nodes, values: dict.fromkeys([n for n, _, _ in nodes], float("nan")), "not a finite number"),
])
def test_apple_explorer_falls_back_to_the_reference_and_says_why(backward, why):
    w = apple_explorer(forward_walk, backward)
    shown = texts(w)
    assert [shown[f"grad:{e}"] for e in ("apple->apple_price", "apple_num->apple_price", "tax->price")] == \
        [fmt(2.2), fmt(110), fmt(200)]
    assert "forward: yours" in w.note and "backward: the course's reference" in w.note and why in w.note, w.note


def test_apple_explorer_with_an_unfinished_forward_still_uses_a_working_backward():
    w = apple_explorer(unfinished, backward_scaled)
    assert "forward: the course's reference (your forward is not written yet)" in w.note
    assert "backward: yours" in w.note and texts(w)["grad:tax->price"] == fmt(2000)


def test_the_students_forward_values_are_what_the_backward_gets_and_what_is_drawn():
    seen = []

    def forward_off(nodes, inputs):
        return {**forward_walk(nodes, inputs), "apple_price": 999.0}

    def backward_spy(nodes, values):
        seen.append(dict(values))
        return backward_overwriting(nodes, values)

    w = apple_explorer(forward_off, backward_spy)
    assert seen[-1]["apple_price"] == 999.0 and texts(w)["value:apple_price->price"] == fmt(999)
    assert texts(w)["grad:tax->price"] == fmt(999)  # d price / d tax is apple_price: the student's 999


# ---------------------------------------------------------------- grad_table, one node at a time

def test_stepper_walks_the_nodes_in_reverse_and_fills_the_table():
    w = grad_table_stepper(BRANCH, {"x": 3.0, "y": -2.0}, OPS, forward=forward_walk, backward=backward_overwriting)
    assert [s["node"] for s in w.steps] == ["f", "xy", "y", "x"]
    assert w.step == 0 and "grad_table['f'] = 1" in w.text and set(_grads(w)) == {"f->output"}
    w.show(1)
    assert w.steps[1]["terms"] == [("f", 1.0, 1.0)] and _grads(w) == {"f->output": "1", "xy->f": "1"}
    w.slider.value = 4  # the last step: x, which feeds two nodes
    assert w.step == 3
    assert w.steps[3]["terms"] == [("xy", 1.0, -2.0), ("f", 1.0, 1.0)] and w.steps[3]["sum"] == -1.0
    assert "grad_table['xy'] × ∂xy/∂x + grad_table['f'] × ∂f/∂x = 1 × -2 + 1 × 1 = -1" in w.text


def test_stepper_shows_the_students_numbers_and_where_they_disagree_with_the_shares():
    w = grad_table_stepper(BRANCH, {"x": 3.0, "y": -2.0}, OPS, forward=forward_walk, backward=backward_overwriting)
    assert w.note == "Filled with your forward and your backward."
    w.show(3)
    # the overwriting backward keeps only the last share to reach x: 1 × -2, from the × node
    assert w.steps[3]["value"] == -2.0
    assert _grads(w)["x->xy"] == fmt(-2) and _grads(w)["x->f"] == fmt(-2)
    assert "Your backward has -2 here, but the shares from its children (as your table holds them) add up to -1" \
        in w.text
    w.show(2)
    assert "Your backward" not in w.text  # y is right: no complaint


def test_stepper_uses_the_students_table_for_the_childrens_gradients():
    w = grad_table_stepper(BRANCH, {"x": 3.0, "y": -2.0}, OPS, forward=forward_walk, backward=backward_scaled)
    w.show(2)
    assert w.steps[2]["terms"] == [("xy", 10.0, 3.0)]  # grad_table['xy'] as the student's table has it
    assert w.steps[2]["sum"] == 30.0 and w.steps[2]["value"] == 30.0 and _grads(w)["y->xy"] == fmt(30)
    w.show(1)
    assert w.steps[1]["value"] == 10.0 and "Your backward has 10 here" in w.text  # 10 × d f / d xy = 1


@pytest.mark.parametrize("forward, backward, why", [
    ("unfinished", "unfinished", "your forward is not written yet"),
    ("forward_walk", "unfinished", "your backward is not written yet"),
    ("forward_walk", None, "no backward was given")])
def test_stepper_without_working_code_says_what_to_finish_and_shows_no_numbers(forward, backward, why):
    """It explains the student's own table; the package holds no forward or backward to stand in for theirs."""
    pick = {"unfinished": unfinished, "forward_walk": forward_walk, None: None}
    w = grad_table_stepper(BRANCH, {"x": 3.0, "y": -2.0}, OPS, forward=pick[forward], backward=pick[backward])
    assert w.note == f"Nothing to step through yet: {why}. Finish it above, then run this cell again."
    assert w.steps == [] and w.ax is None and w.children == (w.label,)
    w.show(2)  # nothing to show, nothing raised
    assert w.step == -1 and len(plt.get_fignums()) == 0


def test_stepper_buttons_highlight_and_no_leaked_figures():
    w = grad_table_stepper(BRANCH, {"x": 3.0, "y": -2.0}, OPS, forward=forward_walk, backward=backward_summing)
    back, _, ahead = w.children[0].children
    ahead.click()
    ahead.click()
    assert w.step == 2 and w.slider.value == 3
    back.click()
    assert w.step == 1
    (node,) = [ln for ln in w.ax.lines if ln.get_gid() == "node:xy"]
    assert node.get_markerfacecolor() != "white"
    assert len(plt.get_fignums()) == 0 and shown_png(w).startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="op 'exp', which is not in ops"):
        grad_table_stepper(BRANCH + [("e", "exp", ["f"])], {"x": 1.0, "y": 1.0}, OPS)


def _grads(w):
    return {k[len("grad:"):]: v for k, v in texts(w).items() if k.startswith("grad:")}


def test_stepper_draws_the_students_forward_values_and_takes_local_derivatives_at_them():
    def forward_off(nodes, inputs):  # x = 5 instead of 3: drawn, and d xy / d y = x is taken there
        return {**forward_walk(nodes, inputs), "x": 5.0}

    w = grad_table_stepper(BRANCH, {"x": 3.0, "y": -2.0}, OPS, forward=forward_off, backward=backward_summing)
    assert w.note == "Filled with your forward and your backward."
    assert w.values["x"] == 5.0 and texts(w)["value:x->xy"] == fmt(5)
    assert w.steps[2]["terms"] == [("xy", 1.0, 5.0)] and w.steps[2]["value"] == 5.0
