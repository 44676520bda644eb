"""Probes for topic 03 (initialization). Run inside the sandbox against the student's deepkit (and in the trusted
process against the reference) with the same inputs. Only numpy and the stdlib (threadpoolctl if present).

Random initialisers cannot be compared element by element (a student may consume the rng differently), so their
probes return sample moments of many draws; autograder/checks/initialization.py compares those with the theory.
"""

from contextlib import nullcontext

import numpy as np

# One BLAS thread for the experiment's 64x256 @ 256x256 products: the sandbox already runs with one, and in the
# trusted process (reference side, tests) two threads on a loaded 2-core machine made them ~10x slower.
try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn (requirements.txt)

    def threadpool_limits(limits=None):
        return nullcontext()


#: every statistical probe looks at no fewer samples than this (6-sigma bands are then a few per cent wide).
MIN_SAMPLES = 20_000


def _weights(w, fn: str) -> np.ndarray:
    """What an initialiser returned, as an array, or a TypeError that says it must be one array."""
    if isinstance(w, (tuple, list, dict)) or w is None:
        raise TypeError(f"{fn} must return one NumPy array of the requested shape, not a {type(w).__name__}")
    return np.asarray(w)


def _shape(arr) -> tuple:
    return tuple(int(s) for s in np.asarray(arr).ravel())


def _moments(draw, shape: tuple, fn: str = "the initialiser") -> dict:
    """Call ``draw(shape)`` until MIN_SAMPLES values are collected; return its sample moments.

    Keys: shape (of one draw), n, mean, m2 = mean(w^2), m4 = mean(w^4), min, max, float64 (1.0 if the dtype is).
    """
    size = int(np.prod(shape))
    reps = max(1, -(-MIN_SAMPLES // size))
    chunks, got_shape, is_f64 = [], shape, True
    for _ in range(reps):
        w = _weights(draw(shape), fn)
        got_shape = w.shape
        is_f64 = is_f64 and w.dtype == np.float64
        if w.shape != shape:
            break
        chunks.append(w.astype(np.float64).ravel())
    out = _summary(np.concatenate(chunks) if chunks else np.zeros(1))
    out.update(shape=np.array(got_shape, dtype=np.int64), float64=np.array(float(is_f64)))
    return out


def _summary(w: np.ndarray) -> dict:
    """n, mean, m2 = mean(w^2), m4 = mean(w^4), min, max of a flat float64 sample."""
    w2 = w * w
    return {
        "n": np.array(float(w.size)),
        "mean": np.array(w.mean()),
        "m2": np.array(w2.mean()),
        "m4": np.array((w2 * w2).mean()),
        "min": np.array(w.min()),
        "max": np.array(w.max()),
    }


def _fan_pair(result) -> np.ndarray:
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise TypeError(f"compute_fans must return a tuple (fan_in, fan_out), got a {type(result).__name__}")
    return np.array(result, dtype=np.float64)


def fans(dk, inp):
    f = dk.init.compute_fans
    return {k: _fan_pair(f(_shape(inp[k]))) for k in ("dense", "conv", "conv1x1", "conv1d", "conv3d")}


def _gain(value) -> np.ndarray:
    if isinstance(value, (tuple, list, dict)) or np.ndim(value) != 0:
        raise TypeError(f"calculate_gain must return one number, got a {type(value).__name__}")
    return np.array(value, dtype=np.float64)


def gains(dk, inp):
    g = dk.init.calculate_gain
    names = ("linear", "sigmoid", "tanh", "relu", "selu", "conv2d")
    return {
        "named": np.array([_gain(g(n)) for n in names], dtype=np.float64),
        "leaky_default": _gain(g("leaky_relu")),
        "leaky_zero": _gain(g("leaky_relu", 0.0)),  # param 0 is a slope of 0 (the ReLU gain), not the default
        "leaky": _gain(g("leaky_relu", float(inp["slope"]))),
    }


def zeros_constant(dk, inp):
    shape = _shape(inp["shape"])
    z = _weights(dk.init.zeros(shape), "zeros")
    c = _weights(dk.init.constant(shape, float(inp["value"])), "constant")
    return {
        "zeros": z,
        "constant": c,
        "float64": np.array([float(z.dtype == np.float64), float(c.dtype == np.float64)]),
    }


def _rng(inp):
    return np.random.default_rng(int(inp["seed"]))


#: every scheme is sampled for a dense and a conv shape (input keys and output key prefixes)
SHAPES = ("dense", "conv")


def _per_shape(draw, inp, prefix="", fn="the initialiser"):
    """Moments of ``draw(shape)`` for the dense and the conv shape, keys prefixed "<prefix>dense_" / "...conv_"."""
    out = {}
    for kind in SHAPES:
        out.update({f"{prefix}{kind}_{k}": v for k, v in _moments(draw, _shape(inp[kind]), fn).items()})
    return out


def normal(dk, inp):
    rng = _rng(inp)
    return _per_shape(lambda s: dk.init.normal(s, float(inp["std"]), rng), inp, fn="normal")


def xavier_uniform(dk, inp):
    rng = _rng(inp)
    return _per_shape(lambda s: dk.init.xavier_uniform(s, rng, gain=float(inp["gain"])), inp, fn="xavier_uniform")


def xavier_normal(dk, inp):
    rng = _rng(inp)
    return _per_shape(lambda s: dk.init.xavier_normal(s, rng, gain=float(inp["gain"])), inp, fn="xavier_normal")


def _kaiming(fn, inp, name):
    """Moments for mode="fan_in" and mode="fan_out" (keys prefixed fan_in_ / fan_out_), dense and conv."""
    rng = _rng(inp)
    out = {}
    for mode in ("fan_in", "fan_out"):
        kw = dict(mode=mode, nonlinearity=str(inp["nonlinearity"]), a=float(inp["a"]))
        out.update(_per_shape(lambda s, kw=kw: fn(s, rng, **kw), inp, f"{mode}_", name))
    return out


def kaiming_normal(dk, inp):
    return _kaiming(dk.init.kaiming_normal, inp, "kaiming_normal")


def kaiming_uniform(dk, inp):
    return _kaiming(dk.init.kaiming_uniform, inp, "kaiming_uniform")


def _mlp(layers, n: int):
    """init_mlp's result checked: a list of n (W, b) pairs, or a TypeError that says so."""
    if not isinstance(layers, (list, tuple)) or not all(isinstance(p, (list, tuple)) and len(p) == 2 for p in layers):
        raise TypeError(f"init_mlp must return a list of (W, b) pairs, one per layer, got a {type(layers).__name__}")
    if len(layers) != n:
        raise TypeError(f"init_mlp must return {n} (W, b) pairs for {n + 1} layer sizes, got {len(layers)}")
    return layers


def init_mlp(dk, inp):
    """Per-layer moments of init_mlp's weights (several networks pooled) and the largest |bias|."""
    rng = _rng(inp)
    sizes = [int(s) for s in np.asarray(inp["sizes"]).ravel()]
    kw = {"gain": float(inp["gain"])} if str(inp["scheme"]).startswith("xavier") else {}
    layers = [
        _mlp(dk.init.init_mlp(sizes, str(inp["scheme"]), rng, **kw), len(sizes) - 1) for _ in range(int(inp["nets"]))
    ]
    out = {"n_layers": np.array(float(len(layers[0])))}
    keys = ("n", "mean", "m2", "m4", "min", "max")
    stats = {k: [] for k in keys}
    shapes, bias_max = [], 0.0
    for i in range(len(sizes) - 1):
        ws = [np.asarray(net[i][0], dtype=np.float64) for net in layers]
        bs = [np.asarray(net[i][1], dtype=np.float64) for net in layers]
        shapes.append(list(ws[0].shape) + list(bs[0].shape))
        bias_max = max(bias_max, max(float(np.abs(b).max()) for b in bs))
        m = _summary(np.concatenate([w.ravel() for w in ws])) if all(w.shape == ws[0].shape for w in ws) else None
        for k in keys:
            stats[k].append(float(m[k]) if m is not None else np.nan)
    out.update({k: np.array(v) for k, v in stats.items()})
    out["shapes"] = np.array(shapes, dtype=np.float64)
    out["bias_max"] = np.array(bias_max)
    return out


#: the experiment's configurations: (scheme, keyword arguments, activation)
EXPERIMENT = (
    ("normal", {"std": 0.05}, "tanh"),
    ("xavier_normal", {"gain": 1.0}, "tanh"),
    ("kaiming_normal", {"nonlinearity": "relu"}, "relu"),
    ("xavier_uniform", {"gain": 1.0}, "relu"),
)


def experiment(dk, inp):
    """A deep MLP on a digits batch: per hidden layer, the std of the activations (forward) and of the gradient
    of the loss-like signal ``sum(out * dout)`` with respect to them (backward), pooled over a few networks,
    for each configuration of EXPERIMENT, with the student's initialisers. Returns act_std, grad_std (4, L)."""
    rng = _rng(inp)
    X, dout = np.asarray(inp["X"], dtype=np.float64), np.asarray(inp["dout"], dtype=np.float64)
    sizes = [X.shape[1]] + [int(s) for s in np.asarray(inp["hidden"]).ravel()] + [dout.shape[1]]
    n_hidden = len(sizes) - 2
    act_var = np.zeros((len(EXPERIMENT), n_hidden))
    grad_var = np.zeros((len(EXPERIMENT), n_hidden))
    with threadpool_limits(limits=1):
        for c, (scheme, kw, act) in enumerate(EXPERIMENT):
            fn = getattr(dk.init, scheme)
            for _ in range(int(inp["nets"])):
                Ws = [np.asarray(fn((a, b), rng=rng, **kw), dtype=np.float64) for a, b in zip(sizes[:-1], sizes[1:])]
                h, hs = X, []
                for W in Ws[:-1]:  # hidden layers (zero biases, as at initialisation)
                    z = h @ W
                    h = np.tanh(z) if act == "tanh" else np.maximum(z, 0.0)
                    hs.append(h)
                dh = dout @ Ws[-1].T  # backward from the output layer
                for i in range(n_hidden - 1, -1, -1):
                    grad_var[c, i] += np.mean(dh * dh)
                    act_var[c, i] += np.mean(hs[i] * hs[i]) - np.mean(hs[i]) ** 2
                    dz = dh * (1.0 - hs[i] ** 2) if act == "tanh" else dh * (hs[i] > 0)
                    dh = dz @ Ws[i].T
    nets = int(inp["nets"])
    return {"act_std": np.sqrt(act_var / nets), "grad_std": np.sqrt(grad_var / nets)}
