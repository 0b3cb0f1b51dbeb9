"""Draw a network's layers (계층) as the student built them: one box per layer, in forward order.

``draw_layers(net)`` reads ``net.layers`` (the OrderedDict of notebook 07's ``TwoLayerNet``) and, if there is
one, ``net.lastLayer``. Each box names the layer, its class, the shape of each parameter it holds (``W``,
``b``) and, once a backward pass has run, the norm ‖·‖ of each gradient it stored (``dW``, ``db``). Nothing
is recomputed: what is drawn is what the student's objects hold.
"""

from __future__ import annotations

import numpy as np

from .graphplot import fmt
from .i18n import tr, tr_figure

__all__ = ["draw_layers", "layer_summary"]

PARAMS = ("W", "b")  # the parameters a layer may hold, and beside each the gradient backward stores
GRADS = {"W": "dW", "b": "db"}
BOX_W, BOX_H, GAP = 2.2, 1.5, 0.7  # in data units (about inches at the default size)


def _array(value, where: str):
    """value as an array of numbers, or a ValueError that names where it came from."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(tr("{where} should be an array of numbers, got {kind}", where=where,
                            kind=type(value).__name__)) from None
    return arr


def layer_summary(net) -> list[dict]:
    """[{name, kind, params: {p: shape}, grads: {p: norm or None}}, ...] for each layer in forward order.

    A layer without parameters (ReLU, the loss) has empty ``params``; a gradient is None until a backward
    pass has stored it. Raises TypeError, saying what it found, when ``net.layers`` is missing or is not a
    mapping of names to layers.
    """
    if not hasattr(net, "layers"):
        raise TypeError(tr("draw_layers needs a network with an attribute layers (an OrderedDict of its layers, "
                           "in forward order); this {kind} has none", kind=type(net).__name__))
    layers = net.layers
    if not hasattr(layers, "items"):
        raise TypeError(tr("net.layers should be an OrderedDict of name -> layer, got {kind}",
                           kind=type(layers).__name__))
    items = list(layers.items())
    last = getattr(net, "lastLayer", None)
    if last is not None:
        items.append(("lastLayer", last))
    rows = []
    for name, layer in items:
        params, grads = {}, {}
        for p in PARAMS:
            value = getattr(layer, p, None)
            if value is None:
                continue
            params[p] = np.shape(_array(value, f"{name}.{p}"))
            g = getattr(layer, GRADS[p], None)
            grads[p] = None if g is None else float(np.linalg.norm(_array(g, f"{name}.{GRADS[p]}")))
        rows.append({"name": str(name), "kind": type(layer).__name__, "params": params, "grads": grads})
    if not rows:
        raise TypeError(tr("net.layers is empty: there is nothing to draw"))
    return rows


def _box_text(row) -> list[str]:
    lines = []
    if not row["params"]:
        return [tr_figure("no parameters")]
    for p, shape in row["params"].items():
        g = row["grads"][p]
        norm = "‖d" + p + "‖ = " + (fmt(g) if g is not None else "–")
        lines.append(f"{p} {tuple(shape)}   {norm}")
    return lines


def draw_layers(net, *, ax=None, title=None):
    """One box per layer of ``net.layers`` (then ``lastLayer``), left to right, with parameter shapes and
    gradient norms; arrows show the forward order (the backward pass walks them right to left).
    Returns the Axes."""
    rows = layer_summary(net)
    n = len(rows)
    width = n * BOX_W + (n - 1) * GAP
    if ax is None:
        import matplotlib.pyplot as plt  # only here: drawing into a given Axes needs no pyplot
        fig, ax = plt.subplots(figsize=(max(width * 1.05, 4), BOX_H + 0.9))
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    for i, row in enumerate(rows):
        x0 = i * (BOX_W + GAP)
        face = "#eef4fb" if row["params"] else "#f4f4f4"
        ax.add_patch(FancyBboxPatch((x0, 0), BOX_W, BOX_H, boxstyle="round,pad=0.02,rounding_size=0.08",
                                    fc=face, ec="#333333", lw=1.1, gid="layer:" + row["name"]))
        ax.text(x0 + BOX_W / 2, BOX_H - 0.25, row["name"], ha="center", va="center", fontsize=10,
                weight="bold", gid="name:" + row["name"])
        ax.text(x0 + BOX_W / 2, BOX_H - 0.55, row["kind"], ha="center", va="center", fontsize=8,
                color="#555555", gid="kind:" + row["name"])
        for j, line in enumerate(_box_text(row)):
            ax.text(x0 + BOX_W / 2, BOX_H - 0.9 - 0.3 * j, line, ha="center", va="center", fontsize=7.5,
                    color="#d62728" if "‖" in line and "–" not in line else "#222222",
                    gid=f"line:{row['name']}:{j}")
        if i:
            ax.add_patch(FancyArrowPatch((x0 - GAP + 0.05, BOX_H / 2), (x0 - 0.05, BOX_H / 2),
                                         arrowstyle="-|>", mutation_scale=10, color="#555555"))
    ax.set_xlim(-0.1, width + 0.1)
    ax.set_ylim(-0.15, BOX_H + 0.15)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=11)
    return ax
