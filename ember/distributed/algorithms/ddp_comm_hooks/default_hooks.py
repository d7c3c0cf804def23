"""DDP communication hooks, as torch's ddp_comm_hooks.default_hooks: register one with
``ddp_model.register_comm_hook(process_group, hook)`` (``None`` for the whole world).

A hook gets a ``GradBucket`` whose buffer holds this rank's gradients, not yet divided by the
world size, and returns a Future of the tensor to write back into the gradients.
"""
from typing import Any, Callable

from ...._tensor import Tensor
from .... import _dtype
from ....futures import Future
from ... import process_group as dist
from ...grad_bucket import GradBucket

__all__ = ["allreduce_hook", "bf16_compress_hook", "bf16_compress_wrapper", "fp16_compress_hook",
           "fp16_compress_wrapper"]


def _size(process_group) -> int:
    return (process_group if process_group is not None else dist.GroupMember.WORLD).size()


def _allreduce_fut(process_group, tensor: Tensor) -> Future[Tensor]:
    """Average ``tensor`` over the group (divided first, then summed), as a Future of it."""
    tensor.div_(_size(process_group))
    return dist.all_reduce(tensor, group=process_group, async_op=True).get_future().then(lambda fut: fut.value()[0])


def allreduce_hook(process_group: dist.ProcessGroup, bucket: GradBucket) -> Future[Tensor]:
    """The gradients averaged by one all-reduce: what DDP does without a hook."""
    return _allreduce_fut(process_group, bucket.buffer())


def _compress_hook(dtype, process_group, bucket: GradBucket) -> Future[Tensor]:
    buffer = bucket.buffer()
    compressed = buffer.to(dtype).div_(_size(process_group))  # rounded to ``dtype``, then divided in it

    def decompress(fut: Future) -> Tensor:
        buffer.copy_(fut.value()[0])
        return buffer

    return dist.all_reduce(compressed, group=process_group, async_op=True).get_future().then(decompress)


def fp16_compress_hook(process_group: dist.ProcessGroup, bucket: GradBucket) -> Future[Tensor]:
    """Average in float16: the bucket cast to float16, divided by the world size, summed, cast back."""
    return _compress_hook(_dtype.float16, process_group, bucket)


def bf16_compress_hook(process_group: dist.ProcessGroup, bucket: GradBucket) -> Future[Tensor]:
    """Average in bfloat16 (needs ml_dtypes): as ``fp16_compress_hook``, in bfloat16."""
    return _compress_hook(_dtype.bfloat16, process_group, bucket)


def _compress_wrapper(dtype, hook: Callable) -> Callable:
    def compress_wrapper_hook(hook_state, bucket: GradBucket) -> Future[Tensor]:
        bucket.set_buffer(bucket.buffer().to(dtype))
        fut = hook(hook_state, bucket)

        def decompress(fut: Future) -> Tensor:
            decompressed = bucket.buffer()
            decompressed.copy_(fut.value())
            return decompressed

        return fut.then(decompress)

    compress_wrapper_hook.__name__ = f"{dtype.name}_compress_wrapper_hook"
    return compress_wrapper_hook


def fp16_compress_wrapper(hook: Callable[[Any, GradBucket], Future[Tensor]]) -> Callable:
    """``hook`` run on the bucket cast to float16; its result cast back (``fp16_compress_hook`` is this of allreduce_hook)."""
    return _compress_wrapper(_dtype.float16, hook)


def bf16_compress_wrapper(hook: Callable[[Any, GradBucket], Future[Tensor]]) -> Callable:
    """``hook`` run on the bucket cast to bfloat16; its result cast back."""
    return _compress_wrapper(_dtype.bfloat16, hook)
