"""SyncBatchNorm: batch normalization whose batch statistics are taken over every rank's batch."""
from __future__ import annotations

from ..._backend import xp
from ..._tensor import Tensor
from ...autograd.function import Op
from ...autograd.grad_mode import no_grad, state
from ... import distributed as dist
from .._functional.normalization import _affine, _update
from .module import Module
from .normalization import _BatchNorm


class _SyncStandardize(Op):
    """xhat = (x - mean) * rstd per channel, with mean and variance over the batches of all ranks.

    One fused op, as ``Standardize``, with its all-reduces inside: two small ones in forward (sums,
    then centred squares, as the single-process two-pass variance) and one in backward, whose
    gradient is torch's: ``rstd * (g - mean(g) - xhat * mean(g * xhat))`` with global means.
    """

    differentiable_outputs = (0,)

    @staticmethod
    def forward(x, dims, eps, group):
        c = x.shape[1]
        shape = (1, c) + (1,) * (x.ndim - 2)
        local = xp.concatenate([x.sum(axis=dims), xp.asarray([x.size // c], x.dtype)])
        dist.all_reduce(Tensor._make(local), group=group)
        n = local[c]
        if n <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {list(x.shape)} "
                             f"on this rank and {int(n)} values per channel over all ranks")
        mean = local[:c] / n
        xc = x - mean.reshape(shape)
        sq = (xc * xc).sum(axis=dims)
        dist.all_reduce(Tensor._make(sq), group=group)
        var = sq / n
        rstd = 1.0 / xp.sqrt(var + eps)
        return xc * rstd.reshape(shape), mean, var, xp.asarray(n)

    @staticmethod
    def setup_context(ctx, inputs, output):
        _, ctx.dims, _, ctx.group = inputs
        ctx.count = float(output[3])
        ctx.save_for_backward(Tensor._make(output[0]), Tensor._make(1.0 / xp.sqrt(output[2] + inputs[2])))

    @staticmethod
    def backward(ctx, g, *_):
        if state.enabled:
            raise RuntimeError("SyncBatchNorm does not support double backward (create_graph=True)")
        xhat, rstd = (t._data for t in ctx.saved_tensors)
        g = g._data
        c = xhat.shape[1]
        shape = (1, c) + (1,) * (xhat.ndim - 2)
        sums = xp.concatenate([g.sum(axis=ctx.dims), (g * xhat).sum(axis=ctx.dims)])
        dist.all_reduce(Tensor._make(sums), group=ctx.group)
        sums /= ctx.count
        gx = (g - sums[:c].reshape(shape) - xhat * sums[c:].reshape(shape)) * rstd.reshape(shape)
        return Tensor._make(gx), None, None, None


class SyncBatchNorm(_BatchNorm):
    """Batch normalization over (N, C, *) whose training statistics cover the batches of all ranks of
    ``process_group``, so that data-parallel training normalizes as one process would on the whole batch.

    Outside training, or without an initialized process group of more than one rank, it is BatchNorm.
    Convert a model's batch-norm layers with ``SyncBatchNorm.convert_sync_batchnorm(model)``.

    Args:
        num_features: C. eps, momentum, affine, track_running_stats: as BatchNorm.
        process_group: the ranks to share statistics with (default: all).

    Shape:
        - Input: ``(N, C, *)``; Output: same shape.
    """

    _dims = range(2, 65)  # any input of 2 or more dims (checked first in forward, with torch's message)

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, process_group=None, device=None, dtype=None) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        self.process_group = process_group

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim < 2:
            raise ValueError(f"expected at least 2D input (got {input.ndim}D input)")
        if not (self.training and dist.is_initialized() and dist.get_world_size(self.process_group) > 1):
            return super().forward(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked._data += 1
            self.num_batches_tracked._version += 1
            if self.momentum is None:  # a cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked.item())
        dims = (0, *range(2, input.ndim))
        xhat, mean, var, n = _SyncStandardize.apply(input, dims, float(self.eps), self.process_group)
        if self.track_running_stats:
            with no_grad():
                _update(self.running_mean, mean, factor)
                _update(self.running_var, var * (float(n) / (float(n) - 1)), factor)
        return _affine(xhat, self.weight, self.bias, (1, input.shape[1]) + (1,) * (input.ndim - 2))

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group=None) -> Module:
        """``module`` with every BatchNorm*d layer replaced by a SyncBatchNorm sharing its parameters and buffers."""
        out = module
        if isinstance(module, _BatchNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats,
                      process_group)
            if module.affine:
                with no_grad():
                    out.weight = module.weight
                    out.bias = module.bias
            out.running_mean, out.running_var = module.running_mean, module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.training = module.training
        for name, child in module.named_children():
            out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return out
