"""Models for the training capstone (topic 09) and data preprocessing.

Preprocessing (the student part): statistics are computed on the TRAINING set only and then applied, unchanged,
to the training, validation and test sets. Computing them on all the data leaks information about the
validation/test examples into training (the validation score becomes optimistic).

* ``mode="feature"``: one mean (and std) per input feature, i.e. per pixel: ``X.mean(axis=0)``.
* ``mode="channel"``: one mean (and std) per channel of image batches (N, C, H, W): ``X.mean(axis=(0, 2, 3))``
  (what torchvision's ``Normalize(mean, std)`` does with per-channel numbers).
* PCA and whitening (``fit_whitening``, ``pca_whiten``, ``zca_whiten``): centre, rotate onto the eigenvectors of
  the training covariance (decorrelated features), divide by the square roots of its eigenvalues (unit variance
  in every direction); ZCA rotates back, so the whitened data stay as close to the original as whitening allows.

Models (given plumbing built from deepkit's layers, so that the exercise is about *training*):

* ``MLP``: affine -> [batchnorm] -> ReLU -> [dropout] ... -> affine -> softmax loss, weights from
  ``deepkit.init.init_mlp``.
* ``SmallCNN``: ``deepkit.blocks.small_cnn_loss`` (conv3x3 -> ReLU -> maxpool -> affine) as a model object.

A model has a ``params`` dict (name -> array), ``loss(X, y=None)`` returning scores (N, C) when ``y`` is None
and ``(loss, grads)`` otherwise (grads has the keys and shapes of params), and ``train()`` / ``eval()`` switching
the behaviour of batchnorm and dropout, like ``torch.nn.Module``. The mode is explicit: ``loss`` does NOT switch
to eval when ``y`` is None (so an accuracy must be measured after ``model.eval()``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from deepkit.blocks import init_small_cnn, small_cnn_loss
from deepkit.dropout import dropout_backward, dropout_forward
from deepkit.init import SCHEMES, init_mlp
from deepkit.layers import affine_backward, affine_forward, relu_backward, relu_forward
from deepkit.losses import softmax_loss
from deepkit.norm import batchnorm_backward, batchnorm_forward
from deepkit.validate import as_float_array, as_labels, check_int, check_positive, check_prob


class HiddenLayerCache(NamedTuple):
    """The caches of one hidden layer of the MLP: affine -> [batchnorm] -> ReLU -> [dropout]."""

    affine: tuple
    batchnorm: dict | None  # None without batch normalization
    relu: tuple
    dropout: dict | None  # None without dropout


PREPROCESS_MODES = ("feature", "channel")
#: a feature (or channel) whose training std is below this is only centred, never divided by ~0
STD_FLOOR = 1e-8
DATA_KEYS = ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test")


# --------------------------------------------------------------------------------------------- data
def as_data(data: Any) -> dict[str, np.ndarray]:
    """The arrays of a data set as a dict (given helper).

    data: a dict or an object with attributes (``deepkit.data.Split``) holding at least X_train, y_train, X_val,
    y_val (X_test, y_test optional). Returns a new dict of those arrays (X as float64, y as int64).
    """
    get = data.get if isinstance(data, dict) else (lambda k, d=None: getattr(data, k, d))
    out = {}
    for key in DATA_KEYS:
        value = get(key, None)
        if value is None:
            if key in DATA_KEYS[:4]:
                raise ValueError(
                    f"data must provide {', '.join(DATA_KEYS[:4])} (X_test, y_test optional); missing {key}"
                )
            continue
        if key.startswith("X"):
            out[key] = as_float_array(value, f"data[{key!r}]")
            if out[key].ndim < 2:
                raise ValueError(f"data[{key!r}] must be (N, D) or (N, C, H, W), got shape {out[key].shape}")
        else:
            arr = np.asarray(value)
            out[key] = as_labels(arr, f"data[{key!r}]", len(arr), int(arr.max(initial=0)) + 1)
    for split in ("train", "val", "test"):
        if f"X_{split}" in out and len(out[f"X_{split}"]) != len(out[f"y_{split}"]):
            raise ValueError(
                f"X_{split} and y_{split} must have the same length, got "
                f"{len(out[f'X_{split}'])} and {len(out[f'y_{split}'])}"
            )
    return out


def _check_mode(mode: str) -> str:
    if mode not in PREPROCESS_MODES:
        raise ValueError(f"mode must be 'feature' (per input feature) or 'channel' (per image channel), got {mode!r}")
    return mode


def fit_preprocess(X_train: np.ndarray, mode: str = "feature", scale: bool = True) -> dict[str, np.ndarray]:
    """Statistics for centring (and scaling) computed from the TRAINING examples only.

    X_train: (N, D) or (N, C, H, W) training examples.
    mode "feature": mean and std over the examples (axis 0), shapes X_train.shape[1:] ((D,) or (C, H, W)).
    mode "channel": X_train must be 4-D; mean and std over examples and pixels (axes 0, 2, 3), shapes (C,).
    std is the population std (ddof=0); entries below STD_FLOOR (constant features, e.g. always-blank
    border pixels) are replaced by 1 so those features are centred but not blown up.
    scale=False: std is all ones (centring only).
    Returns {"mode": np.array(mode), "mean": ..., "std": ...}.
    """
    X_train = as_float_array(X_train, "X_train", ndim=(2, 4), shape_doc="(N, D) or (N, C, H, W)")
    _check_mode(mode)
    if mode == "channel" and X_train.ndim != 4:
        raise ValueError(f"mode 'channel' needs image batches X_train of shape (N, C, H, W), got {X_train.shape}")
    if X_train.shape[0] < 1:
        raise ValueError("X_train must hold at least one example")
    ### BEGIN SOLUTION
    axes = 0 if mode == "feature" else (0, 2, 3)
    mean = X_train.mean(axis=axes)
    if scale:
        std = X_train.std(axis=axes)
        std = np.where(std < STD_FLOOR, 1.0, std)
    else:
        std = np.ones_like(mean)
    return {"mode": np.array(mode), "mean": mean, "std": std}
    ### END SOLUTION


def apply_preprocess(X: np.ndarray, stats: dict) -> np.ndarray:
    """``(X - mean) / std`` with the statistics of ``fit_preprocess`` (broadcast per feature or per channel).

    X: examples shaped like the training set ((N, D) or (N, C, H, W)). Returns a new array of X's shape.
    """
    X = as_float_array(X, "X", ndim=(2, 4), shape_doc="(N, D) or (N, C, H, W)")
    if not isinstance(stats, dict) or not {"mode", "mean", "std"} <= set(stats):
        raise TypeError("stats must be the dict returned by fit_preprocess (keys 'mode', 'mean', 'std')")
    mode = _check_mode(str(stats["mode"]))
    mean = np.asarray(stats["mean"], dtype=np.float64)
    want = mean.shape if mode == "feature" else (X.shape[1],)
    if (mode == "feature" and X.shape[1:] != mean.shape) or (mode == "channel" and (X.ndim != 4 or mean.shape != want)):
        raise ValueError(f"X of shape {X.shape} does not match the statistics (mode {mode!r}, mean shape {mean.shape})")
    ### BEGIN SOLUTION
    std = np.asarray(stats["std"], dtype=np.float64)
    if mode == "channel":
        mean, std = mean.reshape(1, -1, 1, 1), std.reshape(1, -1, 1, 1)
    return (X - mean) / std
    ### END SOLUTION


def preprocess_split(
    data: Any, mode: str = "feature", scale: bool = True
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Fit the statistics on ``data``'s training examples and apply them to every split.

    data: dict or ``Split`` with X_train, y_train, X_val, y_val (and optionally X_test, y_test).
    Returns (new data dict with every X_* preprocessed and the labels unchanged, stats).
    Never fit on X_val or X_test (not even on the concatenation): that leaks them into training.
    """
    data = as_data(data)
    _check_mode(mode)
    ### BEGIN SOLUTION
    stats = fit_preprocess(data["X_train"], mode, scale)
    out = {k: (apply_preprocess(v, stats) if k.startswith("X") else v.copy()) for k, v in data.items()}
    return out, stats
    ### END SOLUTION


def fit_whitening(X_train: np.ndarray) -> dict[str, np.ndarray]:
    """The statistics of PCA / whitening, from the TRAINING examples only.

    X_train: (N, D). Centre with the mean over the examples, then take the covariance
    ``Sigma = Xc.T @ Xc / N`` (the population covariance, ddof=0, like the std of ``fit_preprocess``; NOT N - 1)
    and its eigendecomposition ``Sigma = U diag(lam) U.T`` (``np.linalg.eigh``: Sigma is symmetric).
    Returns {"mean": (D,), "eigvals": (D,) in DECREASING order, "eigvecs": (D, D) whose column k is the
    eigenvector of eigvals[k]}. (An eigenvector's sign is arbitrary: -u is as good as u; the checks accept both.)
    """
    X_train = as_float_array(X_train, "X_train", ndim=2, shape_doc="(N, D)")
    if X_train.shape[0] < 2:
        raise ValueError(f"X_train must hold at least two examples to have a covariance, got {X_train.shape[0]}")
    ### BEGIN SOLUTION
    mean = X_train.mean(axis=0)
    centred = X_train - mean
    cov = centred.T @ centred / len(centred)
    eigvals, eigvecs = np.linalg.eigh(cov)  # ascending
    order = np.argsort(eigvals)[::-1]
    return {"mean": mean, "eigvals": np.maximum(eigvals[order], 0.0), "eigvecs": eigvecs[:, order]}
    ### END SOLUTION


def _check_whitening(X: np.ndarray, stats: dict, eps: float) -> np.ndarray:
    X = as_float_array(X, "X", ndim=2, shape_doc="(N, D)")
    if not isinstance(stats, dict) or not {"mean", "eigvals", "eigvecs"} <= set(stats):
        raise TypeError("stats must be the dict returned by fit_whitening (keys 'mean', 'eigvals', 'eigvecs')")
    if X.shape[1] != np.shape(stats["mean"])[0]:
        raise ValueError(f"X has {X.shape[1]} features, the statistics {np.shape(stats['mean'])[0]}")
    check_positive(eps, "eps", allow_zero=True)
    return X


def pca_whiten(X: np.ndarray, stats: dict, k: int | None = None, eps: float = 1e-5, whiten: bool = True) -> np.ndarray:
    """Project onto the top ``k`` principal components (all D when k is None), scaled to unit variance.

    X: (N, D) examples (training, validation or test: always the TRAINING statistics). Returns (N, k)::

        (X - mean) @ U[:, :k] / sqrt(lam[:k] + eps)        (eps inside the square root; whiten=False: no division)

    whiten=False gives the decorrelated (rotated) data: its training covariance is diag(lam[:k]). With
    whiten=True the training covariance is diag(lam / (lam + eps)), the identity for lam >> eps; eps keeps the
    near-zero-variance directions (noise) from being blown up.
    """
    X = _check_whitening(X, stats, eps)
    D = X.shape[1]
    k = D if k is None else check_int(k, "k", 1)
    if k > D:
        raise ValueError(f"k must be at most the number of features {D}, got {k}")
    ### BEGIN SOLUTION
    rotated = (X - stats["mean"]) @ stats["eigvecs"][:, :k]
    return rotated / np.sqrt(stats["eigvals"][:k] + eps) if whiten else rotated
    ### END SOLUTION


def zca_whiten(X: np.ndarray, stats: dict, eps: float = 1e-5) -> np.ndarray:
    """ZCA whitening: PCA-whiten with all D components, then rotate back to the original axes::

        (X - mean) @ U @ diag(1 / sqrt(lam + eps)) @ U.T          -> (N, D)

    Unlike PCA whitening it does not depend on the eigenvectors' signs, and of all whitening transforms it keeps
    the data closest to the original (for images: whitened images still look like images, with edges enhanced).
    """
    X = _check_whitening(X, stats, eps)
    ### BEGIN SOLUTION
    U = stats["eigvecs"]
    return (X - stats["mean"]) @ (U / np.sqrt(stats["eigvals"] + eps)) @ U.T
    ### END SOLUTION


# ---------------------------------------------------------------------------------------------- models
class MLP:
    """A fully connected ReLU network with optional batchnorm and dropout (given code).

    Architecture: for each hidden size H_i: affine -> [batchnorm] -> ReLU -> [dropout]; then affine -> scores.
    params: "W1", "b1", ... "W{L}", "b{L}" (W_i of shape (D_{i-1}, D_i)), and "gamma{i}", "beta{i}" for each
    hidden layer when ``normalization="batchnorm"``.

    input_dim D, hidden_dims (H_1, ..., H_{L-1}), num_classes C; init: a scheme of ``deepkit.init.SCHEMES``
    (init_kw go to it, e.g. std=0.01 for "normal"); the output layer's weights are multiplied by
    ``output_scale`` (small initial scores -> initial loss near log C); reg: L2 strength on the weights
    (``0.5 * reg * sum ||W_i||^2``, not on biases or batchnorm parameters); dropout: drop probability after each
    hidden ReLU (0 = off); seed: weights and dropout masks come from ``np.random.default_rng(seed)``.

    After each forward pass ``act_std`` holds the std of every hidden layer's output (a list, for monitoring).
    """

    def __init__(
        self,
        input_dim: int = 64,
        hidden_dims: Sequence[int] = (100,),
        num_classes: int = 10,
        init: str = "kaiming_normal",
        init_kw: dict | None = None,
        output_scale: float = 0.1,
        reg: float = 0.0,
        normalization: str | None = None,
        dropout: float = 0.0,
        seed: int = 0,
    ) -> None:
        input_dim = check_int(input_dim, "input_dim", 1)
        num_classes = check_int(num_classes, "num_classes", 2)
        hidden = [check_int(h, f"hidden_dims[{i}]", 1) for i, h in enumerate(hidden_dims)]
        if init not in SCHEMES:
            raise ValueError(f"init must be one of {SCHEMES}, got {init!r}")
        if normalization not in (None, "batchnorm"):
            raise ValueError(f"normalization must be None or 'batchnorm', got {normalization!r}")
        self.reg = check_positive(reg, "reg", allow_zero=True)
        self.dropout = check_prob(dropout, "dropout", high_open=True)
        check_positive(output_scale, "output_scale")
        self.normalization = normalization
        self.num_layers = len(hidden) + 1
        self.num_classes = num_classes
        self.rng = np.random.default_rng(seed)
        layers = init_mlp([input_dim, *hidden, num_classes], init, self.rng, **(init_kw or {}))
        self.params: dict[str, np.ndarray] = {}
        for i, (W, b) in enumerate(layers, start=1):
            self.params[f"W{i}"] = W * (output_scale if i == self.num_layers else 1.0)
            self.params[f"b{i}"] = b
            if normalization == "batchnorm" and i < self.num_layers:
                self.params[f"gamma{i}"] = np.ones(W.shape[1])
                self.params[f"beta{i}"] = np.zeros(W.shape[1])
        self.bn_params = [{"mode": "train"} for _ in hidden] if normalization == "batchnorm" else []
        self.mode = "train"
        self.act_std: list[float] = []

    def train(self) -> MLP:
        """Training mode: batch statistics in batchnorm, random dropout masks."""
        self.mode = "train"
        return self

    def eval(self) -> MLP:
        """Evaluation mode: running statistics in batchnorm, no dropout (deterministic scores)."""
        self.mode = "eval"
        return self

    def loss(self, X: np.ndarray, y: np.ndarray | None = None):
        """Scores (N, C) when y is None, else (loss, grads) with grads shaped like params. X: (N, D) or images
        (flattened); the current mode (``train()``/``eval()``) decides batchnorm's and dropout's behaviour."""
        X = as_float_array(X, "X")
        if X.ndim < 2:
            raise ValueError(f"X must be an array of shape (N, D) or (N, d1, ..., dk), got shape {X.shape}")
        if y is not None:
            y = as_labels(y, "y", X.shape[0], self.num_classes)
        p, caches, h = self.params, [], X
        for bn in self.bn_params:
            bn["mode"] = self.mode
        self.act_std = []
        for i in range(1, self.num_layers):
            h, c_aff = affine_forward(h, p[f"W{i}"], p[f"b{i}"])
            c_bn = None
            if self.normalization == "batchnorm":
                h, c_bn = batchnorm_forward(h, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
            h, c_relu = relu_forward(h)
            c_drop = None
            if self.dropout > 0:
                h, c_drop = dropout_forward(h, self.dropout, self.mode, self.rng)
            self.act_std.append(float(h.std()))
            caches.append(HiddenLayerCache(c_aff, c_bn, c_relu, c_drop))
        L = self.num_layers
        scores, c_out = affine_forward(h, p[f"W{L}"], p[f"b{L}"])
        if y is None:
            return scores
        data_loss, dscores = softmax_loss(scores, y)
        weights = [p[f"W{i}"] for i in range(1, L + 1)]
        loss = data_loss + 0.5 * self.reg * sum(float(np.sum(W * W)) for W in weights)
        grads = {}
        dh, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dscores, c_out)
        for i in range(L - 1, 0, -1):
            c_aff, c_bn, c_relu, c_drop = caches[i - 1]
            if c_drop is not None:
                dh = dropout_backward(dh, c_drop)
            dh = relu_backward(dh, c_relu)
            if c_bn is not None:
                dh, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward(dh, c_bn)
            dh, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(dh, c_aff)
        for i in range(1, L + 1):
            grads[f"W{i}"] = grads[f"W{i}"] + self.reg * p[f"W{i}"]
        return float(loss), grads


class SmallCNN:
    """``deepkit.blocks``' small CNN (conv3x3 pad 1 -> ReLU -> maxpool 2x2 -> affine) as a model (given code).

    in_shape (C, H, W) with even H, W; filters F; num_classes C; reg: L2 on W1, W2; seed for the init.
    params: W1 (F, C, 3, 3), b1 (F,), W2 (F*H/2*W/2, classes), b2. No dropout or batchnorm: train()/eval()
    only record the mode.
    """

    def __init__(
        self, in_shape: tuple = (1, 8, 8), filters: int = 8, num_classes: int = 10, reg: float = 0.0, seed: int = 0
    ) -> None:
        check_int(filters, "filters", 1)
        self.num_classes = check_int(num_classes, "num_classes", 2)
        self.reg = check_positive(reg, "reg", allow_zero=True)
        self.params = init_small_cnn(tuple(in_shape), filters, num_classes, np.random.default_rng(seed))
        self.mode = "train"
        self.act_std: list[float] = []

    def train(self) -> SmallCNN:
        self.mode = "train"
        return self

    def eval(self) -> SmallCNN:
        self.mode = "eval"
        return self

    def loss(self, X: np.ndarray, y: np.ndarray | None = None):
        """Scores (N, classes) when y is None, else (loss, grads). X: (N, C, H, W)."""
        return small_cnn_loss(self.params, X, y, self.reg)
