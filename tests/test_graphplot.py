"""bpcourse.graphplot: the drawn numbers are the computed ones, in the right place, without overlaps."""

import math
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from bpcourse.graphplot import draw_graph, fmt  # noqa: E402

# op label -> (forward, local gradients): our own small evaluator, so every drawn number is computed
OPS = {
    "×": (lambda a, b: a * b, lambda a, b: (b, a)),
    "+": (lambda a, b: a + b, lambda a, b: (1.0, 1.0)),
    "*-1": (lambda a: -a, lambda a: (-1.0,)),
    "exp": (math.exp, lambda a: (math.exp(a),)),
    "+1": (lambda a: a + 1, lambda a: (1.0,)),
    "1/x": (lambda a: 1 / a, lambda a: (-1 / a**2,)),
}

APPLE = [("apple", None, []), ("apple_num", None, []), ("tax", None, []),
         ("apple_price", "×", ["apple", "apple_num"]), ("price", "×", ["apple_price", "tax"])]
CIRCUIT = [("x", None, []), ("y", None, []), ("z", None, []), ("q", "+", ["x", "y"]), ("f", "×", ["q", "z"])]
SIGMOID = [("w0", None, []), ("x0", None, []), ("w1", None, []), ("x1", None, []), ("w2", None, []),
           ("a", "×", ["w0", "x0"]), ("b", "×", ["w1", "x1"]),
           ("c", "+", ["a", "b"]), ("d", "+", ["c", "w2"]),
           ("e", "*-1", ["d"]), ("g", "exp", ["e"]), ("h", "+1", ["g"]), ("f", "1/x", ["h"])]
SEED_INPUTS = {"apple": dict(apple=100, apple_num=2, tax=1.1), "circuit": dict(x=-2, y=5, z=-4),
               "sigmoid": dict(w0=2, x0=-1, w1=-3, x1=-2, w2=-3)}
GRAPHS = {"apple": APPLE, "circuit": CIRCUIT, "sigmoid": SIGMOID}


def run(nodes, inputs):
    """Forward in list order, then backward in reverse, adding gradients at branches."""
    v = dict(inputs)
    for name, op, parents in nodes:
        if op is not None:
            v[name] = OPS[op][0](*(v[p] for p in parents))
    g = {name: 0.0 for name, _, _ in nodes}
    g[nodes[-1][0]] = 1.0
    for name, op, parents in reversed(nodes):
        if op is not None:
            for p, local in zip(parents, OPS[op][1](*(v[p] for p in parents))):
                g[p] += g[name] * local
    return v, g


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def drawn(ax):
    """{gid: Text} for every label the drawing tagged."""
    return {t.get_gid(): t for t in ax.texts if t.get_gid()}


def edges(nodes):
    out = [f"{p}->{n}" for n, _, ps in nodes for p in ps]
    return out + [f"{nodes[-1][0]}->output"]


def test_seed_numbers_from_the_evaluator():
    v, g = run(APPLE, SEED_INPUTS["apple"])
    assert v["price"] == pytest.approx(220)
    assert [g[k] for k in ("apple", "apple_num", "tax")] == pytest.approx([2.2, 110, 200])
    v, g = run(CIRCUIT, SEED_INPUTS["circuit"])
    assert (v["q"], v["f"]) == (3, -12) and [g[k] for k in "xyz"] == pytest.approx([-4, -4, 3])
    v, g = run(SIGMOID, SEED_INPUTS["sigmoid"])
    assert round(v["f"], 2) == 0.73
    assert [round(g[k], 2) for k in ("w0", "x0", "w1", "x1", "w2")] == [-0.2, 0.39, -0.39, -0.59, 0.2]


@pytest.mark.parametrize("name", list(GRAPHS))
def test_every_edge_shows_its_value_and_grad(name):
    nodes = GRAPHS[name]
    v, g = run(nodes, SEED_INPUTS[name])
    ax = draw_graph(nodes, v, g)
    texts = drawn(ax)
    for edge in edges(nodes):
        src = edge.split("->")[0]
        assert texts[f"value:{edge}"].get_text() == fmt(v[src]), edge
        assert texts[f"grad:{edge}"].get_text() == fmt(g[src]), edge
        assert texts[f"grad:{edge}"].get_color() != texts[f"value:{edge}"].get_color()
    ops = [n for n, op, _ in nodes if op is not None]
    assert sorted(k for k in texts if k.startswith("op:")) == sorted(f"op:{n}" for n in ops)
    assert len([ln for ln in ax.lines if str(ln.get_gid()).startswith("node:")]) == len(ops)
    inputs = [n for n, op, _ in nodes if op is None]
    assert sorted(t.get_text() for k, t in texts.items() if k.startswith("input:")) == sorted(inputs)
    assert texts[f"output:{nodes[-1][0]}"].get_text() == nodes[-1][0]
    assert len([k for k in texts if k.startswith("value:")]) == len(edges(nodes))


@pytest.mark.parametrize("name", list(GRAPHS))
def test_values_above_grads_below_their_edge(name):
    nodes = GRAPHS[name]
    v, g = run(nodes, SEED_INPUTS[name])
    ax = draw_graph(nodes, v, g)
    ax.figure.canvas.draw()
    r = ax.figure.canvas.get_renderer()
    for gid, t in drawn(ax).items():
        if gid.startswith(("value:", "grad:")):
            edge_y = ax.transData.transform(t.xy)[1]  # the anchor lies on the edge line
            box = t.get_window_extent(r)
            if gid.startswith("value:"):
                assert box.y0 >= edge_y, gid
            else:
                assert box.y1 <= edge_y, gid
    # an input's edge leaves at the input's own height, between its label and its consumer
    texts = drawn(ax)
    first = nodes[0][0]
    consumer = next(n for n, _, ps in nodes if first in ps)
    anchor = texts[f"value:{first}->{consumer}"].xy
    assert anchor[1] == pytest.approx(texts[f"input:{first}"].xy[1])
    assert texts[f"input:{first}"].xy[0] < anchor[0] < texts[f"op:{consumer}"].get_position()[0]


@pytest.mark.parametrize("name", list(GRAPHS))
def test_no_label_overlaps_and_nothing_clipped(name):
    nodes = GRAPHS[name]
    v, g = run(nodes, SEED_INPUTS[name])
    ax = draw_graph(nodes, v, g, title=name)
    fig = ax.figure
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    boxes = {gid: t.get_window_extent(r).shrunk(0.97, 0.9) for gid, t in drawn(ax).items()}
    circles = {ln.get_gid()[5:]: ln.get_window_extent(r)
               for ln in ax.lines if str(ln.get_gid()).startswith("node:")}
    fig_box = fig.bbox
    for a, box in boxes.items():
        assert fig_box.x0 <= box.x0 and box.x1 <= fig_box.x1, a
        assert fig_box.y0 <= box.y0 and box.y1 <= fig_box.y1, a
        for b, other in boxes.items():
            assert a == b or not box.overlaps(other), (a, b)
        for node, circle in circles.items():
            assert a == f"op:{node}" or not box.overlaps(circle), (a, node)


def test_edge_grads_split_a_branch():
    nodes = [("x", None, []), ("y", None, []), ("a", "×", ["x", "y"]), ("b", "+", ["x", "a"])]
    v, g = run(nodes, dict(x=3.0, y=2.0))
    assert g["x"] == pytest.approx(3.0)  # gradients add at the branch: y + 1
    texts = drawn(draw_graph(nodes, v, g, edge_grads={("x", "a"): 2.0, ("x", "b"): 1.0}))
    assert texts["grad:x->a"].get_text() == "2" and texts["grad:x->b"].get_text() == "1"
    assert texts["grad:y->a"].get_text() == fmt(g["y"])
    assert texts["grad:x->a"].xy[1] != texts["grad:x->b"].xy[1]  # the two branches get their own lanes
    texts = drawn(draw_graph(nodes, v, g))
    assert texts["grad:x->a"].get_text() == texts["grad:x->b"].get_text() == fmt(g["x"])


def test_missing_numbers_are_left_out():
    v, _ = run(CIRCUIT, SEED_INPUTS["circuit"])
    texts = drawn(draw_graph(CIRCUIT, v))
    assert not [k for k in texts if k.startswith("grad:")]
    assert texts["value:q->f"].get_text() == fmt(v["q"])
    assert not [k for k in drawn(draw_graph(CIRCUIT)) if k.startswith(("value:", "grad:"))]


def test_draws_into_a_given_axes_without_showing(monkeypatch):
    monkeypatch.setattr(plt, "show", lambda *a, **k: pytest.fail("draw_graph must not call plt.show"))
    fig, ax = plt.subplots(figsize=(3, 2))
    n_figs = len(plt.get_fignums())
    assert draw_graph(APPLE, ax=ax, title="apples") is ax
    assert len(plt.get_fignums()) == n_figs and ax.get_title() == "apples"
    assert draw_graph(APPLE, figsize=(5, 1.5)).figure.get_size_inches() == pytest.approx([5, 1.5])


@pytest.mark.parametrize("value, text", [(220.00000000000003, "220"), (2.2, "2.2"), (110.0, "110"),
                                         (-0.19661193324148185, "-0.197"), (1.1 * 2, "2.2"), (-0.0, "0"),
                                         (12345.6, "12346"), (1e-7, "1e-07"), (0.7310585786, "0.731")])
def test_fmt_is_compact(value, text):
    assert fmt(value) == text


@pytest.mark.parametrize("nodes, words", [
    (APPLE[:3] + [("apple_price", "×", ["apple", "pear"])], ["apple_price", "unknown parent", "pear"]),
    ([APPLE[3]] + APPLE[:3], ["apple_price", "'apple'", "defined after"]),
    (APPLE + [("tax", None, [])], ["duplicate", "'tax'", "nodes[5]", "nodes[2]"]),
    ([("x", None, ["y"]), ("y", None, [])], ["'x'", "input"]),
    ([("x", None)], ["nodes[0]", "(name, op, parents)"]),
    ([("x", None, []), ("f", "exp", "x")], ["'f'", "list of names"]),
    ([], ["empty"]),
])
def test_bad_graph_names_the_node(nodes, words):
    with pytest.raises(ValueError) as err:
        draw_graph(nodes)
    for word in words:
        assert word in str(err.value)


def test_bad_numbers_name_the_key():
    with pytest.raises(ValueError, match="values has a key 'cost'"):
        draw_graph(APPLE, {"cost": 1})
    with pytest.raises(ValueError, match="grads has a key 'cost'"):
        draw_graph(APPLE, grads={"cost": 1})
    with pytest.raises(ValueError, match=r"edge_grads .*\('apple', 'price'\)"):
        draw_graph(APPLE, edge_grads={("apple", "price"): 1})
    with pytest.raises(TypeError, match="nodes must be a list"):
        draw_graph("apple")


def test_importing_bpcourse_stays_light():
    code = ("import sys, bpcourse\n"
            "assert 'matplotlib' not in sys.modules, 'bpcourse imported matplotlib'\n"
            "import bpcourse.graphplot\n"
            "assert 'matplotlib.pyplot' not in sys.modules, 'graphplot imported pyplot'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
