"""Topic 09 (training capstone): preprocessing, the MLP model vs torch autograd (float64) and finite differences,
the Solver vs an independent torch training loop on the same batches, the babysitting helpers, the dashboard, and
the hidden checks (reference = full marks; each known-wrong variant loses its part)."""

import asyncio
import copy
import math
import types
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.checks import training as train_checks
from autograder.local import grade_module
from tests.refs import dk

M = dk.models
S = dk.solver
numerical_gradient, rel_error = dk.gradcheck.numerical_gradient, dk.gradcheck.rel_error


def _digits(n_train=300, n_val=100, images=False):
    split = dk.data.load_digits(images=images)
    return {
        "X_train": split.X_train[:n_train],
        "y_train": split.y_train[:n_train],
        "X_val": split.X_val[:n_val],
        "y_val": split.y_val[:n_val],
        "X_test": split.X_test[:n_val],
        "y_test": split.y_test[:n_val],
    }


# ------------------------------------------------------------------------------------------ preprocess
def test_preprocess_matches_torch_and_uses_training_statistics_only():
    rng = np.random.default_rng(0)
    data = {
        "X_train": rng.normal(2.0, 3.0, (50, 3, 4, 4)),
        "y_train": rng.integers(0, 3, 50),
        "X_val": rng.normal(5.0, 1.0, (20, 3, 4, 4)),
        "y_val": rng.integers(0, 3, 20),
    }
    xt = torch.tensor(data["X_train"])
    for mode, dims in (("feature", (0,)), ("channel", (0, 2, 3))):
        new, stats = M.preprocess_split(data, mode=mode)
        mean = xt.mean(dim=dims).numpy()
        std = xt.std(dim=dims, unbiased=False).numpy()
        assert np.allclose(stats["mean"], mean) and np.allclose(stats["std"], std)
        shape = (1, 3, 1, 1) if mode == "channel" else (1, 3, 4, 4)
        expect_val = (data["X_val"] - mean.reshape(shape)) / std.reshape(shape)
        assert np.allclose(new["X_val"], expect_val)
        # the training set is standardised, the validation set (different distribution) is not
        assert np.allclose(new["X_train"].mean(axis=dims), 0, atol=1e-12)
        assert abs(new["X_val"].mean()) > 0.5
        assert new["y_val"] is not data["y_val"] and np.array_equal(new["y_val"], data["y_val"])


def test_preprocess_constant_feature_is_centred_not_divided():
    X = np.c_[np.full(10, 3.0), np.arange(10.0)]
    stats = M.fit_preprocess(X)
    assert stats["std"][0] == 1.0
    out = M.apply_preprocess(X, stats)
    assert np.all(out[:, 0] == 0) and np.all(np.isfinite(out))
    assert np.allclose(M.fit_preprocess(X, scale=False)["std"], 1.0)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 12), c=st.integers(1, 4), hw=st.integers(1, 4), seed=st.integers(0, 10**6))
def test_preprocess_shapes_and_train_invariants(n, c, hw, seed):
    X = np.random.default_rng(seed).normal(size=(n, c, hw, hw)) * 5 + 1
    for mode, axes, shape in (("feature", 0, (c, hw, hw)), ("channel", (0, 2, 3), (c,))):
        stats = M.fit_preprocess(X, mode)
        assert stats["mean"].shape == shape and stats["std"].shape == shape
        out = M.apply_preprocess(X, stats)
        assert out.shape == X.shape
        assert np.allclose(out.mean(axis=axes), 0, atol=1e-9)
        sd = out.std(axis=axes)
        assert np.all(np.isclose(sd, 1, atol=1e-6) | np.isclose(sd, 0, atol=1e-6))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: M.fit_preprocess(np.zeros(5)), r"X_train must be a 2-D or 4-D array"),
        (lambda: M.fit_preprocess(np.zeros((4, 3)), mode="channel"), r"mode 'channel' needs image batches"),
        (lambda: M.fit_preprocess(np.zeros((4, 3)), mode="pixel"), r"mode must be 'feature'"),
        (lambda: M.apply_preprocess(np.zeros((4, 5)), M.fit_preprocess(np.zeros((4, 3)))), r"does not match"),
        (lambda: M.preprocess_split({"X_train": np.zeros((3, 2))}), r"data must provide"),
    ],
)
def test_preprocess_bad_input(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


# ------------------------------------------------------------------------------------------------ MLP
def _torch_mlp_loss(model, X, y):
    """The same network in torch (float64), train-mode batchnorm, no dropout; returns loss and grads."""
    p = {k: torch.tensor(v, requires_grad=True) for k, v in model.params.items()}
    h = torch.tensor(X)
    for i in range(1, model.num_layers):
        h = h @ p[f"W{i}"] + p[f"b{i}"]
        if model.normalization == "batchnorm":
            h = torch.nn.functional.batch_norm(h, None, None, p[f"gamma{i}"], p[f"beta{i}"], training=True)
        h = torch.relu(h)
    L = model.num_layers
    scores = h @ p[f"W{L}"] + p[f"b{L}"]
    loss = torch.nn.functional.cross_entropy(scores, torch.tensor(y))
    loss = loss + 0.5 * model.reg * sum((p[f"W{i}"] ** 2).sum() for i in range(1, L + 1))
    loss.backward()
    return loss.item(), {k: v.grad.numpy() for k, v in p.items()}


@pytest.mark.parametrize("norm", [None, "batchnorm"])
def test_mlp_matches_torch_autograd(norm):
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(16, 7)), rng.integers(0, 4, 16)
    model = M.MLP(7, (9, 6), 4, reg=0.3, normalization=norm, seed=2, output_scale=1.0)
    loss, grads = model.loss(X, y)
    t_loss, t_grads = _torch_mlp_loss(model, X, y)
    assert abs(loss - t_loss) < 1e-12
    assert set(grads) == set(model.params)
    for k in grads:  # (a bias before batchnorm has a zero gradient: compare it absolutely)
        assert rel_error(grads[k], t_grads[k]) < 1e-10 or np.abs(grads[k] - t_grads[k]).max() < 1e-14, k


def test_mlp_gradient_check_with_dropout():
    """Finite differences with the dropout masks held fixed (the same rng state for every evaluation)."""
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(6, 5)), rng.integers(0, 3, 6)
    model = M.MLP(5, (8, 7), 3, reg=0.1, dropout=0.3, seed=4, output_scale=1.0)
    state = copy.deepcopy(model.rng.bit_generator.state)

    def f(_):
        model.rng.bit_generator.state = copy.deepcopy(state)  # the same dropout mask every call
        return model.loss(X, y)[0]

    f(None)
    model.rng.bit_generator.state = copy.deepcopy(state)
    _, grads = model.loss(X, y)
    for k, w in model.params.items():
        num = numerical_gradient(f, w)
        assert rel_error(grads[k], num) < 1e-6, k


def test_mlp_modes_dropout_and_batchnorm():
    X = np.random.default_rng(5).normal(size=(20, 6))
    model = M.MLP(6, (30,), 3, dropout=0.5, normalization="batchnorm", seed=0)
    a, b = model.train().loss(X), model.loss(X)
    assert not np.allclose(a, b)  # dropout masks differ from call to call in train mode
    e1, e2 = model.eval().loss(X), model.loss(X)
    assert np.array_equal(e1, e2)  # eval: deterministic
    nodrop = M.MLP(6, (30,), 3, normalization="batchnorm", seed=0)
    nodrop.bn_params = copy.deepcopy(model.bn_params)
    assert np.allclose(nodrop.eval().loss(X), e1)  # inverted dropout: eval is the plain network
    assert len(model.act_std) == 1 and model.act_std[0] > 0


def test_mlp_initial_loss_is_near_log_c_and_reg_raises_it():
    d = _digits()
    model = M.MLP(64, (100,), 10, reg=0.05, seed=0)
    res = S.initial_loss_check(model, d["X_train"], d["y_train"])
    assert res["expected"] == pytest.approx(math.log(10))
    assert abs(res["loss_no_reg"] - math.log(10)) < 0.1
    assert res["loss_reg"] > res["loss_no_reg"] + 0.1
    assert model.reg == 0.05 and model.mode == "train"


def test_small_cnn_model_wraps_blocks():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(4, 1, 8, 8)), rng.integers(0, 10, 4)
    model = M.SmallCNN(reg=0.01, seed=3)
    ref = dk.blocks.small_cnn_loss(model.params, X, y, 0.01)
    loss, grads = model.loss(X, y)
    assert loss == ref[0] and all(np.array_equal(grads[k], ref[1][k]) for k in grads)


def test_mlp_bad_input():
    with pytest.raises(ValueError, match="init must be one of"):
        M.MLP(init="he")
    with pytest.raises(ValueError, match="dropout must be in"):
        M.MLP(dropout=1.0)
    with pytest.raises(ValueError, match="normalization must be None or 'batchnorm'"):
        M.MLP(normalization="layernorm")


# -------------------------------------------------------------------------------------------- solver
def test_update_weight_ratio_vs_torch_sgd_step():
    rng = np.random.default_rng(0)
    w, dw, lr = rng.normal(size=(5, 3)), rng.normal(size=(5, 3)), 0.01
    tw = torch.tensor(w, requires_grad=True)
    opt = torch.optim.SGD([tw], lr=lr)
    tw.grad = torch.tensor(dw)
    opt.step()
    r = S.update_weight_ratio(w, tw.detach().numpy())
    assert r == pytest.approx(lr * np.linalg.norm(dw) / np.linalg.norm(w), rel=1e-12)
    assert S.update_weight_ratio(np.zeros(3), np.zeros(3)) == 0.0
    assert S.update_weight_ratio(np.zeros(3), np.ones(3)) == math.inf
    with pytest.raises(ValueError, match="w_new must have the shape of w_old"):
        S.update_weight_ratio(np.ones(3), np.ones(4))


@pytest.mark.parametrize(
    "opt, cfg, torch_opt, torch_cfg",
    [
        ("sgd", {"lr": 0.1}, torch.optim.SGD, {"lr": 0.1}),
        ("adam", {"lr": 1e-2}, torch.optim.Adam, {"lr": 1e-2}),
    ],
)
def test_solver_matches_a_torch_training_loop(opt, cfg, torch_opt, torch_cfg):
    """An independent loop: torch model, torch optimizer, the same shuffles (np.random.default_rng(seed)
    permutations, one per epoch) and the same per-epoch lr decay."""
    d = _digits(130, 40)
    model = M.MLP(64, (20,), 10, reg=0.01, seed=1)
    init = copy.deepcopy(model.params)
    solver = S.Solver(model, d, opt, cfg, lr_decay=0.8, batch_size=32, num_epochs=3, seed=7)
    solver.train()

    p = {k: torch.tensor(v, requires_grad=True) for k, v in init.items()}
    topt = torch_opt([p[k] for k in init], **torch_cfg)
    sched = torch.optim.lr_scheduler.ExponentialLR(topt, gamma=0.8)
    rng, losses = np.random.default_rng(7), []
    for _ in range(3):
        idx = rng.permutation(130)
        for s in range(0, 130, 32):
            b = idx[s : s + 32]
            h = torch.relu(torch.tensor(d["X_train"][b]) @ p["W1"] + p["b1"])
            loss = torch.nn.functional.cross_entropy(h @ p["W2"] + p["b2"], torch.tensor(d["y_train"][b]))
            loss = loss + 0.005 * ((p["W1"] ** 2).sum() + (p["W2"] ** 2).sum())
            topt.zero_grad()
            loss.backward()
            topt.step()
            losses.append(loss.item())
        sched.step()
    assert len(solver.history["loss"]) == len(losses) == 15
    assert np.allclose(solver.history["loss"], losses, rtol=1e-10)
    assert solver.history["lr"] == pytest.approx([cfg["lr"] * 0.8**k for k in (1, 2, 3)])


def test_solver_is_deterministic_and_reshuffles():
    d = _digits(100, 30)
    runs = []
    for seed in (3, 3, 4):
        s = S.Solver(M.MLP(64, (10,), 10, seed=0), d, "sgd", {"lr": 0.05}, batch_size=100, num_epochs=3, seed=seed)
        runs.append(s.train().history["loss"])
    assert runs[0] == runs[1]
    # full-batch SGD: the order does not matter, so equal losses across seeds up to rounding
    assert np.allclose(runs[0], runs[2], rtol=1e-12)
    # mini-batches: epoch 2 sees other batches than epoch 1 (a new permutation), with the weights frozen
    s = S.Solver(M.MLP(64, (10,), 10, seed=0), d, "sgd", {"lr": 1e-12}, batch_size=10, num_epochs=2, seed=3)
    s.train()
    l1, l2 = np.array(s.history["loss"][:10]), np.array(s.history["loss"][10:])
    assert not np.allclose(np.sort(l1), np.sort(l2))
    assert np.mean(l1) == pytest.approx(np.mean(l2), rel=1e-6)  # the same examples, in other batches


def test_check_accuracy_uses_eval_mode_and_restores_it():
    d = _digits(200, 100)
    model = M.MLP(64, (50,), 10, dropout=0.9, seed=0)
    s = S.Solver(model, d, "adam", {"lr": 1e-2}, batch_size=50, num_epochs=2, seed=0).train()
    model.train()
    acc = s.check_accuracy(d["X_val"], d["y_val"], batch_size=7)
    assert model.mode == "train"
    expect = np.mean(np.argmax(model.eval().loss(d["X_val"]), axis=1) == d["y_val"])
    assert acc == expect
    assert s.check_accuracy(d["X_val"], d["y_val"]) == expect and model.mode == "eval"


def test_ratios_history_and_best_params_and_early_stopping(capsys):
    d = _digits(200, 60)
    calls = []
    s = S.Solver(
        M.MLP(64, (30, 20), 10, seed=0),
        d,
        "adam",
        {"lr": 1e-3},
        batch_size=50,
        num_epochs=30,
        seed=0,
        callback=lambda sv: calls.append(sv.epoch),
        early_stopping=2,
        print_every=4,
    )
    s.train()
    assert set(s.history["ratios"]) == {"W1", "W2", "W3"}
    assert all(len(r) == len(s.history["loss"]) for r in s.history["ratios"].values())
    med = np.median(s.history["ratios"]["W1"])
    assert 1e-4 < med < 1e-1
    assert calls == list(range(1, s.epoch + 1))
    assert s.stopped and s.epoch < 30  # early stopping triggered
    assert max(s.history["val_acc"]) == s.best_val_acc
    assert s.check_accuracy(d["X_val"], d["y_val"]) == s.best_val_acc  # best params restored
    assert "(epoch 1 / 30)" in capsys.readouterr().out
    with pytest.raises(RuntimeError, match="training is finished"):
        s.step()


def test_run_generator_and_stop():
    d = _digits(100, 30)
    s = S.Solver(M.MLP(64, (10,), 10, seed=0), d, "sgd", {"lr": 0.1}, batch_size=10, num_epochs=5)
    seen = []
    for it in s.run(chunk=4):
        seen.append(it)
        if it >= 8:
            s.stop()
    assert seen == [4, 8] and s.done and s.iteration == 8
    # stopped before the first epoch ended: there is no best epoch, the trained weights stay
    assert not s.history["val_acc"] and not np.allclose(s.model.params["W1"], s.best_params["W1"])
    # closing the generator early (a dashboard's Stop) restores the best epoch's weights
    s = S.Solver(M.MLP(64, (10,), 10, seed=0), d, "sgd", {"lr": 0.1}, batch_size=10, num_epochs=5)
    chunks = s.run(chunk=15)
    next(chunks), next(chunks)
    chunks.close()
    assert s.iteration == 30 and np.array_equal(s.model.params["W1"], s.best_params["W1"])


def test_overfit_small_subset_reaches_zero_loss():
    d = _digits()
    s = S.overfit_small_subset(
        M.MLP(64, (100,), 10, seed=0), d, num_examples=30, num_epochs=40, batch_size=10, optim_config={"lr": 1e-2}
    )
    assert s.history["train_acc"][-1] == 1.0 and s.history["loss"][-1] < 0.02


def test_lr_range_test_log_grid_and_divergence_without_warnings():
    d = _digits(150, 30)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lrs, losses = S.lr_range_test(
            lambda: M.MLP(64, (20,), 10, seed=0), d, lr_min=1e-4, lr_max=1e3, num=8, num_iters=10, batch_size=50
        )
    assert np.allclose(np.log10(lrs), np.linspace(-4, 3, 8))
    assert losses[0] == pytest.approx(math.log(10), abs=0.1)  # too small: nothing happens
    assert losses[-1] > 10 * losses[0]  # too large: the loss explodes
    assert np.min(losses) < losses[0] - 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, losses = S.lr_range_test(
            lambda: M.MLP(64, (20,), 10, seed=0), d, lr_min=1e-4, lr_max=1e300, num=3, num_iters=3, batch_size=50
        )
    assert np.isfinite(losses[0]) and np.all(np.isinf(losses[1:]))  # overflow is reported as inf, quietly
    with pytest.raises(ValueError, match="lr_max must be > lr_min"):
        S.lr_range_test(lambda: None, d, lr_min=1.0, lr_max=0.1)


SPACE = {"lr": (1e-5, 1e-1, "log"), "p": (0.1, 0.5, "linear"), "h": (3, 6, "int")}


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31))
def test_sample_hyperparams_in_bounds(seed):
    hp = S.sample_hyperparams(SPACE, np.random.default_rng(seed))
    assert 1e-5 <= hp["lr"] <= 1e-1 and 0.1 <= hp["p"] <= 0.5 and hp["h"] in (3, 4, 5, 6)
    assert isinstance(hp["h"], int)


def test_log_uniform_sampling_puts_equal_mass_per_decade():
    rng = np.random.default_rng(0)
    lr = np.array([S.sample_hyperparams(SPACE, rng)["lr"] for _ in range(4000)])
    counts = np.histogram(np.log10(lr), bins=4, range=(-5, -1))[0]
    assert np.all(np.abs(counts - 1000) < 6 * np.sqrt(4000 * 0.25 * 0.75))


def test_random_search_refine_and_grid():
    f = lambda lr, p, h: -((np.log10(lr) + 3) ** 2) - p  # noqa: E731
    trials = S.random_search(f, SPACE, 40, np.random.default_rng(0))
    scores = [t["score"] for t in trials]
    assert scores == sorted(scores, reverse=True) and len(trials) == 40
    new = S.refine_space(trials, SPACE, top_k=5)
    top = [t["params"] for t in trials[:5]]
    assert new["lr"] == (min(t["lr"] for t in top), max(t["lr"] for t in top), "log")
    assert new["h"][2] == "int" and isinstance(new["h"][0], int)
    assert 1e-4 < new["lr"][0] <= new["lr"][1] < 1e-2  # zoomed in around the optimum 1e-3
    grid = S.grid_points(SPACE, 3)
    assert len(grid) == 27 and sorted({g["lr"] for g in grid}) == pytest.approx([1e-5, 1e-3, 1e-1])
    with pytest.raises(ValueError, match=r"space\['lr'\] is log-scaled: low must be > 0"):
        S.sample_hyperparams({"lr": (0.0, 1.0, "log")}, np.random.default_rng(0))
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        S.sample_hyperparams(SPACE, 0)


def test_solver_bad_input():
    d = _digits(20, 10)
    m = M.MLP(64, (5,), 10)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        S.Solver(m, d, "adamw", {"lr": 1e-3})
    with pytest.raises(ValueError, match="optim_config must give the learning rate"):
        S.Solver(m, d, "sgd", {})
    with pytest.raises(TypeError, match="model must have a params dict"):
        S.Solver(object(), d, "sgd", {"lr": 1})
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        S.Solver(m, d, "sgd", {"lr": 1}, batch_size=0)


def test_capstone_targets_mlp_and_cnn_reach_95_percent_test_accuracy():
    """The accuracies the exercise notebook states (digits, reference library, fixed seeds)."""
    data, _ = M.preprocess_split(dk.data.load_digits())
    s = S.Solver(
        M.MLP(64, (100,), 10, seed=0), data, "adam", {"lr": 1e-3}, batch_size=50, num_epochs=10, seed=0
    ).train()
    assert s.check_accuracy(data["X_test"], data["y_test"]) >= 0.95
    imgs, _ = M.preprocess_split(dk.data.load_digits(images=True), mode="channel")
    s = S.Solver(M.SmallCNN(filters=8, seed=0), imgs, "adam", {"lr": 5e-3}, batch_size=50, num_epochs=8, seed=0).train()
    assert s.check_accuracy(imgs["X_test"], imgs["y_test"]) >= 0.95


# ----------------------------------------------------------------------------------------- dashboard
def test_dashboard_redraws_and_stop_button_stops_training():
    from deepkit.viz.training import explorer

    d = _digits(100, 30)
    s = S.Solver(M.MLP(64, (16, 16), 10, seed=0), d, "adam", {"lr": 1e-3}, batch_size=10, num_epochs=20)
    dash = explorer(s, every=5)
    before = dash.explorer.redraws

    def press(_):  # called at every epoch end (10 iterations)
        if s.iteration >= 15:
            dash.stop_button.value = True  # what a click does: the widget's value

    s.callback = press
    dash.run()
    assert s.stopped and s.iteration == 20 < s.num_iterations
    assert dash.explorer.redraws - before == 4 and dash.progress.value == 20
    assert set(dash.act_std) == {1, 2} and len(dash.act_std[1]) == 4
    assert dash.explorer.image.value[:4] == b"\x89PNG"
    assert dash.explorer.last_ms < 2000
    n = dash.explorer.redraws
    dash.explorer.controls["smooth"].value = 5  # a control redraws
    assert dash.explorer.redraws == n + 1


def test_dashboard_smoothing_redraws_only_its_line_and_is_pixel_exact():
    """After training, the smoothing slider redraws the smoothed loss alone on the saved frame (BlitExplorer):
    the image equals a full draw, and a chunk of training (new data) is a new frame."""
    import io

    from PIL import Image

    from deepkit.viz import base
    from deepkit.viz.training import explorer

    def pixels(png):
        return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))

    d = _digits(100, 30)
    s = S.Solver(M.MLP(64, (16,), 10, seed=0), d, "adam", {"lr": 1e-3}, batch_size=10, num_epochs=3)
    dash = explorer(s, every=10)
    dash.run()
    e = dash.explorer
    frames = set(e._backgrounds)
    for k in (5, 1, 40):
        e.controls["smooth"].value = k
        np.testing.assert_array_equal(pixels(e.image.value), pixels(base.png_bytes(e.draw())), err_msg=str(k))
    assert set(e._backgrounds) == frames and len(frames) == 1  # the slider reused the last training frame


def test_dashboard_start_runs_in_background_and_stops():
    from deepkit.viz.training import Dashboard

    d = _digits(100, 30)
    s = S.Solver(M.MLP(64, (8,), 10, seed=0), d, "sgd", {"lr": 0.1}, batch_size=10, num_epochs=50)
    dash = Dashboard(s, every=3)

    async def main():
        task = dash.start()
        while s.iteration < 9:  # other work runs while training: the loop is not blocked
            await asyncio.sleep(0)
        dash.stop_button.value = True
        await task

    asyncio.run(main())
    assert s.stopped and 9 <= s.iteration <= 12 and dash.stop_button.disabled


# ------------------------------------------------------------------------------------------ grading
def test_reference_gets_full_marks():
    res = grade_module("09", dk)
    assert all(score == part.points for part in train_checks.PARTS for score in [res[part.name][0]]), res


def _fake(module, **replacements):
    ns = types.SimpleNamespace(**{k: v for k, v in vars(module).items() if not k.startswith("__")})
    for k, v in replacements.items():
        setattr(ns, k, v)
    return ns


def _leaky_preprocess_split(data, mode="feature", scale=True):
    data = M.as_data(data)
    every = np.concatenate([data["X_train"], data["X_val"], data["X_test"]])
    stats = M.fit_preprocess(every, mode, scale)  # fitted on all splits: a leak
    return {k: (M.apply_preprocess(v, stats) if k.startswith("X") else v) for k, v in data.items()}, stats


class _GradRatioSolver(S.Solver):
    """Records ||dw|| / ||w|| (no learning rate) as the ratio."""

    def step(self):
        X, y = self._next_batch()
        self.model.train()
        loss, grads = self.model.loss(X, y)
        self.history["loss"].append(loss)
        for name, w in self.model.params.items():
            w_new, self.optim_states[name] = self.step_fn(w, grads[name], self.optim_states[name], **self.optim_config)
            if name in self.history["ratios"]:
                self.history["ratios"][name].append(np.linalg.norm(grads[name]) / np.linalg.norm(w))
            self.model.params[name] = w_new
        self.iteration += 1
        if self.iteration % self.iters_per_epoch == 0:
            self.optim_config["lr"] *= self.lr_decay
            self._end_epoch()
        return loss


class _NoShuffleSolver(S.Solver):
    def _next_batch(self):
        if self.iteration % self.iters_per_epoch == 0:
            X, y = self.data["X_train"], self.data["y_train"]
            self._batches = iter(
                [(X[s : s + self.batch_size], y[s : s + self.batch_size]) for s in range(0, len(y), self.batch_size)]
            )
        return next(self._batches)


class _ReseedSolver(S.Solver):
    def _next_batch(self):
        if self.iteration % self.iters_per_epoch == 0:
            self.rng = np.random.default_rng(self.seed)  # same order every epoch
        return super()._next_batch()


class _NoDecaySolver(S.Solver):
    def _end_epoch(self):
        self.optim_config["lr"] /= self.lr_decay  # undo the decay step() applied
        super()._end_epoch()


class _TrainModeAccuracySolver(S.Solver):
    def check_accuracy(self, X, y, batch_size=500):
        return float(np.mean(np.argmax(self.model.loss(X), axis=1) == y))


def _linear_sample(space, rng):
    return {
        k: (int(rng.integers(lo, hi + 1)) if kind == "int" else float(rng.uniform(lo, hi)))
        for k, (lo, hi, kind) in space.items()
    }


def _linspace_range_test(make_model, data, lr_min=1e-5, lr_max=1.0, num=11, **kw):
    _, losses = S.lr_range_test(make_model, data, lr_min, lr_max, num, **kw)
    return np.linspace(lr_min, lr_max, num), losses


def _initial_loss_keeping_reg(model, X, y):
    model.eval()
    loss, _ = model.loss(X, y)
    model.train()
    return {"loss_no_reg": loss, "loss_reg": loss, "expected": math.log(model.loss(X[:1]).shape[1])}


def _unsorted_search(evaluate, space, num_trials, rng):
    trials = S.random_search(evaluate, space, num_trials, rng)
    return trials[::-1]


SOLVER_PARTS = ("solver_step", "capstone")  # capstone runs the whole Solver too


def _std_plus_eps_fit(X_train, mode="feature", scale=True):
    """A student's (X - mean) / (std + 1e-8), the std kept in the stats with its eps."""
    axes = 0 if mode == "feature" else (0, 2, 3)
    mean = X_train.mean(axis=axes)
    std = X_train.std(axis=axes) + 1e-8 if scale else np.ones_like(mean)
    return {"mode": np.array(mode), "mean": mean, "std": std}


def _eigvecs_as_rows(X_train):
    stats = M.fit_whitening(X_train)
    return {**stats, "eigvecs": stats["eigvecs"].T.copy()}


def _pca_eps_outside_sqrt(X, stats, k=None, eps=1e-5, whiten=True):
    k = X.shape[1] if k is None else k
    rotated = (X - stats["mean"]) @ stats["eigvecs"][:, :k]
    return rotated / (np.sqrt(stats["eigvals"][:k]) + eps) if whiten else rotated


def _initial_loss_distinct_labels(model, X, y):
    """C counted from the labels: log(len(np.unique(y))) instead of the number of score columns."""
    return {**S.initial_loss_check(model, X, y), "expected": math.log(len(np.unique(y)))}


class _EndEpochThenDecaySolver(S.Solver):
    """A student's step that ends the epoch (recording history["lr"]) and only then decays the rate."""

    def step(self):
        X, y = self._next_batch()
        self.model.train()
        loss, grads = self.model.loss(X, y)
        self.history["loss"].append(float(loss))
        for name, w in self.model.params.items():
            w_new, self.optim_states[name] = self.step_fn(w, grads[name], self.optim_states[name], **self.optim_config)
            if name in self.history["ratios"]:
                self.history["ratios"][name].append(S.update_weight_ratio(w, w_new))
            self.model.params[name] = w_new
        self.iteration += 1
        if self.iteration % self.iters_per_epoch == 0:
            self._end_epoch()
            self.optim_config["lr"] *= self.lr_decay
        return float(loss)


def test_ending_the_epoch_before_the_decay_is_named():
    pkg = types.SimpleNamespace(models=M, solver=_fake(S, Solver=_EndEpochThenDecaySolver))
    points, reason = grade_module("09", pkg, parts=["solver_step"])["solver_step"]
    assert points == 0 and "history['lr'] holds each epoch's rate before its decay" in reason, reason


WRONG = [
    (
        "C from the labels",
        {"solver": _fake(S, initial_loss_check=_initial_loss_distinct_labels)},
        ("initial_loss_check",),
    ),
    ("std + 1e-8 instead of the floor", {"models": _fake(M, fit_preprocess=_std_plus_eps_fit)}, ("preprocess",)),
    ("eigenvectors as rows", {"models": _fake(M, fit_whitening=_eigvecs_as_rows)}, ("whitening",)),
    ("pca: eps outside the square root", {"models": _fake(M, pca_whiten=_pca_eps_outside_sqrt)}, ("whitening",)),
    (
        "leak: statistics from train + val + test",
        {"models": _fake(M, preprocess_split=_leaky_preprocess_split)},
        ("preprocess",),
    ),
    (
        "inverted ratio",
        {"solver": _fake(S, update_weight_ratio=train_checks._inverted_ratio)},
        ("update_weight_ratio",),
    ),
    ("ratio from the gradient (no lr)", {"solver": _fake(S, Solver=_GradRatioSolver)}, ("solver_step",)),
    ("no shuffling", {"solver": _fake(S, Solver=_NoShuffleSolver)}, SOLVER_PARTS),
    ("rng re-seeded every epoch", {"solver": _fake(S, Solver=_ReseedSolver)}, SOLVER_PARTS),
    ("no learning-rate decay", {"solver": _fake(S, Solver=_NoDecaySolver)}, SOLVER_PARTS),
    ("accuracy in train mode", {"solver": _fake(S, Solver=_TrainModeAccuracySolver)}, ("check_accuracy",)),
    (
        "linear sampling of log-scaled values",
        {"solver": _fake(S, sample_hyperparams=_linear_sample)},
        ("sample_hyperparams",),
    ),
    ("linspace learning rates", {"solver": _fake(S, lr_range_test=_linspace_range_test)}, ("lr_range_test",)),
    (
        "initial loss keeps the regularization",
        {"solver": _fake(S, initial_loss_check=_initial_loss_keeping_reg)},
        ("initial_loss_check",),
    ),
    ("search not sorted best first", {"solver": _fake(S, random_search=_unsorted_search)}, ("random_search",)),
]


@pytest.mark.parametrize("what, modules, losing", WRONG, ids=[w[0] for w in WRONG])
def test_known_wrong_loses_exactly_its_parts(what, modules, losing):
    pkg = types.SimpleNamespace(**{"models": M, "solver": S, **modules})
    # the (slow) capstone runs models.MLP and solver.Solver only: graded when the fake replaces one of those
    replaced_class = pkg.solver.Solver is not S.Solver
    parts = [p.name for p in train_checks.PARTS if p.name != "capstone" or replaced_class or "capstone" in losing]
    res = grade_module("09", pkg, parts=parts)
    for part in train_checks.PARTS:
        if part.name not in parts:
            continue
        score = res[part.name][0]
        if part.name in losing:
            assert score < part.points, (what, part.name, res[part.name])
        else:
            assert score == part.points, (what, part.name, res[part.name])


# ------------------------------------------------------------------------------------------ whitening
def _correlated(seed, n=300, d=4):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + rng.normal(size=d) * 3


def test_whitening_steps_centre_decorrelate_whiten_and_match_sklearn():
    from sklearn.decomposition import PCA

    X = _correlated(0)
    st = M.fit_whitening(X)
    n = len(X)
    np.testing.assert_allclose(st["mean"], X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(st["eigvals"], np.sort(np.linalg.eigvalsh(np.cov(X.T, bias=True)))[::-1], rtol=1e-10)
    assert np.all(np.diff(st["eigvals"]) <= 0)
    rotated = M.pca_whiten(X, st, whiten=False)
    np.testing.assert_allclose(rotated.T @ rotated / n, np.diag(st["eigvals"]), atol=1e-10)  # decorrelated
    white = M.pca_whiten(X, st, eps=0.0)
    np.testing.assert_allclose(white.T @ white / n, np.eye(4), atol=1e-10)  # whitened
    zca = M.zca_whiten(X, st, eps=0.0)
    np.testing.assert_allclose(zca.T @ zca / n, np.eye(4), atol=1e-10)
    # sklearn: the same components up to sign; it divides by the N - 1 variances
    sk = PCA(whiten=True).fit(X).transform(X) * np.sqrt(n / (n - 1))
    np.testing.assert_allclose(np.abs(sk), np.abs(white), rtol=1e-8, atol=1e-10)
    # ZCA is symmetric and sign-free: the same for -U
    flipped = {**st, "eigvecs": -st["eigvecs"]}
    np.testing.assert_allclose(M.zca_whiten(X, flipped), M.zca_whiten(X, st), rtol=1e-12)
    # eps: the whitened covariance is diag(lam / (lam + eps))
    w_eps = M.pca_whiten(X, st, eps=0.5)
    np.testing.assert_allclose(np.diag(w_eps.T @ w_eps / n), st["eigvals"] / (st["eigvals"] + 0.5), rtol=1e-10)
    assert M.pca_whiten(X, st, k=2).shape == (n, 2)


def test_whitening_bad_input():
    st = M.fit_whitening(_correlated(1))
    with pytest.raises(ValueError, match="at least two examples"):
        M.fit_whitening(np.ones((1, 3)))
    with pytest.raises(ValueError, match="k must be at most"):
        M.pca_whiten(_correlated(1), st, k=9)
    with pytest.raises(TypeError, match="stats must be the dict returned by fit_whitening"):
        M.zca_whiten(_correlated(1), {"mean": 0})


# -------------------------------------------------- fairness: correct alternatives keep every point
def _fit_preprocess_own(X_train, mode="feature", scale=True):
    X = np.asarray(X_train, dtype=np.float64)
    axes = (0,) if mode == "feature" else (0, 2, 3)
    mean = X.mean(axis=axes, keepdims=True)
    std = np.sqrt(((X - mean) ** 2).mean(axis=axes, keepdims=True)) if scale else np.ones_like(mean)
    std = np.where(std < M.STD_FLOOR, 1.0, std)
    squeeze = (lambda a: a[0]) if mode == "feature" else (lambda a: a.reshape(-1))
    return {"mode": np.array(mode), "mean": squeeze(mean), "std": squeeze(std)}


def _fit_whitening_svd(X_train):
    """From the SVD of the centred data: Xc = U S V^T, so Sigma = V diag(S^2 / N) V^T (signs may differ)."""
    X = np.asarray(X_train, dtype=np.float64)
    mean = X.mean(axis=0)
    _, S, Vt = np.linalg.svd(X - mean, full_matrices=False)
    return {"mean": mean, "eigvals": S**2 / len(X), "eigvecs": -Vt.T}  # the opposite signs, on purpose


def _ratio_own(w_old, w_new):
    num, den = math.sqrt(np.sum((np.asarray(w_new) - w_old) ** 2)), math.sqrt(np.sum(np.square(w_old)))
    return 0.0 if num == den == 0 else (math.inf if den == 0 else num / den)


class _OwnSolver(S.Solver):
    """_next_batch that starts a new epoch when the previous one runs out; step written in another order."""

    def _next_batch(self):
        if self._batches is None:
            self._batches = dk.data.minibatches(self.data["X_train"], self.data["y_train"], self.batch_size, self.rng)
        try:
            return next(self._batches)
        except StopIteration:
            self._batches = None
            return self._next_batch()

    def step(self):
        if self.done:
            raise RuntimeError("training is finished")
        Xb, yb = self._next_batch()
        if hasattr(self.model, "train"):
            self.model.train()
        loss, grads = self.model.loss(Xb, yb)
        new = {}
        for name in self.model.params:
            old = self.model.params[name]
            new[name], self.optim_states[name] = self.step_fn(
                old, grads[name], self.optim_states[name], **self.optim_config
            )
            if name in self.history["ratios"]:
                self.history["ratios"][name].append(_ratio_own(old, new[name]))
        self.model.params.update(new)
        self.history["loss"].append(float(loss))
        self.iteration += 1
        end_of_epoch = self.iteration % self.iters_per_epoch == 0
        if end_of_epoch:
            self.optim_config["lr"] = self.optim_config["lr"] * self.lr_decay
            self._end_epoch()
        return float(loss)

    def check_accuracy(self, X, y, batch_size=500):
        mode = self.model.mode
        self.model.eval()
        correct = sum(int(np.argmax(self.model.loss(X[i : i + 1])) == y[i]) for i in range(len(y)))  # one by one
        (self.model.train if mode == "train" else self.model.eval)()
        return correct / len(y)


def _initial_loss_own(model, X, y):
    saved = (model.reg, getattr(model, "mode", "train"))
    model.eval()
    with_reg = model.loss(X, y)[0]
    model.reg = 0.0
    without = model.loss(X, y)[0]
    model.reg = saved[0]
    model.train() if saved[1] == "train" else model.eval()
    return {
        "loss_no_reg": float(without),
        "loss_reg": float(with_reg),
        "expected": math.log(model.loss(X[:2]).shape[1]),
    }


def _lr_range_own(make_model, data, lr_min=1e-5, lr_max=1.0, num=11, **kw):
    _, losses = S.lr_range_test(make_model, data, lr_min, lr_max, num, **kw)
    return 10.0 ** np.linspace(math.log10(lr_min), math.log10(lr_max), num), losses


def _sample_own(space, rng):
    """A different but documented draw: lo * (hi / lo) ** U(0, 1) is log-uniform too (the check is statistical)."""
    out = {}
    for name, (lo, hi, kind) in space.items():
        if kind == "log":
            out[name] = float(lo * (hi / lo) ** rng.random())
        elif kind == "linear":
            out[name] = float(lo + (hi - lo) * rng.random())
        else:
            out[name] = int(lo) + int(rng.integers(0, int(hi) - int(lo) + 1))
    return out


def _search_own(evaluate, space, num_trials, rng):
    trials = []
    for _ in range(num_trials):
        p = S.sample_hyperparams(space, rng)
        trials.append({"params": p, "score": float(evaluate(**p))})
    order = np.argsort([-t["score"] for t in trials], kind="stable")
    return [trials[i] for i in order]


def _refine_own(trials, space, top_k=3):
    scores = np.array([t["score"] for t in trials])
    best = [trials[i] for i in np.argsort(-scores, kind="stable")[:top_k]]
    return {
        name: (
            (int if kind == "int" else float)(min(t["params"][name] for t in best)),
            (int if kind == "int" else float)(max(t["params"][name] for t in best)),
            kind,
        )
        for name, (_, _, kind) in space.items()
    }


ALTERNATIVES = {
    "preprocessing with keepdims": {"models": {"fit_preprocess": _fit_preprocess_own}},
    "whitening from the SVD (other signs)": {"models": {"fit_whitening": _fit_whitening_svd}},
    "ratio, own norms": {"solver": {"update_weight_ratio": _ratio_own}},
    "Solver written differently": {"solver": {"Solver": _OwnSolver}},
    "babysitting helpers written differently": {
        "solver": {"initial_loss_check": _initial_loss_own, "lr_range_test": _lr_range_own}
    },
    "search written differently": {
        "solver": {"sample_hyperparams": _sample_own, "random_search": _search_own, "refine_space": _refine_own}
    },
}


@pytest.mark.parametrize("what", list(ALTERNATIVES))
def test_correct_alternatives_keep_every_point(what):
    modules = {name: _fake(getattr(dk, name), **fns) for name, fns in ALTERNATIVES[what].items()}
    pkg = types.SimpleNamespace(**{"models": M, "solver": S, **modules})
    parts = [p.name for p in train_checks.PARTS if p.name != "capstone" or what == "Solver written differently"]
    res = grade_module("09", pkg, parts=parts)
    lost = {k: v for k, v in res.items() if v[0] < next(p.points for p in train_checks.PARTS if p.name == k)}
    assert not lost, lost


def test_a_wrong_return_structure_is_named():
    pkg = types.SimpleNamespace(models=_fake(M, fit_whitening=lambda X: (X.mean(0), None)), solver=S)
    res = grade_module("09", pkg, parts=["whitening"])
    assert "fit_whitening must return a dict" in res["whitening"][1], res


def _ratio_unguarded(w_old, w_new):
    with np.errstate(all="ignore"):
        return float(np.linalg.norm(np.asarray(w_new) - w_old) / np.linalg.norm(w_old))  # 0 / 0 -> nan


def test_std_plus_eps_is_named():
    """Off by 1e-8 / std relative only: the reason names the mistake instead of a bare relative error of 1e-9."""
    reason = grade_module(
        "09", types.SimpleNamespace(models=_fake(M, fit_preprocess=_std_plus_eps_fit), solver=S), parts=["preprocess"]
    )["preprocess"][1]
    assert "the std matches std + 1e-8" in reason, reason


def test_ratio_without_the_zero_weight_rule_loses_its_part():
    """The docstring's edge: zero weights give 0 without an update and inf with one (a bias at init)."""
    pkg = types.SimpleNamespace(models=M, solver=_fake(S, update_weight_ratio=_ratio_unguarded))
    res = grade_module("09", pkg, parts=["update_weight_ratio"])
    assert res["update_weight_ratio"][0] == 0.0, res
