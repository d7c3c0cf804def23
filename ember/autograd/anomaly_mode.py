"""Anomaly detection: remember where each op was created; fail loudly on NaN in backward."""
from __future__ import annotations

enabled = False


def set_detect_anomaly(mode: bool, check_nan: bool = True) -> None:
    """Turn anomaly detection on or off."""
    global enabled
    enabled = bool(mode)


def is_anomaly_enabled() -> bool:
    """True while anomaly detection is on."""
    return enabled


class detect_anomaly:
    """Context manager that enables anomaly detection inside its block."""

    def __init__(self, check_nan: bool = True) -> None:
        self.prev = enabled

    def __enter__(self):
        set_detect_anomaly(True)
        return self

    def __exit__(self, *exc) -> None:
        set_detect_anomaly(self.prev)
