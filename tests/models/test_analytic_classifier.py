"""Tests for the closed-form logistic / softmax regression (kexue.fm/archives/8578)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import multivariate_normal
from sklearn.covariance import ledoit_wolf_shrinkage
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.utils.estimator_checks import parametrize_with_checks

from kexue.models.analytic_classifier import (
    AnalyticLogisticRegression,
    SingularCovarianceWarning,
    analytic_softmax_regression,
)

F64 = torch.float64


def _blobs(n: int = 90, d: int = 4, k: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    mix = rng.normal(size=(d, d))
    x = rng.normal(size=(n, d)) @ mix + 2.0 * rng.normal(size=(k, d))[y] + 5.0
    return x, y


def _digits() -> tuple[np.ndarray, np.ndarray]:
    x, y = load_digits(return_X_y=True)
    return x[:, x.std(0) > 0], y  # 61 non-constant pixels


@parametrize_with_checks(
    [AnalyticLogisticRegression(), AnalyticLogisticRegression(shrinkage="auto")]
)
def test_sklearn_check_estimator(estimator: object, check: object) -> None:
    check(estimator)  # type: ignore[operator]


def test_matches_brute_force_float64() -> None:
    x, y = _blobs()
    n, d = x.shape
    priors = np.array([np.mean(y == i) for i in range(3)])
    means = np.stack([x[y == i].mean(0) for i in range(3)])
    sigma = np.zeros((d, d))
    for xi, yi in zip(x, y, strict=True):  # pooled within-class, 1/N
        r = (xi - means[yi])[:, None]
        sigma += r @ r.T / n
    # the article's mixture identity gives the same Σ from the global moments
    mu_t = x.mean(0)
    sigma_t = np.cov(x, rowvar=False, bias=True)
    mixture = (
        sigma_t
        + np.outer(mu_t, mu_t)
        - sum(p * np.outer(m, m) for p, m in zip(priors, means, strict=True))
    )
    np.testing.assert_allclose(mixture, sigma, rtol=1e-9, atol=1e-9)
    inv = np.linalg.inv(sigma)
    w_ref = means @ inv
    b_ref = np.log(priors) - 0.5 * np.einsum("kd,de,ke->k", means, inv, means)
    w, b = analytic_softmax_regression(torch.tensor(x), torch.tensor(y), 3)
    np.testing.assert_allclose(w.numpy(), w_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(b.numpy(), b_ref, rtol=1e-10, atol=1e-10)


def test_softmax_is_the_gaussian_bayes_posterior() -> None:
    x, y = _blobs(seed=1)
    clf = AnalyticLogisticRegression().fit(x, y)
    sigma = sum(np.mean(y == i) * np.cov(x[y == i], rowvar=False, bias=True) for i in range(3))
    joint = np.stack(
        [clf.priors_[i] * multivariate_normal(clf.means_[i], sigma).pdf(x) for i in range(3)], 1
    )
    np.testing.assert_allclose(
        clf.predict_proba(x), joint / joint.sum(1, keepdims=True), atol=1e-10
    )


@pytest.mark.parametrize("shrinkage", [None, 0.3])
@pytest.mark.parametrize(
    "loader", [load_breast_cancer, load_wine, load_iris, _digits], ids=lambda f: f.__name__
)
def test_equals_lda_lsqr(loader: object, shrinkage: float | None) -> None:
    x, y = loader(return_X_y=True) if loader is not _digits else _digits()  # type: ignore[operator]
    ours = AnalyticLogisticRegression(shrinkage=shrinkage).fit(x, y)
    ref = LinearDiscriminantAnalysis(solver="lsqr", shrinkage=shrinkage).fit(x, y)
    scale = np.abs(ref.coef_).max()
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-8 * scale, rtol=0)
    np.testing.assert_allclose(
        ours.intercept_, ref.intercept_, atol=1e-8 * np.abs(ref.intercept_).max()
    )
    np.testing.assert_allclose(ours.predict_proba(x), ref.predict_proba(x), atol=1e-7)
    np.testing.assert_array_equal(ours.predict(x), ref.predict(x))
    assert ours.shrinkage_ == (shrinkage or 0.0)


def test_binary_is_difference_of_softmax_rows() -> None:
    x, y = load_breast_cancer(return_X_y=True)
    clf = AnalyticLogisticRegression().fit(x, y)
    w, b = analytic_softmax_regression(torch.tensor(x), torch.tensor(y), 2)
    np.testing.assert_allclose(clf.coef_[0], (w[1] - w[0]).numpy(), rtol=1e-12)
    np.testing.assert_allclose(clf.intercept_[0], float(b[1] - b[0]), rtol=1e-12)
    assert clf.coef_.shape == (1, x.shape[1]) and clf.intercept_.shape == (1,)
    scores = clf.decision_function(x)
    assert scores.shape == (len(x),)
    np.testing.assert_array_equal(clf.predict(x), clf.classes_[(scores > 0).astype(int)])
    np.testing.assert_allclose(clf.predict_proba(x)[:, 1], 1 / (1 + np.exp(-scores)), atol=1e-12)


def test_string_labels_and_multiclass_shapes() -> None:
    x, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = AnalyticLogisticRegression().fit(x, names)
    assert list(clf.classes_) == sorted(set(names))
    assert clf.coef_.shape == (3, 4) and clf.decision_function(x).shape == (150, 3)
    np.testing.assert_allclose(clf.predict_proba(x).sum(1), 1.0, atol=1e-12)
    np.testing.assert_allclose(clf.predict_log_proba(x), np.log(clf.predict_proba(x)), atol=1e-10)
    assert clf.score(x, names) > 0.95


def test_auto_shrinkage_is_ledoit_wolf_on_within_class_residuals() -> None:
    x, y = _blobs(n=40, d=6)
    clf = AnalyticLogisticRegression(shrinkage="auto").fit(x, y)
    resid = x - clf.means_[y]
    ref = ledoit_wolf_shrinkage(resid, assume_centered=True)
    assert clf.shrinkage_ == pytest.approx(ref, rel=1e-10)
    manual = AnalyticLogisticRegression(shrinkage=float(ref)).fit(x, y)
    np.testing.assert_allclose(clf.coef_, manual.coef_, rtol=1e-8)


def test_batched_equals_loop_and_float32() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 50, 4, generator=gen, dtype=F64)
    y = torch.arange(50).remainder(3).expand(3, 50)
    w, b = analytic_softmax_regression(x, y, 3, shrinkage="auto")
    assert w.shape == (3, 3, 4) and b.shape == (3, 3)
    for i in range(3):
        wi, bi = analytic_softmax_regression(x[i], y[i], 3, shrinkage="auto")
        torch.testing.assert_close(w[i], wi, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(b[i], bi, rtol=1e-10, atol=1e-12)
    w32, b32 = analytic_softmax_regression(x.float(), y, 3, shrinkage="auto")
    assert w32.dtype == torch.float32
    torch.testing.assert_close(w32.double(), w, rtol=1e-3, atol=1e-4)
    torch.testing.assert_close(b32.double(), b, rtol=1e-3, atol=1e-4)
    wh, _ = analytic_softmax_regression(x.half(), y, 3, shrinkage="auto")  # computed in float32
    assert wh.dtype == torch.float16 and torch.isfinite(wh).all()


def test_estimator_float32_backend_close_to_float64() -> None:
    x, y = load_wine(return_X_y=True)
    a = AnalyticLogisticRegression(dtype="float64", device="cpu").fit(x, y)
    b = AnalyticLogisticRegression(dtype="float32").fit(x, y)
    np.testing.assert_allclose(b.predict_proba(x), a.predict_proba(x), atol=1e-3)


def test_gradient_wrt_inputs() -> None:
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(12, 3, generator=gen, dtype=F64, requires_grad=True)
    y = torch.arange(12).remainder(2)
    assert torch.autograd.gradcheck(lambda t: analytic_softmax_regression(t, y, 2), (x,))


@given(seed=st.integers(0, 10_000), shift=st.floats(-5, 5))
def test_affine_invariance_of_logits(seed: int, shift: float) -> None:
    # x -> x A + c leaves the posterior unchanged (so whitening first changes nothing)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(30, 3, generator=gen, dtype=F64)
    y = torch.arange(30).remainder(3)
    a = torch.randn(3, 3, generator=gen, dtype=F64) + 3 * torch.eye(3, dtype=F64)
    w, b = analytic_softmax_regression(x, y, 3)
    z = x @ a + shift
    wz, bz = analytic_softmax_regression(z, y, 3)
    logp = torch.log_softmax(x @ w.mT + b, -1)
    torch.testing.assert_close(torch.log_softmax(z @ wz.mT + bz, -1), logp, rtol=1e-7, atol=1e-7)


def test_singular_covariance_falls_back_with_warning() -> None:
    x, y = load_digits(return_X_y=True)  # three constant (all-zero) pixels
    with pytest.warns(SingularCovarianceWarning, match="shrinkage"):
        clf = AnalyticLogisticRegression().fit(x, y)
    assert 0 < clf.shrinkage_ < 0.5 and clf.score(x, y) > 0.9
    with pytest.raises(ValueError, match="singular"):
        AnalyticLogisticRegression(shrinkage=0.0).fit(x, y)
    with pytest.raises(ValueError, match="shrinkage='auto'"):
        analytic_softmax_regression(torch.tensor(x), torch.tensor(y), 10)
    w, _ = analytic_softmax_regression(torch.tensor(x), torch.tensor(y), 10, shrinkage="auto")
    assert torch.isfinite(w).all()


@pytest.mark.parametrize("case", ["collinear", "fewer_samples_than_features"])
def test_singular_detected(case: str) -> None:
    rng = np.random.default_rng(0)
    if case == "collinear":
        x = rng.normal(size=(200, 5))
        x = np.column_stack([x, x[:, :3] @ rng.normal(size=3)])
    else:
        x = rng.normal(size=(20, 30))
    y = np.arange(len(x)) % 2
    for dtype in (torch.float64, torch.float32):
        with pytest.raises(ValueError, match="singular"):
            analytic_softmax_regression(torch.tensor(x, dtype=dtype), torch.tensor(y), 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SingularCovarianceWarning)
        with pytest.raises(SingularCovarianceWarning):
            AnalyticLogisticRegression().fit(x, y)


def test_estimator_bad_input() -> None:
    x, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match="one class"):
        AnalyticLogisticRegression().fit(x, np.zeros(len(x)))
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="X"):
        AnalyticLogisticRegression().fit(bad, y)
    with pytest.raises(ValueError, match="X"):
        AnalyticLogisticRegression().fit(x, y).predict(bad)
    with pytest.raises(ValueError, match="shrinkage"):
        AnalyticLogisticRegression(shrinkage=1.5).fit(x, y)
    with pytest.raises(ValueError, match="shrinkage"):
        AnalyticLogisticRegression(shrinkage="ledoit").fit(x, y)
    with pytest.raises(ValueError, match="dtype"):
        AnalyticLogisticRegression(dtype="float16").fit(x, y)
    with pytest.raises(ValueError, match="Unknown label type"):
        AnalyticLogisticRegression().fit(x, np.linspace(0, 1, len(x)))


def test_functional_bad_input() -> None:
    x = torch.randn(10, 2, dtype=F64)
    y = torch.arange(10).remainder(2)
    cases: list[tuple[tuple[object, ...], dict[str, object], type[Exception], str]] = [
        ((x.long(), y, 2), {}, TypeError, "x"),
        ((x, y.double(), 2), {}, TypeError, "y"),
        ((x, y[:5], 2), {}, ValueError, "y"),
        ((x[0], y[0], 2), {}, ValueError, "x"),
        ((x.new_full((10, 2), float("nan")), y, 2), {}, ValueError, "x"),
        ((x[:0], y[:0], 2), {}, ValueError, "x"),
        ((x, y, 1), {}, ValueError, "n_classes"),
        ((x, y, 2.0), {}, TypeError, "n_classes"),
        ((x, y + 1, 2), {}, ValueError, "y"),
        ((x, y, 3), {}, ValueError, "y"),  # class 2 has no sample
        ((x, y, 2), {"shrinkage": -0.1}, ValueError, "shrinkage"),
        ((x, y, 2), {"shrinkage": True}, TypeError, "shrinkage"),
    ]
    for args, kwargs, error, name in cases:
        with pytest.raises(error, match=name):
            analytic_softmax_regression(*args, **kwargs)  # type: ignore[arg-type]


def test_experiment_records_missing_fashion_mnist(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    import kexue.data.fashion_mnist as fashion
    from kexue.experiments import e1_analytic_classifier as e1
    from kexue.experiments.e1_analytic_classifier.comparison import Comparison, ModelAccuracy
    from kexue.experiments.e1_analytic_classifier.exactness import (
        Exactness,
        LdaGap,
        WhiteningGap,
    )
    from kexue.experiments.e1_analytic_classifier.fashion import fashion_mnist
    from kexue.experiments.e1_analytic_classifier.protocol import ANALYTIC, LR1

    monkeypatch.setattr(fashion, "available", lambda root=None: False)
    out = fashion_mnist(1000, 2, True, 0)
    assert out.status.startswith("unavailable") and "dataset-fashion-mnist" in out.status
    assert "dataset-fashion-mnist" in out.finding()
    comparison = Comparison(
        rows=(),
        tuned_c=(),
        digits_few_analytic=(0.85, 0.86, 0.84, 0.85),
        digits_few_mle=(0.77, 0.78, 0.79, 0.76),
        digits_full=(ModelAccuracy(ANALYTIC, 0.955), ModelAccuracy(LR1, 0.956)),
        curve=(),
    )
    result = e1.Result(
        exactness=Exactness((LdaGap("x", 1e-12, 1e-12),), (WhiteningGap("x", 1e-13),)),
        comparison=comparison,
        fashion_mnist=out,
        check_estimator=None,
        tables=(),
    )
    checks = e1.check(result, e1.FULL)
    assert all(c.passed for c in checks) and not any("Fashion" in c.name for c in checks)
    mle_wins = dataclasses.replace(comparison, digits_few_mle=(0.86, 0.87, 0.85, 0.86))
    result = dataclasses.replace(result, comparison=mle_wins)  # the claim fails when MLE wins
    assert not all(c.passed for c in e1.check(result, e1.FULL))
