"""ember.cuda: ember runs on the CPU only, so a script asking for CUDA is told it is absent.

``device = "cuda" if torch.cuda.is_available() else "cpu"`` then picks the CPU, and the
seeding and cache calls that scripts make unconditionally do nothing, as on torch's CPU build.
"""


def is_available() -> bool:
    """False: there is no CUDA device."""
    return False


def device_count() -> int:
    """0: there is no CUDA device."""
    return 0


def is_initialized() -> bool:
    """False: CUDA is never initialised."""
    return False


def manual_seed(seed: int) -> None:
    """Nothing to seed (torch ignores this call when CUDA is absent)."""


def manual_seed_all(seed: int) -> None:
    """Nothing to seed (torch ignores this call when CUDA is absent)."""


def empty_cache() -> None:
    """Nothing to free."""
