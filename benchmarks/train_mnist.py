"""Train notebook 07's two-layer network on MNIST with the seed's schedule; report accuracy, time, memory.

The schedule is that of the training script of Deep Learning from Scratch, ch. 5 (train_neuralnet.py, which
the seed lecture notes walk through): 10,000 minibatch SGD steps, batch 100, learning rate 0.1, 50 hidden ReLU
units, with train and test accuracy measured after every epoch (600 steps). The network is the notebook's
Affine -> ReLU -> Affine -> Softmax-with-Loss, written out here once in float32 so nothing is copied or
recomputed that the step does not need. The last line printed is always

    train_accuracy=<float> test_accuracy=<float> seconds=<float> peak_rss_mb=<float>

Data: MNIST via bpcourse.data.load_mnist (the folder in BPCOURSE_DATA_DIR, else the download cache).
Usage: python benchmarks/train_mnist.py [--init he|<std>] [--seed N] [--iters N] [--threads N]
(see --help)
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--init", default="he", help="'he' (std sqrt(2/fan_in), the default) or a fixed std such as 0.01")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial weights and the minibatch draws")
    p.add_argument("--iters", type=int, default=10_000)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--hidden", type=int, default=50)
    p.add_argument("--threads", type=int, default=None,
                   help="BLAS threads (default: the CPUs this process may use, at most 2; a 100-sample step "
                        "gains nothing from more, and surplus threads spinning on a shared or CPU-capped "
                        "machine, e.g. Binder, cost more than they bring)")
    args = p.parse_args(argv)
    for name in ("iters", "batch", "hidden"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    if args.threads is None:
        args.threads = min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    if args.init != "he":
        try:
            args.init = float(args.init)
        except ValueError:
            p.error(f"--init must be 'he' or a number (the std of the initial weights), got {args.init!r}")
    return args


def evaluate(params, x, t, chunk: int = 10_000) -> tuple[float, float]:
    """Mean loss and accuracy over (x, t), a chunk at a time so no (N, hidden) array for all N is held."""
    import numpy as np

    W1, b1, W2, b2 = params
    loss = correct = 0.0
    for i in range(0, len(x), chunk):
        s = np.maximum(x[i:i + chunk] @ W1 + b1, 0) @ W2 + b2
        tc = t[i:i + chunk]
        correct += np.count_nonzero(s.argmax(axis=1) == tc)
        s -= s.max(axis=1, keepdims=True)
        loss += float(np.sum(np.log(np.exp(s).sum(axis=1))) - np.sum(s[np.arange(len(tc)), tc]))
    return loss / len(x), correct / len(x)


def train(x_train, t_train, x_test, t_test, *, init="he", seed=0, iters=10_000, batch=100, lr=0.1,
          hidden=50, log=print):
    """Minibatch SGD on Affine-ReLU-Affine-softmax; returns the final train and test accuracy."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n, d = x_train.shape
    k = int(t_train.max()) + 1
    f32 = np.float32
    std1, std2 = (np.sqrt(2 / d), np.sqrt(2 / hidden)) if init == "he" else (init, init)
    W1 = (std1 * rng.standard_normal((d, hidden))).astype(f32)
    W2 = (std2 * rng.standard_normal((hidden, k))).astype(f32)
    b1, b2 = np.zeros(hidden, f32), np.zeros(k, f32)
    params = (W1, b1, W2, b2)
    xb = np.empty((batch, d), f32)  # the minibatch is gathered into one reused buffer
    rows = np.arange(batch)
    per_epoch = max(n // batch, 1)
    for i in range(iters):
        idx = rng.integers(0, n, batch)  # drawn with replacement, as in the book's script
        np.take(x_train, idx, axis=0, out=xb)
        tb = t_train[idx]
        h = xb @ W1
        h += b1
        np.maximum(h, 0, out=h)
        s = h @ W2
        s += b2
        s -= s.max(axis=1, keepdims=True)  # softmax, in place; s becomes dL/dscores below
        np.exp(s, out=s)
        s /= s.sum(axis=1, keepdims=True)
        s[rows, tb] -= 1
        s *= 1 / batch
        dh = s @ W2.T
        dh[h <= 0] = 0
        W2 -= lr * (h.T @ s)  # every gradient is used right away and never stored
        b2 -= lr * s.sum(axis=0)
        W1 -= lr * (xb.T @ dh)
        b1 -= lr * dh.sum(axis=0)
        if (i + 1) % per_epoch == 0 or i + 1 == iters:
            tr, te = evaluate(params, x_train, t_train), evaluate(params, x_test, t_test)
            log(f"epoch {(i + 1) / per_epoch:5.2f}  step {i + 1:6d}  train loss {tr[0]:.4f} acc {tr[1]:.4f}  "
                f"test loss {te[0]:.4f} acc {te[1]:.4f}")
    return tr[1], te[1]


def main(argv=None) -> int:
    args = parse_args(argv)
    # BLAS reads its thread count once, when numpy is first imported; an explicit environment wins.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(args.threads))
    from bpcourse.data import DataUnavailableError, load_mnist

    start = time.perf_counter()
    try:
        (x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, flatten=True)
    except DataUnavailableError as exc:
        print(f"MNIST is not available: {exc}", file=sys.stderr)
        return 1
    train_acc, test_acc = train(x_train, t_train, x_test, t_test, init=args.init, seed=args.seed,
                                iters=args.iters, batch=args.batch, lr=args.lr, hidden=args.hidden)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    print(f"train_accuracy={train_acc:.4f} test_accuracy={test_acc:.4f} "
          f"seconds={seconds:.2f} peak_rss_mb={peak_mb:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
