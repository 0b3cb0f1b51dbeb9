"""bpcourse.layerplot: the boxes show the student's own layers, in order, with their shapes and gradient norms."""

from collections import OrderedDict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from test_grader_nb07 import SolutionNet  # noqa: E402

from bpcourse.layerplot import draw_layers, layer_summary  # noqa: E402


def _texts(ax) -> dict:
    return {t.get_gid(): t.get_text() for t in ax.texts if t.get_gid()}


def test_a_real_network_before_and_after_backward():
    np.random.seed(0)
    net = SolutionNet(6, 5, 4)
    rows = layer_summary(net)
    assert [(r["name"], r["kind"]) for r in rows] == [("Affine1", "Affine"), ("Relu1", "Relu"), ("Affine2", "Affine"),
                                                      ("lastLayer", "SoftmaxWithLoss")]
    assert rows[0]["params"] == {"W": (6, 5), "b": (5,)} and rows[2]["params"] == {"W": (5, 4), "b": (4,)}
    assert rows[0]["grads"] == {"W": None, "b": None}, "no backward has run yet"
    x, t = np.random.default_rng(1).standard_normal((3, 6)), np.array([0, 3, 1])
    grads = net.gradient(x, t)
    rows = layer_summary(net)
    for row, (w, b) in ((rows[0], ("W1", "b1")), (rows[2], ("W2", "b2"))):
        assert np.isclose(row["grads"]["W"], np.linalg.norm(grads[w]))
        assert np.isclose(row["grads"]["b"], np.linalg.norm(grads[b]))
    ax = draw_layers(net, title="t")
    texts = _texts(ax)
    assert [texts[f"name:{r['name']}"] for r in rows] == ["Affine1", "Relu1", "Affine2", "lastLayer"]
    assert texts["line:Affine1:0"].startswith("W (6, 5)") and f"{np.linalg.norm(grads['W1']):.3g}" in \
        texts["line:Affine1:0"]
    assert texts["line:Relu1:0"] == "no parameters"
    boxes = sorted((p for p in ax.patches if (p.get_gid() or "").startswith("layer:")), key=lambda p: p.get_x())
    assert [p.get_gid() for p in boxes] == ["layer:Affine1", "layer:Relu1", "layer:Affine2", "layer:lastLayer"]
    plt.close("all")


def test_odd_networks_get_clear_messages():
    class NoLayers:
        params = {}

    with pytest.raises(TypeError, match="NoLayers has none"):
        draw_layers(NoLayers())

    class ListLayers:
        layers = [1, 2]

    with pytest.raises(TypeError, match="got list"):
        draw_layers(ListLayers())

    class Empty:
        layers = OrderedDict()

    with pytest.raises(TypeError, match="empty"):
        draw_layers(Empty())

    class Bad:
        W = "not numbers"

    class WithBad:
        layers = OrderedDict(bad=Bad())

    with pytest.raises(ValueError, match="bad.W should be an array of numbers, got str"):
        draw_layers(WithBad())


def test_a_layer_without_params_and_a_network_without_last_layer():
    class Scale:
        """A layer of the student's own, with no parameters."""

        def forward(self, x):
            return 2 * x

    class Tiny:
        layers = OrderedDict(scale=Scale())

    rows = layer_summary(Tiny())
    assert rows == [{"name": "scale", "kind": "Scale", "params": {}, "grads": {}}]
    fig, ax = plt.subplots()
    assert draw_layers(Tiny(), ax=ax) is ax and _texts(ax)["line:scale:0"] == "no parameters"
    plt.close("all")
