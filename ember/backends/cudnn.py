"""cuDNN flags, kept so scripts can set them; ember has no cuDNN, so they change nothing."""
enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    """False: there is no cuDNN."""
    return False


def version() -> None:
    """None: there is no cuDNN (as torch's CPU build)."""
    return None
