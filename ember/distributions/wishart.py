"""The Wishart distribution over positive-definite matrices, sampled by the Bartlett decomposition as torch's."""
from __future__ import annotations

import math
import numbers
import warnings

import ember
from .._tensor import Tensor, Size
from . import constraints
from .continuous import Chi2
from .exp_family import ExponentialFamily
from .utils import as_size, broadcast_shape, lazy_property, vec_to_tril_matrix

__all__ = ["Wishart"]

_LOG_2 = math.log(2)


def _mvdigamma(x: Tensor, p: int) -> Tensor:
    """The multivariate digamma function: ``sum_i digamma(x - i / 2)`` for ``i < p``."""
    if not bool((x > (p - 1) / 2).all()):
        raise AssertionError("Wrong domain for multivariate digamma function.")
    return ember.digamma(x.unsqueeze(-1) - ember.arange(p, dtype=x.dtype) / 2).sum(-1)


class Wishart(ExponentialFamily):
    """The Wishart distribution with ``df`` degrees of freedom and scale matrix given by one of
    ``covariance_matrix``, ``precision_matrix`` or ``scale_tril``.

    ``rsample`` follows torch's, draw for draw: Bartlett draws, then the re-draw loop torch runs after its
    (inverted) singularity check, with the same "Singular sample detected." warning.
    """

    support = constraints.positive_definite
    has_rsample = True
    _mean_carrier_measure = 0

    @property
    def arg_constraints(self) -> dict:
        return {"covariance_matrix": constraints.positive_definite, "precision_matrix": constraints.positive_definite,
                "scale_tril": constraints.lower_cholesky,
                "df": constraints.greater_than(self.event_shape[-1] - 1)}

    def __init__(self, df, covariance_matrix: Tensor | None = None, precision_matrix: Tensor | None = None,
                 scale_tril: Tensor | None = None, validate_args: bool | None = None) -> None:
        if (covariance_matrix is not None) + (scale_tril is not None) + (precision_matrix is not None) != 1:
            raise AssertionError("Exactly one of covariance_matrix or precision_matrix or scale_tril may be specified.")
        name, param = next((n, p) for n, p in (("covariance_matrix", covariance_matrix),
                                               ("precision_matrix", precision_matrix), ("scale_tril", scale_tril))
                           if p is not None)
        if param.dim() < 2:
            raise ValueError("scale_tril must be at least two-dimensional, with optional leading batch dimensions")
        if isinstance(df, numbers.Number):
            batch_shape = tuple(param.shape[:-2])
            self.df = ember.tensor(df, dtype=param.dtype)
        else:
            batch_shape = tuple(broadcast_shape(param.shape[:-2], df.shape))
            self.df = df.expand(batch_shape)
        n = param.shape[-1]
        if bool((self.df <= n - 1).any()):
            raise ValueError(f"Value of df={df} expected to be greater than ndim - 1 = {n - 1}.")
        setattr(self, name, param.expand(batch_shape + (-1, -1)))
        if bool((self.df < n).any()):
            warnings.warn("Low df values detected. Singular samples are highly likely to occur for ndim - 1 < df "
                          "< ndim.", stacklevel=2)
        super().__init__(batch_shape, tuple(param.shape[-2:]), validate_args=validate_args)
        if scale_tril is not None:
            self._unbroadcasted_scale_tril = scale_tril
        elif covariance_matrix is not None:
            self._unbroadcasted_scale_tril = ember.linalg.cholesky(covariance_matrix)
        else:  # the Cholesky factor of the inverse, through the flipped factor of the precision itself
            flip = ember.linalg.cholesky(precision_matrix.flip((-2, -1)))
            eye = ember.eye(n, dtype=precision_matrix.dtype)
            self._unbroadcasted_scale_tril = ember.linalg.solve_triangular(
                flip.flip((-2, -1)).mT, eye, upper=False)
        self._dist_chi2 = self._chi2(batch_shape)

    def _chi2(self, batch_shape) -> Chi2:
        p = self._event_shape[-1]
        steps = ember.arange(p, dtype=self._unbroadcasted_scale_tril.dtype).expand(tuple(batch_shape) + (-1,))
        return Chi2(self.df.unsqueeze(-1) - steps)

    @property
    def _batch_dims(self) -> list:
        return [-(i + 1) for i in range(len(self._batch_shape))]

    def expand(self, batch_shape, _instance=None) -> "Wishart":
        batch_shape = as_size(batch_shape)
        new = type(self).__new__(type(self)) if _instance is None else _instance
        new.__dict__.update(self.__dict__)
        shape = tuple(batch_shape) + tuple(self._event_shape)
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril.expand(shape)
        new.df = self.df.expand(tuple(batch_shape))
        for key in ("covariance_matrix", "scale_tril", "precision_matrix"):
            if key in self.__dict__:
                new.__dict__[key] = self.__dict__[key].expand(shape)
        new._batch_shape = batch_shape
        new._dist_chi2 = new._chi2(batch_shape)
        return new

    def _matrix(self, m: Tensor) -> Tensor:
        return m.expand(tuple(self._batch_shape) + tuple(self._event_shape))

    @lazy_property
    def scale_tril(self) -> Tensor:
        return self._matrix(self._unbroadcasted_scale_tril)

    @lazy_property
    def covariance_matrix(self) -> Tensor:
        L = self._unbroadcasted_scale_tril
        return self._matrix(L @ L.mT)

    @lazy_property
    def precision_matrix(self) -> Tensor:
        eye = ember.eye(self._event_shape[-1], dtype=self._unbroadcasted_scale_tril.dtype)
        return self._matrix(ember.cholesky_solve(eye, self._unbroadcasted_scale_tril))

    @property
    def mean(self) -> Tensor:
        return self.df.view(tuple(self._batch_shape) + (1, 1)) * self.covariance_matrix

    @property
    def mode(self) -> Tensor:
        factor = self.df - self.covariance_matrix.shape[-1] - 1
        factor = ember.where(factor <= 0, math.nan, factor)
        return factor.view(tuple(self._batch_shape) + (1, 1)) * self.covariance_matrix

    @property
    def variance(self) -> Tensor:
        V = self.covariance_matrix
        d = V.diagonal(dim1=-2, dim2=-1)
        return self.df.view(tuple(self._batch_shape) + (1, 1)) * (V.pow(2) + d.unsqueeze(-1) * d.unsqueeze(-2))

    def _bartlett_sampling(self, sample_shape=Size()) -> Tensor:
        p = self._event_shape[-1]
        chi = self._dist_chi2.rsample(sample_shape).sqrt()
        noise = ember.diag_embed(chi.clamp(min=ember.finfo(chi.dtype).eps))
        below = ember.randn(tuple(as_size(sample_shape)) + tuple(self._batch_shape) + (p * (p - 1) // 2,),
                            dtype=noise.dtype)
        chol = self._unbroadcasted_scale_tril @ (noise + vec_to_tril_matrix(below, diag=-1))
        return chol @ chol.mT

    def _flag(self, sample: Tensor) -> Tensor:
        ok = self.support.check(sample)
        return ok.amax(self._batch_dims) if len(self._batch_shape) else ok

    def rsample(self, sample_shape=Size(), max_try_correction: int | None = None) -> Tensor:
        max_try_correction = 10 if max_try_correction is None else max_try_correction
        sample = self._bartlett_sampling(as_size(sample_shape))
        # torch flags the samples that pass the check (not the singular ones) and draws those again: so do we
        redo = self._flag(sample)
        if bool(redo.any()):
            warnings.warn("Singular sample detected.", stacklevel=2)
            for _ in range(max_try_correction):
                new = self._bartlett_sampling(Size([int(redo.sum())]))
                sample = sample.clone()
                sample[redo] = new
                still = ~self._flag(new)
                redo = redo.clone()
                redo[redo.clone()] = still
                if not bool(redo.any()):
                    break
        return sample

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        nu, p = self.df, self._event_shape[-1]
        L = self._unbroadcasted_scale_tril
        return (-nu * (p * _LOG_2 / 2 + L.diagonal(dim1=-2, dim2=-1).log().sum(-1)) - ember.mvlgamma(nu / 2, p=p)
                + (nu - p - 1) / 2 * ember.linalg.slogdet(value).logabsdet
                - ember.cholesky_solve(value, L).diagonal(dim1=-2, dim2=-1).sum(-1) / 2)

    def entropy(self) -> Tensor:
        nu, p = self.df, self._event_shape[-1]
        L = self._unbroadcasted_scale_tril
        return ((p + 1) * (p * _LOG_2 / 2 + L.diagonal(dim1=-2, dim2=-1).log().sum(-1))
                + ember.mvlgamma(nu / 2, p=p) - (nu - p - 1) / 2 * _mvdigamma(nu / 2, p=p) + nu * p / 2)

    @property
    def _natural_params(self) -> tuple:
        return -self.precision_matrix / 2, (self.df - self._event_shape[-1] - 1) / 2

    def _log_normalizer(self, x: Tensor, y: Tensor) -> Tensor:
        p = self._event_shape[-1]
        return ((y + (p + 1) / 2) * (-ember.linalg.slogdet(-2 * x).logabsdet + _LOG_2 * p)
                + ember.mvlgamma(y + (p + 1) / 2, p=p))
