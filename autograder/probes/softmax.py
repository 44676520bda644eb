"""Probes for topic 01 (softmax, cross-entropy, backprop). Run inside the sandbox on the student's deepkit and
in the trusted process on the reference; import only numpy and the stdlib."""

import numpy as np


def affine_forward(dk, inp):
    out, _ = dk.layers.affine_forward(inp["x"], inp["w"], inp["b"])
    return {"out": np.asarray(out)}


def affine_backward(dk, inp):
    _, cache = dk.layers.affine_forward(inp["x"], inp["w"], inp["b"])
    dx, dw, db = dk.layers.affine_backward(inp["dout"], cache)
    return {"dx": np.asarray(dx), "dw": np.asarray(dw), "db": np.asarray(db)}


def relu_forward(dk, inp):
    out, _ = dk.layers.relu_forward(inp["x"])
    return {"out": np.asarray(out)}


def relu_backward(dk, inp):
    _, cache = dk.layers.relu_forward(inp["x"])
    return {"dx": np.asarray(dk.layers.relu_backward(inp["dout"], cache))}


def softmax(dk, inp):
    return {"p": np.asarray(dk.losses.softmax(inp["z"]))}


def log_softmax(dk, inp):
    return {"logp": np.asarray(dk.losses.log_softmax(inp["z"]))}


def cross_entropy(dk, inp):
    return {"loss": np.asarray(dk.losses.cross_entropy(inp["probs"], inp["y"]), dtype=np.float64)}


def softmax_loss(dk, inp):
    loss, dscores = dk.losses.softmax_loss(inp["scores"], inp["y"])
    return {"loss": np.asarray(loss, dtype=np.float64), "dscores": np.asarray(dscores)}


def two_layer_loss(dk, inp):
    params = {k: inp[k] for k in ("W1", "b1", "W2", "b2")}
    scores = dk.nets.two_layer_loss(dict(params), inp["X"])
    loss, grads = dk.nets.two_layer_loss(dict(params), inp["X"], inp["y"], reg=float(inp["reg"]))
    return {
        "scores": np.asarray(scores),
        "loss": np.asarray(loss, dtype=np.float64),
        **{"d" + k: np.asarray(grads[k]) for k in ("W1", "b1", "W2", "b2")},
    }
