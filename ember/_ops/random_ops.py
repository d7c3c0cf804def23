"""random_ops ops."""
from __future__ import annotations
