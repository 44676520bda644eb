"""deepkit.data: offline data sets with explicit seeds and clear errors."""

import numpy as np
import pytest

from tests.refs import dk


def test_digits_offline_split_is_disjoint_and_seeded():
    s = dk.data.load_digits(seed=3)
    n = len(s.y_train) + len(s.y_val) + len(s.y_test)
    assert n == 1797 and s.num_classes == 10
    assert s.X_train.shape[1] == 64 and s.X_train.dtype == np.float64 and s.y_train.dtype == np.int64
    assert 0.0 <= s.X_train.min() and s.X_train.max() <= 1.0
    again = dk.data.load_digits(seed=3)
    np.testing.assert_array_equal(s.y_train, again.y_train)
    assert not np.array_equal(s.y_train, dk.data.load_digits(seed=4).y_train)
    img = dk.data.load_digits(images=True, seed=3)
    assert img.X_train.shape[1:] == (1, 8, 8)
    np.testing.assert_array_equal(img.X_train.reshape(len(img.X_train), -1), s.X_train)


def test_digits_bad_fractions():
    with pytest.raises(ValueError, match="val_fraction"):
        dk.data.load_digits(val_fraction=1.5)
    with pytest.raises(ValueError, match="val_fraction \\+ test_fraction"):
        dk.data.load_digits(val_fraction=0.6, test_fraction=0.5)


@pytest.mark.parametrize(
    "maker,kw,n,classes",
    [
        ("make_moons", dict(n=101), 101, 2),
        ("make_spirals", dict(n_per_class=40, classes=4), 160, 4),
    ],
)
def test_synthetic_sets(maker, kw, n, classes):
    X, y = getattr(dk.data, maker)(seed=1, **kw)
    assert X.shape == (n, 2) and y.shape == (n,)
    assert set(np.unique(y)) == set(range(classes))
    X2, _ = getattr(dk.data, maker)(seed=1, **kw)
    np.testing.assert_array_equal(X, X2)


def test_synthetic_bad_arguments():
    with pytest.raises(TypeError, match="n must be an integer"):
        dk.data.make_moons(n=2.5)
    with pytest.raises(ValueError, match="noise must be >= 0"):
        dk.data.make_spirals(noise=-1.0)


def test_minibatches_cover_each_example_once():
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10)
    seen = np.concatenate([yb for _, yb in dk.data.minibatches(X, y, 3, np.random.default_rng(0))])
    assert sorted(seen) == list(range(10))
    with pytest.raises(ValueError, match="same length"):
        next(dk.data.minibatches(X, y[:5], 3, np.random.default_rng(0)))
