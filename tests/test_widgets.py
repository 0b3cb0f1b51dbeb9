"""bpcourse.widgets: moving a slider re-evaluates the graph and redraws its numbers, without a browser."""

import base64

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from bpcourse.graphplot import fmt  # noqa: E402
from bpcourse.widgets import APPLE_NODES, apple_explorer, graph_explorer  # noqa: E402

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
