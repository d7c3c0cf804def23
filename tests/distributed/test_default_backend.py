"""get_default_backend_for_device: ember's CPU backend is MPI (torch's is gloo); other devices refused as torch."""
from __future__ import annotations

import pytest
import torch

import ember


def test_default_backend_for_device():
    assert ember.distributed.get_default_backend_for_device("cpu") == "mpi"
    assert ember.distributed.get_default_backend_for_device(ember.device("cpu")) == "mpi"
    for lib in (ember, torch):
        with pytest.raises(ValueError, match="Default backend not registered for device : meta"):
            lib.distributed.get_default_backend_for_device("meta")
