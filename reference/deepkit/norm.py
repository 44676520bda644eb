"""Normalization layers: batch normalization (fully connected and spatial), layer normalization, BN folding.

Conventions (the same as PyTorch, so results can be compared with ``torch.nn.functional.batch_norm``):

* ``bn_param`` is a dict ``{"mode": "train" | "eval", "eps": 1e-5, "momentum": 0.1,
  "running_mean": (D,), "running_var": (D,)}``. Missing entries get these defaults (running mean 0, running
  variance 1, like a fresh ``torch.nn.BatchNorm1d``).
* ``momentum`` is the weight of the NEW batch statistic (torch's convention):
  ``running = (1 - momentum) * running + momentum * batch``. Keras and the original paper's code write the
  same update with the weight of the OLD value (0.9 / 0.99).
* The running variance is updated with the UNBIASED batch variance ``m / (m - 1) * var_batch``; the
  normalization itself (train mode) divides by the biased batch variance.
* In train mode ``bn_param["running_mean"]`` and ``bn_param["running_var"]`` are replaced by new arrays (the
  dict is updated in place); eval mode never changes them. ``momentum`` may be anything in [0, 1]: 0 keeps the
  running statistics where they are, 1 replaces them by the last batch's.
* Eval mode normalizes with the running statistics, which are constants: its backward is
  ``dx = dout * gamma / sqrt(running_var + eps)``, with no path through a batch mean or variance.
* Compute in float64 (NumPy's default for float inputs): the grader compares to 1e-6 relative, which float32
  arithmetic does not reach.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepkit.validate import as_float_array, check_positive, check_prob, check_shape

_MODES = ("train", "eval")


def _check_bn_param(bn_param: Any, dim: int, name: str = "bn_param") -> tuple[str, float, float]:
    """Validate ``bn_param`` for ``dim`` features, fill in defaults, return (mode, eps, momentum)."""
    if not isinstance(bn_param, dict):
        raise TypeError(
            f"{name} must be a dict with keys 'mode', 'eps', 'momentum', 'running_mean', "
            f"'running_var', got {type(bn_param).__name__}"
        )
    mode = bn_param.get("mode", "train")
    if mode not in _MODES:
        raise ValueError(f"{name}['mode'] must be 'train' or 'eval', got {mode!r}")
    eps = check_positive(bn_param.get("eps", 1e-5), f"{name}['eps']")
    momentum = check_prob(bn_param.get("momentum", 0.1), f"{name}['momentum']")
    for key, default in (("running_mean", 0.0), ("running_var", 1.0)):
        if bn_param.get(key) is None:
            bn_param[key] = np.full(dim, default)
        arr = as_float_array(bn_param[key], f"{name}[{key!r}]", ndim=1, shape_doc=f"({dim},)")
        check_shape(arr, f"{name}[{key!r}]", (dim,))
        bn_param[key] = arr
    if np.any(bn_param["running_var"] < 0):
        raise ValueError(f"{name}['running_var'] must be >= 0 (it is a variance)")
    return mode, eps, momentum


def _check_affine(gamma: Any, beta: Any, dim: int, doc: str = "(D,)") -> tuple[np.ndarray, np.ndarray]:
    gamma = as_float_array(gamma, "gamma", ndim=1, shape_doc=doc)
    beta = as_float_array(beta, "beta", ndim=1, shape_doc=doc)
    check_shape(gamma, "gamma", (dim,), f"({dim},) to match x")
    check_shape(beta, "beta", (dim,), f"({dim},) to match x")
    return gamma, beta


def batchnorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict) -> tuple[np.ndarray, dict]:
    """Batch normalization of a fully connected layer's activations.

    x: (N, D) mini-batch; gamma, beta: (D,) learned scale and shift; bn_param: see the module docstring.

    Train mode: normalize each column with the batch mean and the BIASED batch variance,
    ``xhat = (x - mu) / sqrt(var + eps)``, ``out = gamma * xhat + beta``, and update the running statistics
    in ``bn_param`` with ``momentum`` weighting the new values and the UNBIASED variance ``N / (N - 1) * var``.
    Eval mode: use ``running_mean`` / ``running_var`` instead of the batch statistics; nothing is updated.

    Returns ``out`` (N, D) and a ``cache`` for the backward pass (whatever your backward needs).
    """
    x = as_float_array(x, "x", ndim=2, shape_doc="(N, D)")
    n, d = x.shape
    gamma, beta = _check_affine(gamma, beta, d)
    mode, eps, momentum = _check_bn_param(bn_param, d)
    if mode == "train" and n < 2:
        raise ValueError(
            f"x must have at least 2 rows in train mode (the unbiased running variance divides "
            f"by N - 1), got shape {x.shape}"
        )
    ### BEGIN SOLUTION
    # one new (N, D) array per call: large temporaries cost a page fault per 4 KiB on every call
    mu = x.mean(axis=0) if mode == "train" else bn_param["running_mean"]
    out = x - mu  # centred x, turned into the output in place below
    if mode == "train":
        var = np.einsum("ij,ij->j", out, out) / n  # biased batch variance: sum of squares, no temporary
        bn_param["running_mean"] = (1 - momentum) * bn_param["running_mean"] + momentum * mu
        bn_param["running_var"] = (1 - momentum) * bn_param["running_var"] + momentum * var * n / (n - 1)
    else:
        var = bn_param["running_var"]
    inv_std = 1.0 / np.sqrt(var + eps)
    out *= gamma * inv_std  # gamma * xhat, xhat = (x - mu) * inv_std
    out += beta
    return out, {"mode": mode, "x": x, "mu": mu, "inv_std": inv_std, "gamma": gamma}
    ### END SOLUTION


def batchnorm_backward(dout: np.ndarray, cache: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of ``batchnorm_forward``, staged node by node through the computation graph
    (mean -> centre -> variance -> std -> 1/std -> xhat -> scale and shift), in reverse order.

    dout: (N, D) upstream gradient; cache: from ``batchnorm_forward``.
    Returns dx (N, D), dgamma (D,), dbeta (D,). In eval mode the statistics are constants, so
    ``dx = dout * gamma / sqrt(running_var + eps)``.
    """
    dout = as_float_array(dout, "dout", ndim=2, shape_doc="(N, D)")
    ### BEGIN SOLUTION
    x, mu, inv_std, gamma = cache["x"], cache["mu"], cache["inv_std"], cache["gamma"]
    check_shape(dout, "dout", x.shape)
    n = dout.shape[0]
    dbeta = dout.sum(axis=0)  # out = gamma * xhat + beta
    sum_dout_xc = np.einsum("ij,ij->j", dout, x) - mu * dbeta  # sum_i dout * xc, xc = x - mu
    dgamma = sum_dout_xc * inv_std  # sum_i dout * xhat, xhat = xc * inv_std
    # dxhat = dout * gamma is never formed: each of its uses below scales it by a per-column constant
    if cache["mode"] == "eval":
        return dout * (gamma * inv_std), dgamma, dbeta
    dxhat_scale = gamma * inv_std  # xhat -> xc: dxc gets dxhat * inv_std = dout * gamma * inv_std
    dinv_std = gamma * sum_dout_xc  # xhat = xc * inv_std: sum_i dxhat * xc
    dstd = -dinv_std * inv_std**2  # inv_std = 1 / std
    dvar = dstd * inv_std / 2.0  # std = sqrt(var + eps): d std / d var = 1 / (2 std)
    dvar_scale = 2.0 * dvar / n  # var = mean(xc ** 2): dxc gets dvar * 2 xc / N
    # mu = mean(x) feeds every xc: dmu = -sum_i dxc. The path through xhat gives -dxhat_scale * dbeta; the one
    # through var gives -dvar_scale * sum_i xc, which is 0 because the centred x sums to 0 (no pass over the data)
    dmu = -dxhat_scale * dbeta
    # dx = dxc + dmu / N with xc = x - mu: the per-column constants are gathered in one term (one new array)
    dx = x * dvar_scale
    dx += dout * dxhat_scale
    dx += dmu / n - mu * dvar_scale
    return dx, dgamma, dbeta
    ### END SOLUTION


def batchnorm_backward_alt(dout: np.ndarray, cache: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of ``batchnorm_forward`` in closed form: the graph backward simplified on paper until
    ``dx`` is written with ``dout``, its column sums ``dbeta``, ``dgamma = sum_i dout * xhat`` and per-column
    constants only (no per-node intermediate arrays; derive it yourself from ``batchnorm_backward``).

    dout: (N, D); cache: from ``batchnorm_forward``. Returns dx (N, D), dgamma (D,), dbeta (D,), equal to
    ``batchnorm_backward``'s. In eval mode ``dx = dout * gamma / sqrt(running_var + eps)``.
    """
    dout = as_float_array(dout, "dout", ndim=2, shape_doc="(N, D)")
    ### BEGIN SOLUTION
    x, mu, inv_std, gamma = cache["x"], cache["mu"], cache["inv_std"], cache["gamma"]
    check_shape(dout, "dout", x.shape)
    n = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (np.einsum("ij,ij->j", dout, x) - mu * dbeta) * inv_std  # sum_i dout * xhat
    scale = gamma * inv_std  # d out / d xhat, times d xhat / d x for a fixed mean and variance
    if cache["mode"] == "eval":
        return dout * scale, dgamma, dbeta
    # dx = scale / N * (N dout - dbeta - xhat * dgamma), xhat = (x - mu) * inv_std; in place: one new array
    k = inv_std * dgamma / n
    dx = x * -k
    dx += dout
    dx += mu * k - dbeta / n
    dx *= scale
    return dx, dgamma, dbeta
    ### END SOLUTION


def spatial_batchnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict
) -> tuple[np.ndarray, dict]:
    """Spatial batch normalization (``BatchNorm2d``): one mean and variance per CHANNEL, computed over the
    batch and all spatial positions (N * H * W values each).

    x: (N, C, H, W); gamma, beta: (C,); bn_param as for ``batchnorm_forward`` with (C,) running statistics
    (the unbiased correction uses m = N * H * W). Returns out (N, C, H, W) and a cache.
    Hint: move C last, flatten to (N * H * W, C), reuse ``batchnorm_forward``, and undo the reshape (or compute
    the statistics over the axes (0, 2, 3) directly, which saves the copies).
    """
    x = as_float_array(x, "x", ndim=4, shape_doc="(N, C, H, W)")
    n, c, h, w = x.shape
    gamma, beta = _check_affine(gamma, beta, c, "(C,)")
    mode, eps, momentum = _check_bn_param(bn_param, c)
    if mode == "train" and n * h * w < 2:
        raise ValueError(f"train mode needs N * H * W >= 2 values per channel (m / (m - 1)), got shape {x.shape}")
    ### BEGIN SOLUTION
    # the formulas of batchnorm_forward on a (N, C, H * W) view: per channel, statistics over axes 0 and 2
    x3, m = x.reshape(n, c, h * w), n * h * w
    mu = x3.mean(axis=(0, 2)) if mode == "train" else bn_param["running_mean"]
    out = x3 - mu[:, None]
    if mode == "train":
        var = np.einsum("nck,nck->c", out, out) / m
        bn_param["running_mean"] = (1 - momentum) * bn_param["running_mean"] + momentum * mu
        bn_param["running_var"] = (1 - momentum) * bn_param["running_var"] + momentum * var * m / (m - 1)
    else:
        var = bn_param["running_var"]
    inv_std = 1.0 / np.sqrt(var + eps)
    out *= (gamma * inv_std)[:, None]
    out += beta[:, None]
    cache = {"mode": mode, "x": x3, "mu": mu, "inv_std": inv_std, "gamma": gamma, "shape": x.shape}
    return out.reshape(x.shape), cache
    ### END SOLUTION


def spatial_batchnorm_backward(dout: np.ndarray, cache: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of ``spatial_batchnorm_forward``: batch norm's backward with the sums over N, H and W.

    dout: (N, C, H, W); returns dx (N, C, H, W), dgamma (C,), dbeta (C,). Eval mode as for batch norm.
    """
    dout = as_float_array(dout, "dout", ndim=4, shape_doc="(N, C, H, W)")
    ### BEGIN SOLUTION
    check_shape(dout, "dout", cache["shape"])
    x3, mu, inv_std, gamma = cache["x"], cache["mu"], cache["inv_std"], cache["gamma"]
    d3 = dout.reshape(x3.shape)  # (N, C, H * W), like the forward's view
    m = d3.shape[0] * d3.shape[2]
    dbeta = d3.sum(axis=(0, 2))
    dgamma = (np.einsum("nck,nck->c", d3, x3) - mu * dbeta) * inv_std
    scale = gamma * inv_std
    if cache["mode"] == "eval":
        return dout * scale[:, None, None], dgamma, dbeta
    k = inv_std * dgamma / m
    dx = x3 * -k[:, None]
    dx += d3
    dx += (mu * k - dbeta / m)[:, None]
    dx *= scale[:, None]
    return dx.reshape(dout.shape), dgamma, dbeta
    ### END SOLUTION


def layernorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, ln_param: dict | None = None
) -> tuple[np.ndarray, dict]:
    """Layer normalization: each ROW (one example) is normalized over its D features with its own mean and
    biased variance; the same in train and eval mode, no running statistics.

    x: (N, D); gamma, beta: (D,); ln_param: ``{"eps": 1e-5}`` (optional).
    Returns out (N, D) = gamma * (x - mean_row) / sqrt(var_row + eps) + beta, and a cache.
    """
    x = as_float_array(x, "x", ndim=2, shape_doc="(N, D)")
    gamma, beta = _check_affine(gamma, beta, x.shape[1])
    if ln_param is not None and not isinstance(ln_param, dict):
        raise TypeError(f"ln_param must be a dict like {{'eps': 1e-5}} or None, got {type(ln_param).__name__}")
    eps = check_positive((ln_param or {}).get("eps", 1e-5), "ln_param['eps']")
    ### BEGIN SOLUTION
    mu = x.mean(axis=1, keepdims=True)  # (N, 1)
    out = x - mu  # centred x, turned into the output in place (one new (N, D) array per call)
    inv_std = 1.0 / np.sqrt(np.einsum("ij,ij->i", out, out)[:, None] / x.shape[1] + eps)  # (N, 1)
    out *= inv_std  # xhat
    out *= gamma
    out += beta
    return out, {"x": x, "mu": mu, "inv_std": inv_std, "gamma": gamma}
    ### END SOLUTION


def layernorm_backward(dout: np.ndarray, cache: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of ``layernorm_forward``. Each row is batch norm's problem turned sideways (the mean and
    variance of a row depend on all of its D features); mind that gamma varies along the row. dgamma and dbeta
    still sum over the batch.

    dout: (N, D); returns dx (N, D), dgamma (D,), dbeta (D,).
    """
    dout = as_float_array(dout, "dout", ndim=2, shape_doc="(N, D)")
    ### BEGIN SOLUTION
    x, mu, inv_std, gamma = cache["x"], cache["mu"], cache["inv_std"], cache["gamma"]
    check_shape(dout, "dout", x.shape)
    d = dout.shape[1]
    dx = dout * gamma  # dxhat: gamma stays inside the row sums below
    sum_dxhat = dx.sum(axis=1, keepdims=True)
    sum_dxhat_xhat = (np.einsum("ij,ij->i", dx, x)[:, None] - mu * sum_dxhat) * inv_std  # xhat = (x - mu) inv_std
    dgamma = np.einsum("ij,ij,i->j", dout, x, inv_std[:, 0]) - (mu * inv_std)[:, 0] @ dout  # sum_i dout * xhat
    # dx = inv_std * (dxhat - mean_row(dxhat) - xhat * mean_row(dxhat * xhat)), built in place
    k = inv_std * sum_dxhat_xhat / d
    dx -= x * k
    dx += mu * k - sum_dxhat / d
    dx *= inv_std
    return dx, dgamma, dout.sum(axis=0)
    ### END SOLUTION


def fold_batchnorm(
    w: np.ndarray,
    b: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    running_mean: np.ndarray,
    running_var: np.ndarray,
    eps: float = 1e-5,
) -> tuple[np.ndarray, np.ndarray]:
    """Fold an eval-mode batch norm into the affine layer before it.

    The layer is ``z = x @ w + b`` with w (D, M), b (M,); the batch norm (eval mode) is
    ``y = gamma * (z - running_mean) / sqrt(running_var + eps) + beta`` with (M,) parameters.
    Returns (w_folded (D, M), b_folded (M,)) such that ``x @ w_folded + b_folded == y`` for every x.
    """
    w = as_float_array(w, "w", ndim=2, shape_doc="(D, M)")
    m = w.shape[1]
    b = as_float_array(b, "b", ndim=1, shape_doc=f"({m},)")
    check_shape(b, "b", (m,), f"({m},) to match w's columns")
    gamma, beta = _check_affine(gamma, beta, m, f"({m},)")
    running_mean = as_float_array(running_mean, "running_mean", ndim=1, shape_doc=f"({m},)")
    running_var = as_float_array(running_var, "running_var", ndim=1, shape_doc=f"({m},)")
    check_shape(running_mean, "running_mean", (m,))
    check_shape(running_var, "running_var", (m,))
    if np.any(running_var < 0):
        raise ValueError("running_var must be >= 0 (it is a variance)")
    eps = check_positive(eps, "eps")
    ### BEGIN SOLUTION
    scale = gamma / np.sqrt(running_var + eps)
    return w * scale, (b - running_mean) * scale + beta
    ### END SOLUTION
