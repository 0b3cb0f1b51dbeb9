"""Helpers of notebook 07's training checks (grader_tests.nb07): stand-in networks and steps with known
gradients, so sgd_step and train are each graded on their own."""

from __future__ import annotations

import numpy as np

from bpcourse.i18n import tr

from ._core import call

# --------------------------------------------------------------------------- the training step and loop
#
# sgd_step and train are graded on stand-ins the grader builds, not on the student's TwoLayerNet: a network
# whose gradient is a known function of the batch it is given (and which records that batch), and a step
# function that records how it was called. So a slip in TwoLayerNet costs nothing here, and these checks
# need no reference solution: what the step should do to the stand-in's arrays is the update rule itself.

class _StandInNet:
    """params, and a gradient() that records its batch and returns a known function of it."""

    def __init__(self, d: int, seed: int):
        g = np.random.default_rng(seed)
        self.params = {"W1": g.standard_normal((d, 3)), "b1": g.standard_normal(3),
                       "W2": g.standard_normal((3, 2)), "b2": g.standard_normal(2)}
        self.lastLayer = type("Loss", (), {"loss": None})()
        self.batches = []

    def gradient(self, x, t):
        x, t = np.array(x, dtype=np.float64), np.array(t)
        self.batches.append((x, t))
        self.lastLayer.loss = _stand_in_loss(x, t)
        return _stand_in_grads({k: v.shape for k, v in self.params.items()}, x)

    def loss(self, x, t):
        return _stand_in_loss(np.asarray(x, dtype=np.float64), np.asarray(t))

    def accuracy(self, x, t):
        return 0.5


def _stand_in_loss(x, t) -> float:
    return float(np.mean(x[:, 0]) + np.mean(t))


def _stand_in_grads(shapes: dict, x) -> dict:
    """A gradient per parameter that depends on the batch (so a wrong batch shows in the update)."""
    scale = 1.0 + float(np.mean(x))
    return {k: scale * np.cos(np.arange(int(np.prod(s)), dtype=np.float64) + i).reshape(s)
            for i, (k, s) in enumerate(shapes.items())}


def _stand_in_state(net) -> dict:
    """What the stand-in saw and holds now (runs in the kernel): its batches, params and their identities."""
    return {"batches": list(net.batches), "params": {k: np.array(v) for k, v in net.params.items()},
            "ids": {k: id(v) for k, v in net.params.items()}}


def _fresh_rng(seed: int):
    return np.random.default_rng(seed)


def _rows(batch_x, x) -> list:
    """For each row of batch_x, the index of the equal row of x (or -1)."""
    return [int(np.flatnonzero(np.all(x == row, axis=1))[0]) if np.any(np.all(x == row, axis=1)) else -1
            for row in batch_x]


def _one_step(step, x, t, batch_size: int, lr: float, seed: int):
    """sgd_step on a fresh stand-in: (state before, returned value, state after)."""
    __tracebackhide__ = True
    net = call(_StandInNet, x.shape[1], seed, what=tr("building a stand-in network"))
    before = call(_stand_in_state, net, what=tr("reading the stand-in network"))
    student_rng = call(_fresh_rng, seed, what="np.random.default_rng(seed)")
    out = call(step, net, x.copy(), t.copy(), batch_size, lr, student_rng,
               what=f"sgd_step(net, x, t, batch_size={batch_size}, learning_rate={lr}, rng)")
    after = call(_stand_in_state, net, what=tr("reading the stand-in network"))
    return before, out, after




class _RecordingStep:
    """A step function for grading train alone: records how it is called and returns known losses."""

    def __init__(self):
        self.calls = []

    def __call__(self, net, x, t, batch_size, learning_rate, rng):
        net.steps = getattr(net, "steps", 0) + 1
        self.calls.append({"net": id(net), "x": id(x), "t": id(t), "batch_size": batch_size,
                           "learning_rate": learning_rate, "rng": type(rng).__name__, "rng_id": id(rng),
                           "draw": int(rng.integers(1 << 30)) if hasattr(rng, "integers") else None})
        return 1.0 / (len(self.calls) + 1)


class _CountingNet:
    """A stand-in whose accuracy tells how many steps it had when asked."""

    def __init__(self):
        self.steps = 0
        self.params = {}

    def accuracy(self, x, t):
        return self.steps / 1000


def _run_train(train, n, iters, batch_size, lr, seed, every):
    """train(net, x, t, ...) with a stand-in net and a recording step (runs in the kernel)."""
    net, step = _CountingNet(), _RecordingStep()
    x, t = np.zeros((n, 2)), np.zeros(n, dtype=np.int64)
    kwargs = {"seed": seed, "step": step} if every is None else {"seed": seed, "every": every, "step": step}
    history = train(net, x, t, iters, batch_size, lr, **kwargs)
    history = dict(history) if hasattr(history, "keys") else history
    same = {"net": id(net), "x": id(x), "t": id(t)}
    return history, [{**c, **{k: c[k] == v for k, v in same.items()}} for c in step.calls]




# --------------------------------------------------------------------------- the planted bug: SafeAffine



def mistakes_match(a, b) -> bool:
    try:
        return np.shape(a) == np.shape(b) and bool(np.allclose(np.asarray(a, dtype=np.float64), b))
    except (TypeError, ValueError):
        return False


# --------------------------------------------------------------------------- the spiral target

SPIRAL_TARGET = 0.95


