"""Sliders that move the inputs of a computational graph (계산 그래프) and redraw its numbers."""

from __future__ import annotations

import base64
import io

import ipywidgets as widgets
import matplotlib.pyplot as plt

from .graphplot import _parse, draw_graph

__all__ = ["GraphExplorer", "graph_explorer", "apple_explorer", "APPLE_NODES"]

APPLE_NODES = [("apple", None, []), ("apple_num", None, []), ("tax", None, []),
               ("apple_price", "×", ["apple", "apple_num"]), ("price", "×", ["apple_price", "tax"])]


class GraphExplorer(widgets.VBox):
    """A FloatSlider per input above an Output showing the graph.

    ``ax`` and ``figure`` hold the latest drawing, ``message`` the text shown instead of it (or None)."""

    def __init__(self, nodes, evaluate, inputs, *, title=None):
        if not callable(evaluate):
            raise TypeError("evaluate must be a function inputs -> (values, grads), "
                            f"got {type(evaluate).__name__}")
        names, ops, _, _ = _parse(nodes)
        graph_inputs = [n for n in names if ops[n] is None]
        sliders = {}
        for name, spec in dict(inputs).items():
            if name not in ops or ops[name] is not None:
                raise ValueError(f"inputs has {name!r}, which is not an input node of the graph "
                                 f"(its inputs are {graph_inputs})")
            try:
                lo, hi, step, init = (float(v) for v in spec)
            except (TypeError, ValueError):
                raise ValueError(f"inputs[{name!r}] must be (min, max, step, initial), "
                                 f"got {spec!r}") from None
            if not lo <= init <= hi:
                raise ValueError(f"inputs[{name!r}]: initial {init} is outside [{lo}, {hi}]")
            sliders[name] = widgets.FloatSlider(value=init, min=lo, max=hi, step=step, description=str(name),
                                                style={"description_width": "initial"})
        self.nodes, self.evaluate, self.sliders = list(nodes), evaluate, sliders
        self.output = widgets.Output()
        self.graph_title, self.figure, self.ax, self.message = title, None, None, None
        super().__init__([*sliders.values(), self.output])
        for s in sliders.values():
            s.observe(self._redraw, names="value")
        self._redraw()

    def _redraw(self, change=None):
        x = {name: s.value for name, s in self.sliders.items()}
        try:
            result = self.evaluate(dict(x))
        except NotImplementedError:
            self.figure = self.ax = None
            self.message = "Finish the exercise first: evaluate raised NotImplementedError."
            self.output.outputs = ({"output_type": "stream", "name": "stdout", "text": self.message + "\n"},)
            return
        if not (isinstance(result, tuple) and len(result) == 2):
            raise TypeError(f"evaluate must return (values, grads), "
                            f"got {type(result).__name__}: {result!r:.80}")
        values, grads = result
        ax = draw_graph(self.nodes, {**x, **values}, grads, title=self.graph_title)
        buf = io.BytesIO()
        ax.figure.savefig(buf, format="png", dpi=100)
        plt.close(ax.figure)  # rendered to PNG above; closing keeps pyplot from holding one figure per move
        self.figure, self.ax, self.message = ax.figure, ax, None
        png = base64.b64encode(buf.getvalue()).decode("ascii")
        self.output.outputs = ({"output_type": "display_data", "metadata": {},
                                "data": {"image/png": png, "text/plain": "<computational graph>"}},)


def graph_explorer(nodes, evaluate, inputs, *, title=None) -> GraphExplorer:
    """Sliders {input: (min, max, step, initial)}; ``evaluate(inputs) -> (values, grads)`` on every move."""
    return GraphExplorer(nodes, evaluate, inputs, title=title)


def _apple(x):
    a, n, t = x["apple"], x["apple_num"], x["tax"]
    values = {"apple_price": a * n, "price": a * n * t}
    # a multiply node passes the upstream gradient times the *other* input
    grads = {"price": 1.0, "apple_price": t, "tax": a * n, "apple": n * t, "apple_num": a * t}
    return values, grads


def apple_explorer() -> GraphExplorer:
    """The apple-shopping graph: price 100, count 2, tax 1.1 give 220 and gradients 2.2, 110, 200."""
    inputs = {"apple": (50, 200, 10, 100), "apple_num": (1, 10, 1, 2), "tax": (1.0, 1.5, 0.05, 1.1)}
    return graph_explorer(APPLE_NODES, _apple, inputs, title="Buying apples")
