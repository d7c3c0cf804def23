"""Data-parallel training across processes and machines over MPI, as torch.distributed.

Launch with ``mpiexec -n N python train.py`` or ``python -m ember.distributed.run --nproc-per-node N
train.py``; call ``init_process_group("mpi")``; wrap the model in
``ember.nn.parallel.DistributedDataParallel``. See the README's "Distributed training".
"""
from .process_group import (Backend, GroupMember, ProcessGroup, ReduceOp, Work, all_gather, all_gather_into_tensor,
                            all_gather_object, all_reduce, all_to_all, all_to_all_single, barrier, broadcast,
                            broadcast_object_list, destroy_process_group, gather, gather_object, get_backend,
                            get_default_backend_for_device,
                            get_global_rank, get_group_rank, get_process_group_ranks, get_rank, get_world_size, group,
                            init_process_group, irecv, is_available, is_gloo_available, is_initialized,
                            is_mpi_available, is_nccl_available, is_torchelastic_launched, isend, new_group, recv,
                            reduce, reduce_scatter, reduce_scatter_tensor, scatter, scatter_object_list, send)
from .grad_bucket import GradBucket

__all__ = ["Backend", "GradBucket", "GroupMember", "ProcessGroup", "ReduceOp", "Work", "all_gather", "all_gather_into_tensor",
           "all_gather_object", "all_reduce", "all_to_all", "all_to_all_single", "barrier", "broadcast",
           "broadcast_object_list", "destroy_process_group", "gather", "gather_object", "get_backend",
           "get_default_backend_for_device",
           "get_global_rank", "get_group_rank", "get_process_group_ranks", "get_rank", "get_world_size", "group",
           "init_process_group", "irecv", "is_available", "is_gloo_available", "is_initialized", "is_mpi_available",
           "is_nccl_available", "is_torchelastic_launched", "isend", "new_group", "recv", "reduce", "reduce_scatter",
           "reduce_scatter_tensor", "scatter", "scatter_object_list", "send"]
