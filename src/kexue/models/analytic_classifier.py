"""Analytic (closed-form, non-MLE) logistic and softmax regression: Gaussian LDA as a classifier.

If every class is Gaussian with its own mean and one shared covariance, Bayes' rule makes the class
log-odds linear in ``x``, so the softmax-regression weights have a closed form in the class means,
the class frequencies and the pooled within-class covariance. No gradient descent is needed.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Literal

import numpy as np
import torch

from kexue._optional import requires

with requires("ref"):
    from scipy.special import log_softmax
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data

from kexue._validate import check_finite, check_floating, check_ndim, check_nonempty, check_tensor

__all__ = [
    "AnalyticLogisticRegression",
    "SingularCovarianceWarning",
    "analytic_softmax_regression",
]

Shrinkage = float | Literal["auto"]
_DTYPES = {"float64": torch.float64, "float32": torch.float32}


class SingularCovarianceWarning(UserWarning):
    """The pooled within-class covariance was singular, so shrinkage was switched on.

    Reference:
        Su Jianlin, 概率视角下的线性模型：逻辑回归有解析解吗？ https://kexue.fm/archives/8578
    """


def _check_shrinkage(shrinkage: object) -> None:
    if isinstance(shrinkage, str):
        if shrinkage != "auto":
            raise ValueError(f"shrinkage must be 'auto' or a number in [0, 1], got {shrinkage!r}")
        return
    if isinstance(shrinkage, bool) or not isinstance(shrinkage, int | float):
        raise TypeError(
            f"shrinkage must be 'auto' or a real number, got {type(shrinkage).__name__}"
        )
    if not 0.0 <= shrinkage <= 1.0:  # also rejects NaN
        raise ValueError(f"shrinkage must lie in [0, 1], got {shrinkage}")


def _class_moments(
    x: torch.Tensor, y: torch.Tensor, n_classes: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Class counts, class means, within-class residuals and their ML (1/N) covariance."""
    onehot = x.new_zeros(*y.shape, n_classes).scatter_(-1, y.unsqueeze(-1), 1.0)  # (..., N, K)
    counts = onehot.sum(-2)  # (..., K)
    means = (onehot.mT @ x) / counts.clamp_min(1).unsqueeze(-1)  # (..., K, d)
    # residuals rather than x'x - sum n_i mu_i'mu_i: no cancellation; in place to spare memory
    resid = (onehot @ means).neg_().add_(x)  # (..., N, d)
    cov = resid.mT @ resid / x.shape[-2]  # (..., d, d) = sum_i p_i Cov_i
    return counts, means, resid, cov


def _ledoit_wolf(resid: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """Ledoit-Wolf shrinkage towards (tr S / d) I for zero-mean rows ``resid``; shape (...)."""
    n, d = resid.shape[-2], resid.shape[-1]
    mu = cov.diagonal(dim1=-2, dim2=-1).mean(-1)  # (...)
    fro2 = cov.square().sum((-2, -1))
    delta = (fro2 - d * mu.square()) / d  # ||S - mu I||_F^2 / d
    beta = (resid.square().sum(-1).square().mean(-1) - fro2) / (d * n)
    beta = torch.minimum(beta, delta).clamp_min(0.0)
    return torch.where(delta > 0, beta / delta.clamp_min(torch.finfo(cov.dtype).tiny), 0.0)


def _solve(
    counts: torch.Tensor,
    means: torch.Tensor,
    cov: torch.Tensor,
    lam: torch.Tensor,
    rcond: float | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Weights, biases and a per-batch ``singular`` flag for the shrunk covariance."""
    d = cov.shape[-1]
    eps = torch.finfo(cov.dtype).eps
    rcond = 100.0 * d * eps if rcond is None else rcond
    lam_ = lam[..., None, None]
    mu = cov.diagonal(dim1=-2, dim2=-1).mean(-1)[..., None, None]
    eye = torch.eye(d, dtype=cov.dtype, device=cov.device)
    cov_s = (1.0 - lam_) * cov + lam_ * mu * eye  # (1-λ)Σ + λ(trΣ/d)I
    var = cov_s.diagonal(dim1=-2, dim2=-1)  # (..., d)
    priors = counts / counts.sum(-1, keepdim=True)  # (..., K)
    second = var + (priors.unsqueeze(-1) * means.square()).sum(-2)  # E[x_k^2] (mixture identity)
    flat = var <= (eps * second).clamp_min(torch.finfo(cov.dtype).tiny)  # constant features
    sd = var.clamp_min(torch.finfo(cov.dtype).tiny).sqrt()  # (..., d)
    # Jacobi scaling: Cholesky of the correlation matrix, pivots = 1 - R^2 of each feature
    chol, info = torch.linalg.cholesky_ex(cov_s / (sd.unsqueeze(-1) * sd.unsqueeze(-2)))
    pivots = chol.diagonal(dim1=-2, dim2=-1).square()
    singular = (info != 0) | flat.any(-1) | (pivots.nan_to_num(0.0).amin(-1) <= rcond)
    scaled = (means / sd.unsqueeze(-2)).mT  # (..., d, K)
    weight = torch.cholesky_solve(scaled, chol).mT / sd.unsqueeze(-2)  # (..., K, d) = μ Σ⁻¹
    bias = torch.log(priors) - 0.5 * (means * weight).sum(-1)  # (..., K)
    return weight, bias, singular


def _shrinkage_tensor(shrinkage: Shrinkage, resid: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    if shrinkage == "auto":
        return _ledoit_wolf(resid, cov)
    return torch.full(cov.shape[:-2], float(shrinkage), dtype=cov.dtype, device=cov.device)


def _check_inputs(x: torch.Tensor, y: object, n_classes: object) -> torch.Tensor:
    check_floating(x, "x")
    check_ndim(x, "x", 2)
    check_nonempty(x, "x")
    check_finite(x, "x")
    y = check_tensor(y, "y")
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise TypeError(f"y must be an integer tensor of class labels, got dtype {y.dtype}")
    if y.shape != x.shape[:-1]:
        raise ValueError(
            f"y must have shape x.shape[:-1] = {tuple(x.shape[:-1])}, got {tuple(y.shape)}"
        )
    if y.device != x.device:
        raise ValueError(f"y is on {y.device} but x is on {x.device}; put them on one device")
    if isinstance(n_classes, bool) or not isinstance(n_classes, int):
        raise TypeError(f"n_classes must be an int, got {type(n_classes).__name__}")
    if n_classes < 2:
        raise ValueError(f"n_classes must be >= 2, got {n_classes}")
    if int(y.min()) < 0 or int(y.max()) >= n_classes:
        raise ValueError(
            f"y must hold labels in [0, n_classes) = [0, {n_classes}), got {int(y.min())}..{int(y.max())}"
        )
    return y.long()


def analytic_softmax_regression(
    x: torch.Tensor,
    y: torch.Tensor,
    n_classes: int,
    shrinkage: Shrinkage = 0.0,
    *,
    rcond: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Closed-form softmax-regression weights from equal-covariance Gaussian classes (LDA).

    With class frequencies :math:`p_i`, class means :math:`\mu_i` (row vectors) and the pooled
    within-class covariance :math:`\Sigma=\sum_i p_i\,\mathrm{Cov}_i` (ML, 1/N), the posterior of
    :math:`x\mid i\sim\mathcal N(\mu_i,\Sigma)` is
    :math:`p(i\mid x)=\mathrm{softmax}_i(x w_i^\top+b_i)` with

    .. math::
        w_i=\mu_i\Sigma_\lambda^{-1},\qquad b_i=\log p_i-\tfrac12\mu_i\Sigma_\lambda^{-1}\mu_i^\top,
        \qquad \Sigma_\lambda=(1-\lambda)\Sigma+\lambda\tfrac{\mathrm{tr}\,\Sigma}{d}I.

    For two classes, :math:`w_1-w_0` and :math:`b_1-b_0` are the logistic-regression weights. The
    solve is a Cholesky solve of the correlation-scaled :math:`\Sigma_\lambda` (no inverse). The
    solution is affine-equivariant, so whitening the inputs first (as the article recommends)
    changes nothing but round-off. ``shrinkage="auto"`` picks :math:`\lambda` by Ledoit-Wolf on the
    within-class residuals. The functional form never shrinks silently: a singular
    :math:`\Sigma_\lambda` raises (the estimator can fall back to shrinkage with a warning).

    Args:
        x: features, floating point; half precision is computed in float32.
        y: integer class labels in ``[0, n_classes)``; every class must occur in every batch.
        n_classes: number of classes ``K >= 2``.
        shrinkage: :math:`\lambda\in[0,1]`, or ``"auto"`` for Ledoit-Wolf. Default 0 (plain LDA).
        rcond: a covariance is called singular when some feature's correlation-scaled Cholesky
            pivot (``1 - R^2`` on the earlier features) is at most ``rcond``. Default
            ``100 * d * eps(dtype)``.

    Shape:
        x: ``(..., N, d)``; y: ``(..., N)``. Leading dimensions are independent problems.
        Returns weight ``(..., K, d)`` and bias ``(..., K)``; logits are ``x @ weight.mT + bias``.

    Returns:
        ``(weight, bias)`` in the dtype and on the device of ``x``.

    Raises:
        TypeError: ``x`` not a floating tensor, ``y`` not an integer tensor, ``n_classes`` not an
            int, ``shrinkage`` neither a number nor ``"auto"``.
        ValueError: wrong shapes, NaN/inf in ``x``, labels out of range or a class with no sample
            in ``y``, ``shrinkage`` outside [0, 1], or a singular covariance of ``x``.

    Reference:
        Su Jianlin, 概率视角下的线性模型：逻辑回归有解析解吗？ (Linear models from a probabilistic view:
        does logistic regression have an analytic solution?), https://kexue.fm/archives/8578.
        Ledoit & Wolf, A well-conditioned estimator for large-dimensional covariance matrices (2004).

    Example:
        >>> x = torch.tensor([[0.0, 0], [1, 2], [2, 1], [4, 4], [5, 6], [6, 5]], dtype=torch.float64)
        >>> w, b = analytic_softmax_regression(x, torch.tensor([0, 0, 0, 1, 1, 1]), 2)
        >>> (x @ w.mT + b).argmax(-1).tolist()
        [0, 0, 0, 1, 1, 1]
    """
    y = _check_inputs(x, y, n_classes)
    _check_shrinkage(shrinkage)
    assert isinstance(n_classes, int)
    work = torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype
    counts, means, resid, cov = _class_moments(x.to(work), y, n_classes)
    if bool((counts == 0).any()):
        missing = sorted({int(k) for k in torch.nonzero(counts == 0)[:, -1]})
        raise ValueError(f"y has no sample of class(es) {missing[:10]}; every class needs one")
    lam = _shrinkage_tensor(shrinkage, resid, cov)
    weight, bias, singular = _solve(counts, means, cov, lam, rcond)
    if bool(singular.any()):
        raise ValueError(
            "the pooled within-class covariance of x is singular (constant or collinear features, "
            "or too few samples per feature); pass shrinkage='auto' or a shrinkage in (0, 1]"
        )
    return weight.to(x.dtype), bias.to(x.dtype)


class AnalyticLogisticRegression(ClassifierMixin, BaseEstimator):
    r"""scikit-learn classifier with the closed-form logistic/softmax-regression solution.

    Fits :func:`analytic_softmax_regression` (equal-covariance Gaussian classes, i.e. LDA) with
    two passes over the data and one d x d Cholesky solve in torch, so it runs on any device
    (``device="cuda"`` for large data); inputs and outputs are numpy.
    Probabilities are :math:`\mathrm{softmax}(xW^\top+b)` computed in log space. With a float
    ``shrinkage`` the coefficients equal ``LinearDiscriminantAnalysis(solver="lsqr",
    shrinkage=...)``'s.

    Args:
        shrinkage: ``None`` (default): no shrinkage, but when the pooled covariance is singular
            (constant or collinear features, N not much larger than d) fall back to Ledoit-Wolf
            shrinkage with a :class:`SingularCovarianceWarning`. ``"auto"``: always Ledoit-Wolf.
            A float in ``[0, 1]``: that shrinkage, and a singular covariance raises ``ValueError``.
        device: torch device for the fit, e.g. ``"cuda"`` for large data.
        dtype: ``"float64"`` (default) or ``"float32"`` for the fit.

    Attributes:
        classes_: the sorted class labels, shape ``(K,)``.
        coef_: ``(1, d)`` for two classes (log-odds of ``classes_[1]``), else ``(K, d)``.
        intercept_: ``(1,)`` or ``(K,)``.
        means_: class means ``(K, d)``. priors_: class frequencies ``(K,)``.
        shrinkage_: the shrinkage actually used. n_features_in_: ``d``.

    Raises:
        ValueError: NaN/inf in ``X`` (named), one class only, a singular covariance with a float
            ``shrinkage``, a bad ``shrinkage``/``dtype``.

    Reference:
        Su Jianlin, 概率视角下的线性模型：逻辑回归有解析解吗？ https://kexue.fm/archives/8578.

    Example:
        >>> from sklearn.datasets import load_iris
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = AnalyticLogisticRegression().fit(X, y)
        >>> round(clf.score(X, y), 2)
        0.98
    """

    def __init__(
        self,
        shrinkage: float | str | None = None,
        *,
        device: str = "cpu",
        dtype: str = "float64",
    ) -> None:
        self.shrinkage = shrinkage
        self.device = device
        self.dtype = dtype

    def fit(self, X: Any, y: Any) -> AnalyticLogisticRegression:
        """Fit the closed-form solution; returns ``self``."""
        if self.shrinkage is not None:
            _check_shrinkage(self.shrinkage)
        if self.dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, got {self.dtype!r}")
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        classes, y_enc = np.unique(y, return_inverse=True)
        if classes.size < 2:
            raise ValueError(
                f"y has only one class ({classes[0]!r}); AnalyticLogisticRegression needs at "
                "least two classes"
            )
        with warnings.catch_warnings():  # read-only arrays are fine: the fit never writes to x
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            x = torch.as_tensor(X, device=self.device).to(_DTYPES[self.dtype])
        t = torch.as_tensor(y_enc.reshape(-1), device=self.device, dtype=torch.long)
        counts, means, resid, cov = _class_moments(x, t, classes.size)
        shrink: Shrinkage = "auto" if self.shrinkage == "auto" else float(self.shrinkage or 0.0)
        lam = _shrinkage_tensor(shrink, resid, cov)
        weight, bias, singular = _solve(counts, means, cov, lam, None)
        if bool(singular) and self.shrinkage is None:
            lam = _ledoit_wolf(resid, cov)
            lam = lam.clamp_min(math.sqrt(torch.finfo(cov.dtype).eps))
            warnings.warn(
                f"the pooled within-class covariance of X is singular (constant or collinear "
                f"features, or n_samples={X.shape[0]} too small for n_features={X.shape[1]}); "
                f"using Ledoit-Wolf shrinkage={float(lam):.3g}. Pass shrinkage='auto' or a float "
                "to choose it explicitly.",
                SingularCovarianceWarning,
                stacklevel=2,
            )
            weight, bias, singular = _solve(counts, means, cov, lam, None)
        if bool(singular):
            raise ValueError(
                f"the pooled within-class covariance of X is singular with shrinkage="
                f"{float(lam):.3g} (constant or collinear features, too few samples per feature, "
                "or no within-class variance); pass shrinkage='auto' or a larger shrinkage"
            )
        w = weight.double().cpu().numpy()
        b = bias.double().cpu().numpy()
        if classes.size == 2:  # log-odds of classes_[1], as LogisticRegression stores it
            w, b = w[1:] - w[:1], b[1:] - b[:1]
        self.classes_ = classes
        self.coef_, self.intercept_ = w, b
        self.means_ = means.double().cpu().numpy()
        self.priors_ = (counts / counts.sum()).double().cpu().numpy()
        self.shrinkage_ = float(lam)
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Logits ``X @ coef_.T + intercept_``: shape ``(n,)`` for two classes, else ``(n, K)``."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        scores = X @ self.coef_.T + self.intercept_
        return scores.ravel() if scores.shape[1] == 1 else scores

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Log class probabilities ``(n, K)`` (log-softmax of the logits)."""
        scores = self.decision_function(X)
        if scores.ndim == 1:
            scores = np.column_stack([np.zeros_like(scores), scores])
        return np.asarray(log_softmax(scores, axis=1))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``(n, K)``, columns ordered as ``classes_``."""
        return np.exp(self.predict_log_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class for each row of ``X``."""
        scores = self.decision_function(X)
        idx = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return np.asarray(self.classes_[idx])
