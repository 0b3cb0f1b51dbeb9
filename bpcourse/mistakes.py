"""Classic mistakes, recognised from what student code returned, each with the hint that names it.

The course's visible checks (through :mod:`bpcourse.hints`) and its hidden tests use these same rules, so
a mistake gets the same hint wherever it is found. Nothing here is an answer: every rule compares what came
back with a known *wrong* answer (a swapped multiply node, a mask the wrong way round, a gradient averaged
once too often), built from the inputs and the formula the notebook states.

Languages: the UPPERCASE texts (and ``ADD_RATIOS``' values) are English templates marked with ``N_``; pass them
through ``tr`` where a message is built (``tr(mistakes.SGD_LABELS)``, ``tr(mistakes.GRADS_ACCUMULATED, name=...)``).
Every function here (the rules, ``ratio``, the ``*_ratios`` dicts) returns its text in the language in use already.
"""

from __future__ import annotations

import numpy as np

from .i18n import N_, tr


def same(a, b, rtol: float = 1e-6, atol: float = 1e-9) -> bool:
    """Whether a returned value equals b: same shape, close values (float32 gets float32 tolerances)."""
    try:
        a = np.asarray(a)
        if a.dtype == np.float32:  # the hidden tests' float32 tolerances
            rtol, atol = max(rtol, 1e-3), max(atol, 1e-4 * float(np.max(np.abs(b), initial=0.0)))
        a = a.astype(np.float64)
    except (TypeError, ValueError):
        return False
    return a.shape == np.shape(b) and bool(np.allclose(a, b, rtol=rtol, atol=atol))


def ratio(got, expected, named: dict | None = None) -> str:
    """A hint when got is a constant multiple of expected: a named factor's text, or a generic one (either in the
    language in use)."""
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    mask = np.abs(expected) > 1e-6
    if got.shape != expected.shape or not mask.any() or not np.all(np.isfinite(got)):
        return ""
    r = got[mask] / expected[mask]
    if not np.allclose(r, r[0], rtol=1e-4, atol=0):
        return ""
    r = float(r[0])
    for factor, text in (named or {}).items():
        if np.isclose(r, factor, rtol=1e-4):
            return tr(text)
    if mask.sum() < 2:  # one number always has a "constant ratio" to another
        return ""
    if np.isclose(r, -1.0):
        return tr("it has the right size but the wrong sign.")
    if abs(r) > 1:
        return tr("it is exactly {r:.4g} times the right value: is a factor too many?", r=r)
    return tr("it is exactly 1/{inverse:.4g} of the right value: is a factor missing?", inverse=1 / r) if r else ""


# --- 01: gradients add at branches --------------------------------------------------------------------

def BRANCH_OVERWRITTEN(name: str, children: list[str]) -> str:
    where = ", ".join(f"'{c}'" for c in children)
    return tr("'{name}' feeds {count} edges (into {where}); its gradient is the SUM of what comes back "
              "along each of them. It looks like one contribution overwrote the others: use += "
              "(gradients add at branches).", name=name, count=len(children), where=where)


UPSTREAM_SUM = N_("this is the sum of the local derivatives alone: multiply each one by the upstream gradient "
                "grad_table[child] before adding (chain rule).")
REVERSE_ORDER = N_("it is 0 although the output depends on it: visit the nodes in REVERSE order (output first), "
                 "so every child's gradient is complete before its parents use it.")
READ_TOO_EARLY = N_("a KeyError usually means a gradient was read before it was computed: walk the nodes from "
                  "the output back to the inputs and give every node an entry.")


# --- 02: central differences and the gates of a circuit ------------------------------------------------------

CENTRAL = N_("use the central one, (f(x+h) - f(x-h)) / (2h).")
HALF_STEPS = N_("this is the central difference with steps of h/2, (f(x + h/2) - f(x - h/2)) / h; the "
              "notebook's steps a whole h to each side: (f(x + h) - f(x - h)) / (2h).")
TWICE = N_("it is twice the right value: divide by 2h, the distance between x-h and x+h.")
DEFAULT_STEP = N_("define it as def numerical_diff(f, x, h=1e-4): and use the h it is given.")
IGNORES_H = N_("the result does not depend on h: use the h argument instead of a fixed step.")
CHAIN_HALF = N_("it is half the right value: the square node's local gradient is 2t, "
              "not t (the factor 2 is missing).")


def fixed_step(step: float, h: float) -> str:
    return tr("it is the central difference with a step of about {step:.3g}, not the h={h} it was "
              "given: use the h argument instead of a fixed step.", step=step, h=h)


def difference(got, f, x, h=1e-4) -> str:
    """The hint for a wrong difference quotient of f at x with step h, or ""."""
    if same(got, (f(x + h) - f(x)) / h, rtol=1e-9):
        return tr("this is the forward difference (f(x+h) - f(x)) / h; {central}", central=tr(CENTRAL))
    if same(got, (f(x) - f(x - h)) / h, rtol=1e-9):
        return tr("this is the backward difference (f(x) - f(x-h)) / h; {central}", central=tr(CENTRAL))
    if same(got, (f(x + h) - f(x - h)) / h, rtol=1e-9):
        return tr(TWICE)
    if same(got, 0.0, atol=1e-12):
        return tr("it is 0: is h so small that x + h == x in floating point? Use the default h=1e-4.")
    return ""


MUL_GATE_SWAP = N_("the × gate swaps its inputs: ∂f/∂q = z and ∂f/∂z = q (each gets the other one).")
MUL_GATES_SWAP = N_("the × gates swap their inputs: the gradient of w0 is x0 times the upstream gradient, "
                  "and that of x0 is w0 times it.")
NEGATE_GATE = N_("every gradient has the wrong sign: the *-1 node's local gradient is -1, "
               "so it must flip the sign of the gradient passing through it.")


def swish_branch(w, x, b, dx) -> str | None:
    """BRANCH_OVERWRITTEN when dx of f = x * sigmoid(w x + b) is one of x's two shares alone: g through the
    × node f = x g, and w x g (1 - g) through the × node s = w x (the one a planted `dx = ...` keeps)."""
    g = float(sigmoid(w * x + b))
    shares = (g, w * x * g * (1.0 - g))
    for kept, lost in (shares, shares[::-1]):
        if same(dx, kept) and not same(lost, 0.0):  # one share alone, and the other one was not 0 anyway
            return BRANCH_OVERWRITTEN("x", ["s", "f"])
    return None


# --- 03: multiply, add and max nodes -------------------------------------------------------------------

MUL_SWAP = N_("the multiply node swaps its inputs: x's gradient is dout times y's forward value, "
            "and y's gradient is dout times x's.")
NO_UPSTREAM = N_("multiply the local gradient by the upstream gradient dout (chain rule).")
SHARED_STATE = N_("each MulLayer object must keep its own inputs: store them on self in forward "
                "(not in a class attribute or a global), because buy apple uses two layers at once.")
ADD_RATIOS = {
    0.0: N_("the add node passes dout to BOTH inputs: neither gradient is zero (each local gradient is 1)."),
    2.0: N_("the add node does not double the gradient: each input receives dout exactly once."),
    0.5: N_("the add node does not split dout between its inputs: each receives all of it (a distributor)."),
}
ADD_AS_MUL = N_("that is the multiply node's rule; the add node's local gradients are both 1, so dx = dy = dout.")
ADD_NO_UPSTREAM = N_("multiply the local gradient 1 by the upstream gradient dout (chain rule).")
MAX_TO_SMALLER = N_("the max node routes dout to the LARGER input; here it went to the smaller one.")
MAX_DISTRIBUTES = N_("the max node is a router, not a distributor: only the larger input receives dout, "
                   "the other gets 0.")
MAX_NO_UPSTREAM = N_("multiply by the upstream gradient dout: the larger input receives dout, not 1.")
MAX_BOOL_INVERT = N_("for Python numbers, x > y is a Python bool and ~True == -2, ~False == -1; "
                   "use np.logical_not(mask), 1 - mask, or compare the other way round.")
MAX_OF_ARRAYS = N_("Python's max(x, y) compares whole arrays; use np.maximum(x, y) for an elementwise "
                 "maximum.")


def mul_layer(x, y, dout, dx, dy) -> str | None:
    if same(dx, dout * x) and same(dy, dout * y):
        return tr(MUL_SWAP)
    if same(dx, np.broadcast_to(y, np.shape(x))) and same(dy, np.broadcast_to(x, np.shape(y))):
        return tr(NO_UPSTREAM)
    return None


def add_layer(x, y, dout, dx, dy) -> str | None:
    if same(dx, dout * y) and same(dy, dout * x):
        return tr(ADD_AS_MUL)
    ones = np.ones(np.shape(x))
    if same(dx, ones) and same(dy, ones):
        return tr(ADD_NO_UPSTREAM)
    for grad in (dx, dy):
        named = ratio(grad, dout, ADD_RATIOS)
        if named in {tr(text) for text in ADD_RATIOS.values()}:
            return named
    return None


def max_layer(x, y, dout, dx, dy) -> str | None:
    x_wins = np.asarray(x) > np.asarray(y)
    zero = np.zeros(np.shape(x))
    if same(dx, np.where(x_wins, zero, dout)) and same(dy, np.where(x_wins, dout, zero)):
        return tr(MAX_TO_SMALLER)
    if same(dx, dout) and same(dy, dout):
        return tr(MAX_DISTRIBUTES)
    if same(dx, x_wins.astype(float)) and same(dy, (~x_wins).astype(float)):
        return tr(MAX_NO_UPSTREAM)
    if np.shape(x) == () and any(same(g, k * dout) for g in (dx, dy) for k in (-1, -2)):
        return tr(MAX_BOOL_INVERT)
    return None


# --- 04: ReLU and Sigmoid --------------------------------------------------------------------------------

RELU_FORWARD_INVERTED = N_("forward keeps x where x <= 0 and zeroes it where x > 0: the mask is the wrong way "
                         "round. ReLU passes positive inputs through and sends 0 for the rest.")
RELU_BACKWARD_INVERTED = N_("backward lets dout through where the input was <= 0 and blocks it where the input "
                          "was > 0: the mask is applied the wrong way round.")
RELU_PASSES_ALL = N_("backward returns dout unchanged: set it to 0 wherever the forward input was <= 0.")
RELU_NO_UPSTREAM = N_("backward returns the local gradient (1 or 0) alone: multiply it by the upstream gradient dout.")
RELU_SCALES_BY_X = N_("dx depends only on the SIGN of the forward input, not on its size: "
                    "dx = dout where x > 0 and 0 where x <= 0.")
SIGMOID_SIGN = N_("forward computes 1 / (1 + exp(x)) = sigmoid(-x): check the sign inside exp.")
SIGMOID_NO_1_MINUS_Y = N_("dx = dout * y is missing the factor (1 - y): "
                        "the local gradient is y(1 - y), with y the output.")
SIGMOID_NO_Y = N_("dx = dout * (1 - y) is missing the factor y: "
                "the local gradient is y(1 - y), with y the output.")
SIGMOID_NO_UPSTREAM = N_("backward returns the local gradient y(1 - y) alone: multiply it by the upstream gradient "
                         "dout.")
SIGMOID_USES_INPUT = N_("backward uses the forward INPUT x; y(1 - y) needs the forward OUTPUT y = sigmoid(x).")
SIGMOID_OVERFLOW = N_("forward overflows for large |x|: exp of a large number is inf, and inf / inf is nan. "
                    "Make sure exp only ever sees a number <= 0, e.g. exp(-|x|), and treat x >= 0 and "
                    "x < 0 separately.")
SIGMOID_BACKWARD_OVERFLOW = N_("backward overflows for large |x| (0 * inf = nan). It needs no exp at all: "
                             "dx = dout * y * (1 - y) uses only the output y saved by forward.")


def sigmoid(x) -> np.ndarray:
    """1 / (1 + exp(-x)), the formula of notebook 04, without overflow (exp only sees -|x|)."""
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def relu_forward(x, out) -> str | None:
    return tr(RELU_FORWARD_INVERTED) if same(out, np.where(np.asarray(x) > 0, 0.0, x)) else None


def relu_backward(x, dout, dx) -> str | None:
    pos = np.asarray(x) > 0
    if same(dx, np.where(pos, 0.0, dout)):
        return tr(RELU_BACKWARD_INVERTED)
    if same(dx, dout):
        return tr(RELU_PASSES_ALL)
    if same(dx, pos.astype(float)):
        return tr(RELU_NO_UPSTREAM)
    if same(dx, np.where(pos, x * dout, 0.0)) or same(dx, np.where(pos, x, 0.0)):
        return tr(RELU_SCALES_BY_X)
    return None


def sigmoid_forward(x, out) -> str | None:
    return tr(SIGMOID_SIGN) if same(out, sigmoid(-np.asarray(x))) else None


def sigmoid_backward(x, dout, dx) -> str | None:
    y = sigmoid(x)
    for wrong, text in ((dout * y, SIGMOID_NO_1_MINUS_Y), (dout * (1.0 - y), SIGMOID_NO_Y),
                        (y * (1.0 - y), SIGMOID_NO_UPSTREAM), (dout * x * (1.0 - x), SIGMOID_USES_INPUT)):
        if same(dx, wrong):
            return tr(text)
    return None


# --- 05: the Affine layer --------------------------------------------------------------------------------

DW_AVERAGED = N_("dW is exactly 1/N of the right value: don't average over the batch, the sum is the gradient.")
DB_AVERAGED = N_("db is exactly 1/N of the right value: sum over the batch, don't average (dout.sum(axis=0)).")
DW_TRANSPOSED = N_("Did you compute dout.T · x?")
DB_NOT_SUMMED = N_("b was added to every row, so its gradient sums dout over the batch axis: dout.sum(axis=0).")
DB_NOT_FLAT = N_("The numbers may be right: make db 1-d like b (no keepdims).")
GRADS_ACCUMULATED = N_("set self.{name} = ... in backward; don't add to it (+=).")
VEC_NO_TWO = N_("it is half the right value: the square node's local gradient is 2q, not q (the factor 2 is missing).")
VEC_DW_TRANSPOSED = N_("∂f/∂W is transposed: its entry [i, j] belongs to W[i, j], which meets x[j] in q[i]. With a "
                     "square W the transpose has the same shape, so only the values can tell.")
VEC_DX_NOT_TRANSPOSED = N_("∂f/∂x goes through W the wrong way round: x[j] reaches every q[i] through W[i, j], so "
                         "∂f/∂x[j] adds over i, down column j of W.")
LINEAR_DW_TRANSPOSED = N_("self.dW is the transpose of the right gradient. With a square W the transpose has W's "
                        "shape, so no shape error warns you: entry [i, j] belongs to W[i, j], which meets x[:, j] in "
                        "out[:, i] (out = x·Wᵀ + b).")


def transposed(got, numeric, text: str) -> str | None:
    """``text`` (in the language in use) when ``got`` is the transpose of the right (numerical) gradient of a square
    matrix."""
    numeric = np.asarray(numeric, dtype=np.float64)
    square = numeric.ndim == 2 and numeric.shape[0] == numeric.shape[1]
    if square and same(got, numeric.T, 1e-4, 1e-6) and not same(got, numeric, 1e-4, 1e-6):
        return tr(text)
    return None


def vectorized_example(W, x, dW, dx, num_W, num_x) -> str | None:
    """The hint for a wrong ∂f/∂W or ∂f/∂x of f = sum((W·x)²), given their numerical values, or None."""
    hint = transposed(dW, num_W, VEC_DW_TRANSPOSED)
    if hint:
        return hint
    if tr(VEC_NO_TWO) in (ratio(dW, num_W, {0.5: VEC_NO_TWO}), ratio(dx, num_x, {0.5: VEC_NO_TWO})):
        return tr(VEC_NO_TWO)
    W, x = np.asarray(W, dtype=np.float64), np.asarray(x, dtype=np.float64)
    through_W = 2 * W @ (W @ x)  # ∂f/∂q = 2q sent back through W itself
    if W.shape[0] == W.shape[1] and same(dx, through_W, 1e-4, 1e-6) and not same(dx, num_x, 1e-4, 1e-6):
        return tr(VEC_DX_NOT_TRANSPOSED)
    return None

# --- 06: softmax, cross entropy, SoftmaxWithLoss -------------------------------------------------------------

SUBTRACT_MAX = N_("subtract each row's maximum before np.exp, e.g. x - np.max(x, axis=-1, keepdims=True): "
                "softmax(x) = softmax(x - c) for any constant c, and exp of a number <= 0 cannot overflow.")
ROW_SUM = N_("each row is one sample, so sum over the last axis only: "
           "np.sum(..., axis=-1, keepdims=True) (axis=1 for a batch).")
LABELS = N_("it works for one-hot t but not for integer labels. A label t[n] is the index of the "
          "right class: pick y[np.arange(N), t] (or turn t into one-hot rows first). Telling them apart: "
          "t.size == y.size means one-hot.")


def cross_entropy_ratios(n: int, k: int) -> dict:
    """Factors between a wrong cross entropy and the right one, for a batch of n samples of k classes (the texts
    in the language in use, like every dict of hints built here)."""
    m = {-1.0: tr("the sign is flipped: cross entropy is -sum t * log(y), a positive number."),
         1 / np.log(10): tr("that is log base 10: use the natural logarithm np.log."),
         1 / np.log(2): tr("that is log base 2: use the natural logarithm np.log.")}
    if n > 1:
        m[float(n)] = tr("it is exactly N = {n} times too large: average over the batch "
                         "(divide the sum by the batch size N).", n=n)
    if k > 1:
        m[1.0 / k] = tr("it is the mean over all N * K entries of t * log(y): sum over the classes, "
                        "then divide by the batch size N only.")
    return m


def softmax_with_loss_ratios(n: int) -> dict:
    """Factors between a wrong dx of SoftmaxWithLoss and the right one, for a batch of n."""
    hints = {-1.0: tr("dx has the right size but the wrong sign: it is (y - t) / N, not (t - y) / N.")}
    if n > 1:
        hints[float(n)] = tr("dx is exactly N = {n} times too large — did you divide by the batch size?", n=n)
    return hints


# --- 07: the two-layer network -------------------------------------------------------------------------------

def batch_ratios(n: int) -> dict:
    """Factors between a wrong gradient() of the network and the right one, for a batch of n."""
    return {1 / n: tr("it is 1/{n} of the right value, and {n} is the batch size: "
                      "lastLayer.backward already divides by it.", n=n),
            n: tr("it is {n} times the right value, and {n} is the batch size.", n=n)}


FIRST_LAYER_ONLY = N_("W2 and b2 are right, so the start of the backward pass is fine, but what reaches Affine1 is "
                    "wrong: pass dout through every layer, Relu1 included, in reverse order.")


# sgd_step, train and SafeAffine (notebook 07's training exercises and its planted bug)
SGD_WHOLE_SET = N_("it computed the gradient on the whole training set: step 1 is a random minibatch, e.g. "
                 "batch = rng.choice(len(x), batch_size), then net.gradient(x[batch], t[batch]).")
SGD_LABELS = N_("the labels do not belong to the images: draw the indices once and use them for both, "
              "x[batch] and t[batch].")
SGD_NOT_RANDOM = N_("the minibatch is not random: draw new indices at every step with the rng argument, e.g. "
                  "rng.choice(len(x), batch_size).")
SGD_OWN_RNG = N_("draw the indices with the rng argument (rng.choice(len(x), batch_size)), not np.random: then "
               "a seed repeats a whole training run.")
SGD_NOT_IN_PLACE = N_("net.params[key] now is a new array, but the layers still hold the old one, so the network "
                    "never changes: update in place, net.params[key] -= learning_rate * grads[key].")


def sgd_ratios(learning_rate: float) -> dict:
    """Factors between a wrong parameter change of sgd_step and the right one, -learning_rate * grad."""
    return {-1.0: tr("the parameters moved up the gradient: step against it, params -= learning_rate * grad."),
            1 / learning_rate: tr("the change is the whole gradient: multiply it by the learning rate "
                                  "({learning_rate:g}).", learning_rate=learning_rate),
            -1 / learning_rate: tr("the change is +grad: subtract learning_rate * grad instead.")}


SAFE_AFFINE_COPY = N_("the layer still computes with the W and b it was given at the start: it holds copies, so an "
                    "update of the network's parameters never reaches it (its gradient check passes all the "
                    "same). Keep the arrays themselves: super().__init__(W, b), no .copy().")


# --- 08: a network of any depth, weight decay, and the Value engine --------------------------------------------

LOSS_NO_DECAY = N_("loss() is the cross entropy alone: add the weight decay ½λ Σ‖W‖², "
                 "0.5 * weight_decay_lambda * (the sum of every W's squared entries).")
LOSS_DECAY_NO_HALF = N_("the weight-decay term is λ Σ‖W‖², twice too large: the regulariser is ½λ Σ‖W‖² "
                      "(the ½ makes its gradient λW).")
LOSS_DECAYS_BIASES = N_("the weight decay includes the biases: only the weights W1, W2, ... are decayed, not b1, "
                        "b2, ...")
GRAD_NO_DECAY = N_("the weights' gradients are the cross entropy's alone: with weight decay each dW gets λW added, "
                 "grads['W{k}'] = dW + weight_decay_lambda * W{k}.")
GRAD_DECAY_TWICE = N_("each dW has 2λW added: the derivative of ½λ‖W‖² is λW (the ½ cancels the 2 of the "
                      "square).")
GRAD_DECAYS_BIASES = N_("db has λb added: the biases are not decayed, so their gradient is db alone.")
RELU_SHARED = N_("the hidden layers share one Relu object, which remembers only the mask of its last forward pass: "
               "create a new Relu() for every hidden layer.")
RELU_AFTER_LAST = N_("predict passes the last Affine's output through a ReLU: the scores are the last Affine's "
                   "output itself (no Relu after the last Affine).")


VALUE_OVERWRITES = N_("a Value's grad was overwritten, not added to: a Value used twice (a * a, or one feeding two "
                    "nodes) gets a share along each edge, so every _backward must ADD, self.grad += ... "
                    "(gradients add at branches).")
VALUE_NO_UPSTREAM = N_("the op pushed its local gradient alone: multiply it by out.grad, the gradient that reached "
                     "the op's output (chain rule).")
VALUE_MUL_SWAP = N_("the × op swaps its inputs: self.grad += other.data * out.grad and "
                  "other.grad += self.data * out.grad (each gets the other one).")
VALUE_POW = N_("the local gradient of x ** n is n * x ** (n - 1): lower the exponent by one.")
VALUE_EXP = N_("the local gradient of exp(x) is exp(x) itself, the op's output out.data, not x.")
VALUE_RELU = N_("relu passes the gradient only where its input was positive: self.grad += (out.data > 0) * out.grad; "
              "elsewhere its local gradient is 0.")
VALUE_NO_SEED = N_("every gradient is 0: backward() must start with self.grad = 1 (d out / d out = 1) before it "
                 "walks the graph.")
VALUE_ORDER = N_("the gradients did not reach the inputs: call the nodes' _backward() in REVERSE topological order "
               "(the output first), so a node's grad is complete before it is pushed to its parents.")
VALUE_TWICE = N_("a node reached along two paths had its _backward() run twice: keep a set of visited Values while "
               "you build the topological order, so each node appears in it once.")



# The rules that recognise these mistakes are in bpcourse._mistakes_deep (deep_loss, deep_gradient, value_op,
# value_walk), to keep this module short.
