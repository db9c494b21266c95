import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import silhouette_score
from sklearn.mixture import GaussianMixture

from segbench.evaluation import evaluate
from segbench.evaluation.metrics import sampled_silhouette


@pytest.fixture
def blobs():
    return make_blobs(n_samples=400, centers=4, random_state=1)


def test_partition_metrics_have_the_stable_names(blobs):
    X, y = blobs
    metrics, notes = evaluate(X, y, truth=y)
    assert {
        "n_segments",
        "noise_fraction",
        "silhouette",
        "davies_bouldin",
        "calinski_harabasz",
        "ari",
        "ami",
        "nmi",
        "silhouette_sample_size",
    } <= set(metrics)
    assert metrics["ari"] == 1.0 and metrics["n_segments"] == 4 and notes == {}
    assert metrics["silhouette"] == pytest.approx(silhouette_score(X, y))


def test_noise_is_excluded_from_internal_metrics_and_reported(blobs):
    X, y = blobs
    noisy = y.copy()
    noisy[:40] = -1
    metrics, _ = evaluate(X, noisy)
    keep = noisy != -1
    assert metrics["noise_fraction"] == pytest.approx(0.1)
    assert metrics["n_segments"] == 4
    assert metrics["silhouette"] == pytest.approx(silhouette_score(X[keep], noisy[keep]))


def test_fewer_than_two_segments_leaves_metrics_absent_with_a_reason(blobs):
    X, _ = blobs
    labels = np.zeros(len(X), dtype=int)
    labels[:5] = -1
    metrics, notes = evaluate(X, labels)
    assert "silhouette" not in metrics and "davies_bouldin" not in metrics
    assert metrics["n_segments"] == 1
    assert "at least 2" in notes["metrics_skipped"]


def test_silhouette_is_sampled_above_the_threshold(blobs):
    X, y = blobs
    value, used = sampled_silhouette(X, y, sample_size=100, seed=0)
    assert used == 100
    assert value == pytest.approx(silhouette_score(X, y), abs=0.1)
    assert sampled_silhouette(X, y, 100, 0) == (value, used)  # seeded


def test_gmm_gets_bic_and_aic(blobs):
    X, _ = blobs
    gmm = GaussianMixture(4, random_state=0)
    labels = gmm.fit_predict(X)
    metrics, _ = evaluate(X, labels, model=gmm)
    assert metrics["bic"] == pytest.approx(gmm.bic(X))


def test_the_runs_silhouette_sample_is_kept_across_the_choice_of_k(monkeypatch):
    """The scorer and the silhouette plot ask for the same sample, with the choice-of-k
    analysis's samples (other labels) in between: it is computed once, and never served for
    another input."""
    from segbench.evaluation import metrics

    calls = []
    real = metrics.silhouettes
    monkeypatch.setattr(metrics, "silhouettes", lambda X, ys: calls.append(len(X)) or real(X, ys))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    labels = (X[:, 0] > 0).astype(int)
    first = metrics.silhouette_sample(X, labels, 200, 0)
    for k in range(2, 11):  # the choice of k: other labels, the whole data
        metrics.sampled_silhouette(X, np.arange(400) % k, len(X), 0)
    again = metrics.silhouette_sample(X, labels, 200, 0)
    assert len(calls) == 1 + 9  # served from the kept samples the second time
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    other = metrics.silhouette_sample(X, 1 - labels, 200, 0)  # same X, other labels
    assert len(calls) == 11 and other is not None


@pytest.mark.parametrize("n", [7, 300])
def test_silhouettes_of_several_labelings_equal_scikit_learns(n, monkeypatch):
    """One pass over the distances for several labelings, in blocks of rows (a small block
    forced), gives scikit-learn's values for each, singleton segments included."""
    from sklearn.metrics import silhouette_samples

    from segbench.evaluation import metrics

    monkeypatch.setattr(metrics, "DISTANCE_BLOCK_BYTES", 8 * n * 3)  # blocks of 3 rows
    rng = np.random.default_rng(1)
    X = rng.normal(size=(n, 4))
    labelings = [rng.integers(0, k, n) for k in (2, 3, 5)]
    labelings.append(np.r_[0, np.ones(n - 1, int)])  # a segment of one customer
    labelings.append(np.where(X[:, 0] > 0, "b", "a"))  # any label values
    assert metrics.silhouettes(X, []) == []  # nothing asked: no distances computed
    for ours, labels in zip(metrics.silhouettes(X, labelings), labelings, strict=True):
        np.testing.assert_allclose(ours, silhouette_samples(X, labels), rtol=1e-9, atol=1e-12)
