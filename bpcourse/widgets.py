"""Sliders that move the inputs of a computational graph (계산 그래프) and redraw its numbers, and a
step-by-step view of backward propagation (역전파) filling its grad_table, both with the student's own code.

Either widget takes the ``forward(nodes, inputs)`` and ``backward(nodes, values)`` a student wrote in
notebook 01. Each is used while it works; one that is missing, unfinished (NotImplementedError) or fails
(an error, a table without a number for every node) is replaced by the course's reference, and the widget
says which code drew what it shows. A wrong answer that *works* is shown as it is: that is the point.
"""

from __future__ import annotations

import base64
import io
import math

import ipywidgets as widgets
import matplotlib.pyplot as plt

from .graphplot import _parse, draw_graph, fmt
from .i18n import tr, tr_figure

__all__ = ["GraphExplorer", "graph_explorer", "apple_explorer", "APPLE_NODES", "GradTableStepper",
           "grad_table_stepper"]

APPLE_NODES = [("apple", None, []), ("apple_num", None, []), ("tax", None, []),
               ("apple_price", "×", ["apple", "apple_num"]), ("price", "×", ["apple_price", "tax"])]


def _png(ax) -> dict:
    """The Axes' figure as one display_data output; the figure is closed (pyplot keeps none per redraw)."""
    buf = io.BytesIO()
    ax.figure.savefig(buf, format="png", dpi=100)
    plt.close(ax.figure)
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": base64.b64encode(buf.getvalue()).decode("ascii"),
                     "text/plain": tr("<computational graph>")}}


def _table_problem(table, names) -> str:
    """'' if ``table`` maps every node name to one finite real number, else what is wrong with it."""
    if not hasattr(table, "keys") or not hasattr(table, "__getitem__"):
        return tr("returned {kind}, not a dict", kind=type(table).__name__)
    for n in names:
        try:
            v = table[n]
        except (KeyError, TypeError, IndexError):
            return tr("has no entry for node '{node}'", node=n)
        try:
            ok = not isinstance(v, (bool, complex, str)) and math.isfinite(float(v))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            return tr("gave node '{node}' {value!r:.40}, not a finite number", node=n, value=v)
    return ""


def _attempt(fn, label: str, names, *args):
    """(the table fn returns, '') when it works, else (None, why the reference stands in)."""
    if fn is None:
        return None, tr("no {label} was given", label=label)
    try:
        table = fn(*args)
    except NotImplementedError:
        return None, tr("your {label} is not written yet", label=label)
    except Exception as exc:  # noqa: BLE001 - the student's code may raise anything; the widget says what
        return None, tr("your {label} raised {kind}: {message}", label=label, kind=type(exc).__name__,
                        message=str(exc)[:80])
    problem = _table_problem(table, names)
    if problem:
        return None, tr("your {label} {problem}", label=label, problem=problem)
    return {n: float(table[n]) for n in names}, ""


def _source(label: str, why: str) -> str:
    return tr("{label}: yours", label=label) if not why else \
        tr("{label}: the course's reference ({why})", label=label, why=why)


def own_code_evaluator(nodes, reference, forward=None, backward=None):
    """evaluate(inputs) -> (values, grads, note) for GraphExplorer, with the student's forward and backward
    where they work and ``reference(inputs) -> (values, grads)`` where they don't; ``note`` says which."""
    names = [n for n, _, _ in nodes]

    def evaluate(inputs):
        ref_values, ref_grads = reference(dict(inputs))
        values, why_f = _attempt(forward, "forward", names, [tuple(n) for n in nodes], dict(inputs))
        if values is None:
            values = {**inputs, **ref_values}
        grads, why_b = _attempt(backward, "backward", names, [tuple(n) for n in nodes], dict(values))
        if grads is None:
            grads = ref_grads
        return values, grads, tr("Drawn with {forward}; {backward}.", forward=_source("forward", why_f),
                                 backward=_source("backward", why_b))
    return evaluate


class GraphExplorer(widgets.VBox):
    """A FloatSlider per input above an Output showing the graph.

    ``evaluate(inputs)`` returns (values, grads), or (values, grads, note) with a line of text shown above
    the graph (``note``). ``ax`` and ``figure`` hold the latest drawing, ``message`` the text shown instead
    of it (or None)."""

    def __init__(self, nodes, evaluate, inputs, *, title=None):
        if not callable(evaluate):
            raise TypeError(tr("evaluate must be a function inputs -> (values, grads), got {kind}",
                               kind=type(evaluate).__name__))
        names, ops, _, _ = _parse(nodes)
        graph_inputs = [n for n in names if ops[n] is None]
        sliders = {}
        for name, spec in dict(inputs).items():
            if name not in ops or ops[name] is not None:
                raise ValueError(tr("inputs has {name!r}, which is not an input node of the graph "
                                    "(its inputs are {inputs})", name=name, inputs=graph_inputs))
            try:
                lo, hi, step, init = (float(v) for v in spec)
            except (TypeError, ValueError):
                raise ValueError(tr("inputs[{name!r}] must be (min, max, step, initial), got {spec!r}",
                                    name=name, spec=spec)) from None
            if not lo <= init <= hi:
                raise ValueError(tr("inputs[{name!r}]: initial {init} is outside [{lo}, {hi}]", name=name,
                                    init=init, lo=lo, hi=hi))
            sliders[name] = widgets.FloatSlider(value=init, min=lo, max=hi, step=step, description=str(name),
                                                style={"description_width": "initial"})
        self.nodes, self.evaluate, self.sliders = list(nodes), evaluate, sliders
        self.output, self.label = widgets.Output(), widgets.Label()
        self.graph_title, self.figure, self.ax, self.message, self.note = title, None, None, None, None
        super().__init__([*sliders.values(), self.label, self.output])
        for s in sliders.values():
            s.observe(self._redraw, names="value")
        self._redraw()

    def _redraw(self, change=None):
        x = {name: s.value for name, s in self.sliders.items()}
        try:
            result = self.evaluate(dict(x))
        except NotImplementedError:
            self.figure = self.ax = None
            self.message = tr("Finish the exercise first: evaluate raised NotImplementedError.")
            self.output.outputs = ({"output_type": "stream", "name": "stdout", "text": self.message + "\n"},)
            return
        if not (isinstance(result, tuple) and len(result) in (2, 3)):
            raise TypeError(tr("evaluate must return (values, grads), got {kind}: {result!r:.80}",
                               kind=type(result).__name__, result=result))
        values, grads = result[:2]
        self.note = str(result[2]) if len(result) == 3 else None
        self.label.value = self.note or ""
        ax = draw_graph(self.nodes, {**x, **values}, grads, title=self.graph_title)
        self.figure, self.ax, self.message = ax.figure, ax, None
        self.output.outputs = (_png(ax),)


def graph_explorer(nodes, evaluate, inputs, *, title=None) -> GraphExplorer:
    """Sliders {input: (min, max, step, initial)}; ``evaluate(inputs) -> (values, grads)`` on every move."""
    return GraphExplorer(nodes, evaluate, inputs, title=title)


def _apple(x):
    a, n, t = x["apple"], x["apple_num"], x["tax"]
    values = {"apple_price": a * n, "price": a * n * t}
    # a multiply node passes the upstream gradient times the *other* input
    grads = {"price": 1.0, "apple_price": t, "tax": a * n, "apple": n * t, "apple_num": a * t}
    return values, grads


def apple_explorer(forward=None, backward=None) -> GraphExplorer:
    """The apple-shopping graph: price 100, count 2, tax 1.1 give 220 and gradients 2.2, 110, 200.

    With notebook 01's ``forward`` and ``backward`` it draws what they compute (the course's reference
    stands in for one that is missing or fails, and the widget says so)."""
    inputs = {"apple": (50, 200, 10, 100), "apple_num": (1, 10, 1, 2), "tax": (1.0, 1.5, 0.05, 1.1)}
    evaluate = _apple if forward is None and backward is None else \
        own_code_evaluator(APPLE_NODES, _apple, forward, backward)
    return graph_explorer(APPLE_NODES, evaluate, inputs, title=tr_figure("Buying apples"))


class GradTableStepper(widgets.VBox):
    """Algorithm 6.2 one node at a time, from the output back: which node's gradient is computed, from which
    children's gradients and local derivatives (``ops[op][1]``, as in notebook 01), and the table so far.

    The numbers are those of the student's ``forward`` and ``backward``; until both work it says what to finish and
    shows nothing else (it holds no answer of its own).
    ``steps[k]`` is {"node", "terms": [(child, its gradient, local derivative)], "sum", "value"}:
    ``value`` is what the table holds for the node, ``sum`` what its children's shares add up to. ``step``
    is the step shown, ``text`` what it says, ``note`` which code filled the table, ``ax`` the drawing."""

    def __init__(self, nodes, inputs, ops, *, forward=None, backward=None, title=None):
        names, node_ops, parents, _ = _parse(nodes)
        for n in names:
            if node_ops[n] is not None and node_ops[n] not in ops:
                raise ValueError(tr("node {node!r} has op {op!r}, which is not in ops ({ops})", node=n,
                                    op=node_ops[n], ops=sorted(ops)))
        graph = [(n, o, list(p)) for n, o, p in nodes]
        values, why_f = _attempt(forward, "forward", names, graph, dict(inputs))
        table, why_b = _attempt(backward, "backward", names, graph, dict(values)) if values else (None, "")
        self.nodes, self.values, self.graph_title, self.steps = list(nodes), values or {}, title, []
        self.own = values is not None and table is not None
        if not self.own:  # the stepper explains the student's own table; it has no table of its own to show
            missing = why_f or why_b
            self.note = tr("Nothing to step through yet: {missing}. Finish it above, then run this cell again.",
                           missing=missing)
            self.step, self.text, self.ax, self.label = -1, self.note, None, widgets.Label(self.note)
            super().__init__([self.label])
            return
        local = {c: ops[node_ops[c]][1](*(values[p] for p in parents[c])) for c in names if node_ops[c]}
        out = names[-1]
        for j in reversed(names):  # each node's entry beside the shares its children's entries send it
            terms = [(c, table[c], float(local[c][slot])) for c in names if node_ops[c]
                     for slot, p in enumerate(parents[c]) if p == j]
            total = 1.0 if j == out else sum(g * d for _, g, d in terms)
            self.steps.append({"node": j, "terms": terms, "sum": total, "value": table[j]})
        self.note = tr("Filled with your forward and your backward.")
        self.slider = widgets.IntSlider(value=1, min=1, max=len(names), description=tr("step"),
                                        style={"description_width": "initial"})
        back, ahead = widgets.Button(description=tr("◀ back")), widgets.Button(description=tr("next ▶"))
        back.on_click(lambda _: self.show(self.step - 1))
        ahead.on_click(lambda _: self.show(self.step + 1))
        self.label, self.html, self.output = widgets.Label(self.note), widgets.HTML(), widgets.Output()
        super().__init__([widgets.HBox([back, self.slider, ahead]), self.label, self.html, self.output])
        self.slider.observe(lambda change: self.show(change["new"] - 1), names="value")
        self.step, self.text, self.ax = -1, "", None
        self.show(0)

    def describe(self, k: int) -> str:
        """What step k (0 = the output) computes, in words and numbers."""
        s, out = self.steps[k], self.steps[0]["node"]
        head = tr("Step {k} of {n}: grad_table['{node}']", k=k + 1, n=len(self.steps), node=s["node"])
        if k == 0:
            return tr("{head} = 1: the output, d {out} / d {out}.", head=head, out=out)
        if not s["terms"]:
            return tr("{head} = 0: '{node}' feeds no node.", head=head, node=s["node"])
        names = " + ".join(f"grad_table['{c}'] × ∂{c}/∂{s['node']}" for c, _, _ in s["terms"])
        numbers = " + ".join(f"{fmt(g)} × {fmt(d)}" for _, g, d in s["terms"])
        text = f"{head} = {names} = {numbers} = {fmt(s['sum'])}."
        if self.own and not math.isclose(s["value"], s["sum"], rel_tol=1e-6, abs_tol=1e-9):
            text += tr(" Your backward has {value} here, but the shares from its children (as your table holds "
                       "them) add up to {sum}.", value=fmt(s["value"]), sum=fmt(s["sum"]))
        return text

    def show(self, k: int) -> None:
        """Show step k (0-based, clipped to the steps there are): the table filled up to that node."""
        if not self.steps:
            return
        k = max(0, min(int(k), len(self.steps) - 1))
        if k == self.step:
            return
        self.step, self.text = k, self.describe(k)
        self.slider.value = k + 1
        self.html.value = f"<p>{self.text.replace('&', '&amp;').replace('<', '&lt;')}</p>"
        grads = {s["node"]: s["value"] for s in self.steps[:k + 1]}
        ax = draw_graph(self.nodes, self.values, grads, title=self.graph_title)
        current = self.steps[k]["node"]
        for artist in [*ax.lines, *ax.texts]:
            if artist.get_gid() == f"node:{current}":
                artist.set_markerfacecolor("#ffe08a")
            elif artist.get_gid() == f"input:{current}":
                artist.set_color("#b8860b")
                artist.set_fontweight("bold")
        self.ax = ax
        self.output.outputs = (_png(ax),)


def grad_table_stepper(nodes, inputs, ops, *, forward=None, backward=None, title=None) -> GradTableStepper:
    """Step through grad_table (Algorithm 6.2) on ``nodes`` at ``inputs``, with notebook 01's ``OPS`` table
    and, where they work, the student's ``forward`` and ``backward``."""
    return GradTableStepper(nodes, inputs, ops, forward=forward, backward=backward, title=title)
