"""Draw a small computational graph (계산 그래프) left to right with plain matplotlib.

Forward values sit above each edge and the gradients of backward propagation (역전파) below it in red,
as in the lecture figures. Inputs are text labels at the left end of their edge; operations are circles.
"""

from __future__ import annotations

import math

from matplotlib.patches import FancyArrowPatch

from .i18n import tr

__all__ = ["draw_graph", "draw_value_graph", "fmt"]

FORWARD, BACKWARD, EDGE = "#1a7a3a", "#d62728", "#555555"
RADIUS, FONT = 14, 9           # op circle radius and label size, in points
COL_IN, ROW_IN = 1.15, 0.62    # inches per column and per row at the default figure size
CHAR = 0.62 * (FONT + 1) / 72 / COL_IN  # rough width of one name character, in columns


def fmt(v) -> str:
    """A number in at most 3 significant digits (more only for whole numbers): 2.2, 110, -0.393."""
    x = float(v)
    prec = 3 if not math.isfinite(x) or abs(x) < 1000 else min(int(math.log10(abs(x))) + 1, 6)
    s = f"{x:.{prec}g}"
    return "0" if s == "-0" else s


def draw_value_graph(out, *, ax=None, title=None, figsize=None):
    """Draw the graph an autodiff ``Value`` (notebook 08) recorded, ending at ``out``: each node's ``data``
    above its edges and ``grad`` below, found through ``_prev`` (parents) and ``_op`` (label; "" for an input).
    Nodes are named by their ``label``; an input without one by its value (a constant), an operation by its
    position. Returns the Axes."""
    found, frontier = {id(out): out}, [out]
    while frontier:  # every node reachable from out through _prev
        for p in getattr(frontier.pop(), "_prev", ()):
            if id(p) not in found:
                found[id(p)] = p
                frontier.append(p)
    uses = dict.fromkeys(found, 0)  # edges from each node towards out
    for v in found.values():
        for p in getattr(v, "_prev", ()):
            uses[id(p)] += 1
    ready, output_first = [out], []
    while ready:  # Kahn's algorithm from the output: a node is placed once every node that uses it is
        output_first.append(ready.pop())
        for p in getattr(output_first[-1], "_prev", ()):
            uses[id(p)] -= 1
            if not uses[id(p)]:
                ready.append(p)
    order = output_first[::-1]
    names, used = {}, set()
    for i, v in enumerate(order):
        name = str(getattr(v, "label", "") or "") or (fmt(v.data) if not getattr(v, "_prev", ()) else f"n{i}")
        while name in used:
            name += "'"
        names[id(v)] = name
        used.add(name)
    nodes = []
    for v in order:
        parents = tuple(getattr(v, "_prev", ()))
        op = (str(getattr(v, "_op", "") or "?")) if parents else None
        nodes.append((names[id(v)], op, [names[id(p)] for p in parents]))
    values = {names[id(v)]: v.data for v in order}
    grads = {names[id(v)]: v.grad for v in order}
    return draw_graph(nodes, values, grads, ax=ax, title=title, figsize=figsize)


def _parse(nodes):
    """Check the node list; return names, ops and parents in order, and each node's children."""
    if isinstance(nodes, (str, bytes)) or not hasattr(nodes, "__iter__"):
        raise TypeError(tr("nodes must be a list of (name, op, parents) tuples, got {kind}",
                           kind=type(nodes).__name__))
    nodes = list(nodes)
    for i, node in enumerate(nodes):
        if not (isinstance(node, (tuple, list)) and len(node) == 3):
            raise ValueError(tr("nodes[{i}] must be a (name, op, parents) tuple, got {node!r:.80}", i=i, node=node))
    where = {}
    for i, (name, _, _) in enumerate(nodes):
        if name in where:
            raise ValueError(tr("nodes[{i}]: duplicate name {name!r} (already used by nodes[{first}])",
                                i=i, name=name, first=where[name]))
        where[name] = i
    if not where:
        raise ValueError(tr("nodes is empty: give at least one (name, op, parents) tuple"))
    ops, parents, children = {}, {}, {n: [] for n in where}
    for i, (name, op, ps) in enumerate(nodes):
        if isinstance(ps, str) or not hasattr(ps, "__iter__"):
            raise ValueError(tr("node {name!r} (nodes[{i}]): parents must be a list of names, got {parents!r}",
                                name=name, i=i, parents=ps))
        ps = list(ps)
        if op is None and ps:
            raise ValueError(tr("node {name!r} (nodes[{i}]) is an input (op None) but lists parents {parents}",
                                name=name, i=i, parents=ps))
        for p in ps:
            if p not in where:
                raise ValueError(tr("node {name!r} (nodes[{i}]): unknown parent {parent!r}", name=name, i=i,
                                    parent=p))
            if where[p] > i:
                raise ValueError(tr("node {name!r} (nodes[{i}]): parent {parent!r} is defined after it "
                                    "(nodes[{j}]); list nodes in topological order", name=name, i=i, parent=p,
                                    j=where[p]))
            children[p].append(name)
        ops[name], parents[name] = op, ps
    return list(where), ops, parents, children


def _layout(names, ops, parents, children):
    """Columns by longest path from the inputs (inputs just left of their first consumer);
    rows by a tree layout from the output: each input gets its own row, an operation sits at
    the mean height of its parents, so a chain of one-input operations stays on one line."""
    depth = {}
    for n in names:
        depth[n] = 1 + max((depth[p] for p in parents[n]), default=-1)
    col = {n: (min(depth[c] for c in children[n]) - 1 if ops[n] is None and children[n] else depth[n])
           for n in names}
    row, free = {}, [0]

    def place(n):
        if n not in row:
            if parents[n]:
                row[n] = sum(place(p) for p in parents[n]) / len(parents[n])
            else:
                row[n], free[0] = -free[0], free[0] + 1
        return row[n]

    for n in reversed(names):
        if not children[n]:
            place(n)
    return col, row


def _label(ax, text, x, y, dx, above, gid):
    color, dy, va = (FORWARD, 2.5, "bottom") if above else (BACKWARD, -2.5, "top")
    ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", ha="center", va=va,
                color=color, fontsize=FONT, gid=gid, zorder=5)


def draw_graph(nodes, values=None, grads=None, *, edge_grads=None, ax=None, title=None, figsize=None):
    """Draw ``nodes`` [(name, op, parents), ...] with forward ``values`` above the edges and
    ``grads`` (d output / d node) below them; ``edge_grads`` {(parent, child): g} overrides one edge.
    Returns the Axes."""
    names, ops, parents, children = _parse(nodes)
    values, grads, edge_grads = dict(values or {}), dict(grads or {}), dict(edge_grads or {})
    for what, d in (("values", values), ("grads", grads)):
        for k in d:
            if k not in ops:
                raise ValueError(tr("{what} has a key {key!r} that is not a node; nodes are {names}", what=what,
                                    key=k, names=names))
    for k in edge_grads:
        if not (isinstance(k, tuple) and len(k) == 2 and k[0] in ops and k[1] in children[k[0]]):
            raise ValueError(tr("edge_grads has a key {key!r} that is not an edge (parent, child) of the graph",
                                key=k))
    col, row = _layout(names, ops, parents, children)
    out = names[-1]
    left = min(col[n] - (CHAR * len(str(n)) + 0.12 if ops[n] is None else 0.35) for n in names)
    right = col[out] + 0.8 + CHAR * len(str(out)) + 0.12
    fan = max(len(children[n]) + (n == out) for n in names)  # fanned-out edges spread 0.45 rows apart
    pad = 0.55 + 0.225 * (fan - 1)
    top, bottom = max(row.values()) + pad, min(row.values()) - pad
    if ax is None:
        import matplotlib.pyplot as plt  # only here: drawing into a given Axes needs no pyplot
        head = 0.3 if title else 0.0
        w, h = figsize or ((right - left) * COL_IN, (top - bottom) * ROW_IN + head)
        fig, ax = plt.subplots(figsize=(w, h))
        fig.subplots_adjust(left=0, right=1, bottom=0, top=1 - head / h)

    for n in names:
        x, y = col[n], row[n]
        targets = sorted(children[n], key=lambda c: -row[c]) + ([None] if n == out else [])
        k = len(targets)
        lanes = [0.45 * ((k - 1) / 2 - i) for i in range(k)] if k > 1 else [0]
        for c, lane in zip(targets, lanes):
            x1, y1 = (col[c], row[c]) if c is not None else (x + 0.8, y)
            x0, yl = (x + 0.2, y + lane) if lane else (x, y)
            xb = x1 - 0.35 if c is not None else x1
            ax.plot([x, x0, xb], [y, yl, yl], color=EDGE, lw=1.2, zorder=1, solid_capstyle="round")
            ax.add_patch(FancyArrowPatch((xb, yl), (x1, y1), arrowstyle="-|>", mutation_scale=10, lw=1.2,
                                         color=EDGE, shrinkA=0, shrinkB=RADIUS + 1 if c is not None else 0,
                                         zorder=1))
            # centre the labels on the visible straight run, between circle rims
            straight = y1 == yl
            xa, xz = (x0, x1) if straight else (x0, xb)
            r0 = RADIUS if ops[n] is not None and not lane else 0
            r1 = RADIUS if straight and c is not None else 0
            xm, dx = (xa + xz) / 2, (r0 - r1) / 2
            edge = f"{n}->{c if c is not None else 'output'}"
            if values.get(n) is not None:
                _label(ax, fmt(values[n]), xm, yl, dx, True, "value:" + edge)
            g = edge_grads.get((n, c), grads.get(n))
            if g is not None:
                _label(ax, fmt(g), xm, yl, dx, False, "grad:" + edge)
        if ops[n] is None:
            ax.annotate(str(n), (x, y), xytext=(-3, 0), textcoords="offset points", ha="right",
                        va="center", fontsize=FONT + 1, gid="input:" + str(n))
        else:
            ax.plot([x], [y], "o", ms=2 * RADIUS, mfc="white", mec="#333333", mew=1.3, zorder=3,
                    gid="node:" + str(n))
            ax.text(x, y, str(ops[n]), ha="center", va="center", fontsize=FONT if len(str(ops[n])) < 3
                    else FONT - 1, zorder=4, gid="op:" + str(n))
    ax.annotate(str(out), (col[out] + 0.8, row[out]), xytext=(3, 0), textcoords="offset points",
                ha="left", va="center", fontsize=FONT + 1, gid="output:" + str(out))
    ax.set_xlim(left, right)
    ax.set_ylim(bottom, top)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=FONT + 2)
    return ax
