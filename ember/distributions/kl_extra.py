"""The closed-form KL divergences torch registers for the distributions beyond ``kl.py``'s same-family pairs:
the newer families, cross-family pairs, and the pairs whose support mismatch makes the divergence infinite."""
from __future__ import annotations

import math

import ember
from .._tensor import Tensor
from .continuous import Beta, Exponential, Gamma, Laplace, Normal, Uniform
from .counts import Geometric
from .discrete import Bernoulli, Binomial, Poisson
from .exp_family import ExponentialFamily
from .kl import _kl_normal_normal, kl_divergence, register_kl
from .multivariate import MultivariateNormal, _tril_solve, batch_mahalanobis
from .structured import LowRankMultivariateNormal
from .transformed import TransformedDistribution
from .univariate import EULER, Cauchy, ContinuousBernoulli, Gumbel, HalfNormal, Pareto
from .utils import broadcast_shape, sum_rightmost

_INF = math.inf


def _inf_like(t: Tensor) -> Tensor:
    return ember.full_like(t, _INF)


def _x_log_x(t: Tensor) -> Tensor:
    return t * t.log()


def _inf_where(mask: Tensor, value: Tensor) -> Tensor:
    return ember.where(mask, _INF, value)


def _register_infinite(p_type, q_types, param: str) -> None:
    """Pairs whose supports do not nest: KL(p || q) is infinite everywhere."""
    for q_type in q_types:
        register_kl(p_type, q_type)(lambda p, q: _inf_like(getattr(p, param)))


_register_infinite(Beta, [Pareto], "concentration1")
_register_infinite(ContinuousBernoulli, [Pareto], "probs")
_register_infinite(Exponential, [Beta, ContinuousBernoulli, Pareto, Uniform], "rate")
_register_infinite(Gamma, [Beta, ContinuousBernoulli, Pareto, Uniform], "concentration")
_register_infinite(Gumbel, [Beta, ContinuousBernoulli, Exponential, Gamma, Pareto, Uniform], "loc")
_register_infinite(Laplace, [Beta, ContinuousBernoulli, Exponential, Gamma, Pareto, Uniform], "loc")
_register_infinite(Normal, [Beta, ContinuousBernoulli, Exponential, Gamma, Pareto, Uniform], "loc")
_register_infinite(Pareto, [Beta, ContinuousBernoulli, Uniform], "scale")
_register_infinite(Poisson, [Bernoulli, Binomial], "rate")


@register_kl(Binomial, Binomial)
def _kl_binomial_binomial(p, q):
    if bool((p.total_count < q.total_count).any()):
        raise NotImplementedError("KL between Binomials where q.total_count > p.total_count is not implemented")
    kl = p.total_count * (p.probs * (p.logits - q.logits) + (-p.probs).log1p() - (-q.probs).log1p())
    return _inf_where(p.total_count > q.total_count, kl)


@register_kl(ContinuousBernoulli, ContinuousBernoulli)
def _kl_cb_cb(p, q):
    return (p.mean * (p.logits - q.logits) + p._cont_bern_log_norm() + ember.log1p(-p.probs)
            - q._cont_bern_log_norm() - ember.log1p(-q.probs))


@register_kl(ExponentialFamily, ExponentialFamily)
def _kl_expfamily_expfamily(p, q):
    """The Bregman divergence of the log-normaliser between the two natural parameters."""
    if type(p) is not type(q):
        raise NotImplementedError("The cross KL-divergence between different exponential families cannot "
                                  "be computed using Bregman divergences")
    p_params = [t.detach().requires_grad_() for t in p._natural_params]
    with ember.enable_grad():
        log_norm = p._log_normalizer(*p_params)
        grads = ember.autograd.grad(log_norm.sum(), p_params, create_graph=True)
    result = q._log_normalizer(*q._natural_params) - log_norm
    for pp, qp, g in zip(p_params, q._natural_params, grads):
        result = result - sum_rightmost((qp - pp) * g, len(q.event_shape))
    return result


@register_kl(Gumbel, Gumbel)
def _kl_gumbel_gumbel(p, q):
    ct1, ct2, ct3 = p.scale / q.scale, q.loc / q.scale, p.loc / q.scale
    return -ct1.log() - ct2 + ct3 + ct1 * EULER + (ct2 + ember.lgamma(1 + ct1) - ct3).exp() - (1 + EULER)


@register_kl(Geometric, Geometric)
def _kl_geometric_geometric(p, q):
    return -p.entropy() - ember.log1p(-q.probs) / p.probs - q.logits


@register_kl(HalfNormal, HalfNormal)
def _kl_halfnormal_halfnormal(p, q):
    return _kl_normal_normal(p.base_dist, q.base_dist)


@register_kl(Cauchy, Cauchy)
def _kl_cauchy_cauchy(p, q):
    return ((p.scale + q.scale).pow(2) + (p.loc - q.loc).pow(2)).log() - (4 * p.scale * q.scale).log()


@register_kl(Pareto, Pareto)
def _kl_pareto_pareto(p, q):
    alpha_ratio = q.alpha / p.alpha
    result = q.alpha * (p.scale / q.scale).log() - alpha_ratio.log() + alpha_ratio - 1
    return _inf_where(p.scale < q.scale, result)


@register_kl(TransformedDistribution, TransformedDistribution)
def _kl_transformed_transformed(p, q):
    if p.transforms != q.transforms or tuple(p.event_shape) != tuple(q.event_shape):
        raise NotImplementedError
    return kl_divergence(p.base_dist, q.base_dist)


# -- low-rank multivariate normals: everything through the m x m capacitance factors
def _trace_xxt(x: Tensor) -> Tensor:
    return x.pow(2).sum((-2, -1))


def _lowrank_logdet(d) -> Tensor:
    return d._log_det()


def _lowrank_maha(d, x: Tensor) -> Tensor:
    W, D = d._unbroadcasted_cov_factor, d._unbroadcasted_cov_diag
    wt_dinv_x = ((W.mT / D.unsqueeze(-2)) @ x.unsqueeze(-1)).squeeze(-1)
    return (x.pow(2) / D).sum(-1) - batch_mahalanobis(d._capacitance_tril, wt_dinv_x)


def _woodbury_factor(q) -> Tensor:
    """``A`` with ``Sigma_q^-1 = D^-1 - A^T A``."""
    wt_dinv = q._unbroadcasted_cov_factor.mT / q._unbroadcasted_cov_diag.unsqueeze(-2)
    return ember.linalg.solve_triangular(q._capacitance_tril, wt_dinv, upper=False)


def _check_events(p, q, what: str) -> None:
    if tuple(p.event_shape) != tuple(q.event_shape):
        raise ValueError(f"KL-divergence between two {what} with different event shapes cannot be computed")


@register_kl(LowRankMultivariateNormal, LowRankMultivariateNormal)
def _kl_lowrank_lowrank(p, q):
    _check_events(p, q, "Low Rank Multivariate Normals")
    A = _woodbury_factor(q)
    pW, pD, qD = p._unbroadcasted_cov_factor, p._unbroadcasted_cov_diag, q._unbroadcasted_cov_diag
    trace = ((pD / qD).sum(-1) + _trace_xxt(pW * qD.rsqrt().unsqueeze(-1))
             - _trace_xxt(A * pD.sqrt().unsqueeze(-2)) - _trace_xxt(A @ pW))
    return 0.5 * (_lowrank_logdet(q) - _lowrank_logdet(p) + trace + _lowrank_maha(q, q.loc - p.loc)
                  - p.event_shape[0])


@register_kl(MultivariateNormal, LowRankMultivariateNormal)
def _kl_mvn_lowrank(p, q):
    _check_events(p, q, "(Low Rank) Multivariate Normals")
    L = p._unbroadcasted_scale_tril
    trace = (_trace_xxt(L * q._unbroadcasted_cov_diag.rsqrt().unsqueeze(-1))
             - _trace_xxt(_woodbury_factor(q) @ L))
    return 0.5 * (_lowrank_logdet(q) - 2 * p._half_log_det() + trace + _lowrank_maha(q, q.loc - p.loc)
                  - p.event_shape[0])


@register_kl(LowRankMultivariateNormal, MultivariateNormal)
def _kl_lowrank_mvn(p, q):
    _check_events(p, q, "(Low Rank) Multivariate Normals")
    n = p.event_shape[0]
    batch = tuple(broadcast_shape(q._unbroadcasted_scale_tril.shape[:-2], p._unbroadcasted_cov_factor.shape[:-2]))
    Lq = q._unbroadcasted_scale_tril.expand(batch + (n, n))
    pW = p._unbroadcasted_cov_factor.expand(batch + (n, p.cov_factor.shape[-1]))
    pD = ember.diag_embed(p._unbroadcasted_cov_diag.sqrt()).expand(batch + (n, n))
    trace = _trace_xxt(_tril_solve(Lq, pW)) + _trace_xxt(_tril_solve(Lq, pD))
    return 0.5 * (2 * q._half_log_det() - _lowrank_logdet(p) + trace
                  + batch_mahalanobis(q._unbroadcasted_scale_tril, q.loc - p.loc) - n)


# -- cross-family pairs
@register_kl(Bernoulli, Poisson)
def _kl_bernoulli_poisson(p, q):
    return -p.entropy() - (p.probs * q.rate.log() - q.rate)


def _beta_mean(p) -> Tensor:
    return p.concentration1 / (p.concentration1 + p.concentration0)


@register_kl(Beta, ContinuousBernoulli)
def _kl_beta_cb(p, q):
    return -p.entropy() - p.mean * q.logits - ember.log1p(-q.probs) - q._cont_bern_log_norm()


@register_kl(Beta, Exponential)
def _kl_beta_exponential(p, q):
    return -p.entropy() - q.rate.log() + q.rate * _beta_mean(p)


@register_kl(Beta, Gamma)
def _kl_beta_gamma(p, q):
    a, b = p.concentration1, p.concentration0
    return (-p.entropy() + ember.lgamma(q.concentration) - q.concentration * q.rate.log()
            - (q.concentration - 1) * (ember.digamma(a) - ember.digamma(a + b)) + q.rate * a / (a + b))


@register_kl(Beta, Normal)
def _kl_beta_normal(p, q):
    mean, var = _beta_mean(p), q.scale.pow(2)
    second = (mean * (1 - mean) / (p.concentration1 + p.concentration0 + 1) + mean.pow(2)) * 0.5
    return -p.entropy() + 0.5 * (var * 2 * math.pi).log() + (second - q.loc * mean + q.loc.pow(2) * 0.5) / var


@register_kl(Beta, Uniform)
def _kl_beta_uniform(p, q):
    return _inf_where((q.low > 0) | (q.high < 1), -p.entropy() + (q.high - q.low).log())


@register_kl(ContinuousBernoulli, Exponential)
def _kl_cb_exponential(p, q):
    return -p.entropy() - q.rate.log() + q.rate * p.mean


@register_kl(ContinuousBernoulli, Normal)
def _kl_cb_normal(p, q):
    t2 = 0.5 * (math.log(2.0 * math.pi) + (q.loc / q.scale).square()) + q.scale.log()
    t3 = (p.variance + p.mean.square() - 2.0 * q.loc * p.mean) / (2.0 * q.scale.square())
    return -p.entropy() + t2 + t3


@register_kl(ContinuousBernoulli, Uniform)
def _kl_cb_uniform(p, q):
    return _inf_where((q.low >= 0) | (q.high <= 1), -p.entropy() + (q.high - q.low).log())


@register_kl(Exponential, Gamma)
def _kl_exponential_gamma(p, q):
    ratio = q.rate / p.rate
    return (-q.concentration * ratio.log() + ratio + ember.lgamma(q.concentration) + q.concentration * EULER
            - (1 + EULER))


@register_kl(Exponential, Gumbel)
def _kl_exponential_gumbel(p, q):
    prod, ratio = p.rate * q.scale, q.loc / q.scale
    return prod.log() - 1 - ratio + ratio.exp() * prod / (prod + 1) + prod.reciprocal()


@register_kl(Exponential, Normal)
def _kl_exponential_normal(p, q):
    var, rate2 = q.scale.pow(2), p.rate.pow(2)
    return 0.5 * (rate2 * var * 2 * math.pi).log() - 1 + (rate2.reciprocal() - q.loc / p.rate
                                                          + q.loc.pow(2) * 0.5) / var


@register_kl(Gamma, Exponential)
def _kl_gamma_exponential(p, q):
    return -p.entropy() - q.rate.log() + q.rate * p.concentration / p.rate


@register_kl(Gamma, Gumbel)
def _kl_gamma_gumbel(p, q):
    c, prod, ratio = p.concentration, p.rate * q.scale, q.loc / q.scale
    t1 = (c - 1) * ember.digamma(c) - ember.lgamma(c) - c
    return t1 + prod.log() + c / prod + ratio.exp() * (1 + prod.reciprocal()).pow(-c) - ratio


@register_kl(Gamma, Normal)
def _kl_gamma_normal(p, q):
    c, var, rate2 = p.concentration, q.scale.pow(2), p.rate.pow(2)
    t1 = 0.5 * (rate2 * var * 2 * math.pi).log() - c - ember.lgamma(c)
    t2 = 0.5 * (c.pow(2) + c) / rate2
    return t1 + (c - 1) * ember.digamma(c) + (t2 - q.loc * c / p.rate + 0.5 * q.loc.pow(2)) / var


@register_kl(Gumbel, Normal)
def _kl_gumbel_normal(p, q):
    ratio = p.scale / q.scale
    t1 = (ratio / math.sqrt(2 * math.pi)).log()
    t2 = (math.pi * ratio * 0.5).pow(2) / 3
    t3 = ((p.loc + p.scale * EULER - q.loc) / q.scale).pow(2) * 0.5
    return -t1 + t2 + t3 - (EULER + 1)


@register_kl(Laplace, Normal)
def _kl_laplace_normal(p, q):
    var = q.scale.pow(2)
    ratio = p.scale.pow(2) / var
    t1 = 0.5 * (2 * ratio / math.pi).log()
    return -t1 + ratio + (0.5 * p.loc.pow(2) - p.loc * q.loc + 0.5 * q.loc.pow(2)) / var - 1


@register_kl(Normal, Gumbel)
def _kl_normal_gumbel(p, q):
    mean_ratio, var_ratio, loc_ratio = p.loc / q.scale, (p.scale / q.scale).pow(2), q.loc / q.scale
    return (-var_ratio.log() * 0.5 + mean_ratio - loc_ratio + (-mean_ratio + 0.5 * var_ratio + loc_ratio).exp()
            - 0.5 * (1 + math.log(2 * math.pi)))


@register_kl(Normal, Laplace)
def _kl_normal_laplace(p, q):
    diff = p.loc - q.loc
    z = diff / p.scale
    t2 = math.sqrt(2 / math.pi) * p.scale * (-0.5 * z.pow(2)).exp()
    t3 = diff * ember.erf(math.sqrt(0.5) * z)
    return -(p.scale / q.scale).log() + (t2 + t3) / q.scale - 0.5 * (1 + math.log(0.5 * math.pi))


@register_kl(Pareto, Exponential)
def _kl_pareto_exponential(p, q):
    prod = p.scale * q.rate
    result = (p.alpha / prod).log() - p.alpha.reciprocal() + p.alpha * prod / (p.alpha - 1) - 1
    return _inf_where(p.alpha <= 1, result)


@register_kl(Pareto, Gamma)
def _kl_pareto_gamma(p, q):
    common = p.scale.log() + p.alpha.reciprocal()
    result = (p.alpha.log() - common + ember.lgamma(q.concentration) - q.concentration * q.rate.log()
              + (1 - q.concentration) * common + q.rate * p.alpha * p.scale / (p.alpha - 1) - 1)
    return _inf_where(p.alpha <= 1, result)


@register_kl(Pareto, Normal)
def _kl_pareto_normal(p, q):
    var2 = 2 * q.scale.pow(2)
    common = p.scale / (p.alpha - 1)
    t1 = (math.sqrt(2 * math.pi) * q.scale * p.alpha / p.scale).log()
    t3 = p.alpha * common.pow(2) / (p.alpha - 2)
    t4 = (p.alpha * common - q.loc).pow(2)
    return _inf_where(p.alpha <= 2, t1 - p.alpha.reciprocal() + (t3 + t4) / var2 - 1)


def _uniform_x_log_x_mean(p) -> Tensor:
    """``(x log x |_low^high - width) / width``: the mean of ``log x`` for x uniform on [low, high]."""
    width = p.high - p.low
    return (_x_log_x(p.high) - _x_log_x(p.low) - width) / width


@register_kl(Uniform, Beta)
def _kl_uniform_beta(p, q):
    width = p.high - p.low
    t2 = (q.concentration1 - 1) * _uniform_x_log_x_mean(p)
    t3 = (q.concentration0 - 1) * (_x_log_x(1 - p.high) - _x_log_x(1 - p.low) + width) / width
    t4 = ember.lgamma(q.concentration1) + ember.lgamma(q.concentration0) - ember.lgamma(q.concentration1
                                                                                      + q.concentration0)
    return _inf_where((p.high > 1) | (p.low < 0), t3 + t4 - width.log() - t2)


@register_kl(Uniform, ContinuousBernoulli)
def _kl_uniform_cb(p, q):
    result = -p.entropy() - p.mean * q.logits - ember.log1p(-q.probs) - q._cont_bern_log_norm()
    return _inf_where((p.high >= 1) | (p.low <= 0), result)


@register_kl(Uniform, Exponential)
def _kl_uniform_exponential(p, q):
    result = q.rate * (p.high + p.low) / 2 - ((p.high - p.low) * q.rate).log()
    return _inf_where(p.low < 0, result)


@register_kl(Uniform, Gamma)
def _kl_uniform_gamma(p, q):
    width = p.high - p.low
    result = (-width.log() + ember.lgamma(q.concentration) - q.concentration * q.rate.log()
              + (1 - q.concentration) * _uniform_x_log_x_mean(p) + q.rate * (p.high + p.low) / 2)
    return _inf_where(p.low < 0, result)


@register_kl(Uniform, Gumbel)
def _kl_uniform_gumbel(p, q):
    common = q.scale / (p.high - p.low)
    hi, lo = (p.high - q.loc) / q.scale, (p.low - q.loc) / q.scale
    return common.log() + 0.5 * (hi + lo) - common * ((-hi).exp() - (-lo).exp())


@register_kl(Uniform, Normal)
def _kl_uniform_normal(p, q):
    width = p.high - p.low
    t1 = (math.sqrt(math.pi * 2) * q.scale / width).log()
    return t1 + 0.5 * (width.pow(2) / 12 + ((p.high + p.low - 2 * q.loc) / 2).pow(2)) / q.scale.pow(2)


@register_kl(Uniform, Pareto)
def _kl_uniform_pareto(p, q):
    width = p.high - p.low
    t1 = (q.alpha * q.scale.pow(q.alpha) * width).log()
    return _inf_where(p.low < q.scale, _uniform_x_log_x_mean(p) * (q.alpha + 1) - t1)
