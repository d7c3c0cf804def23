"""cuDNN flags, kept so scripts can set them; ember has no cuDNN, so they change nothing."""
enabled = True
benchmark = False
deterministic = False


def is_available() -> bool:
    """False: there is no cuDNN."""
    return False
