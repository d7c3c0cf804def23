"""Apple's Metal backend: absent in ember."""


def is_available() -> bool:
    """False: there is no MPS device."""
    return False


def is_built() -> bool:
    """False: ember is not built with MPS."""
    return False
