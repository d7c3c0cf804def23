"""Anomaly detection: remember where each op was created; fail loudly on NaN in backward."""
from __future__ import annotations

import warnings

enabled = False
check_nan = True  # while enabled: a NaN in a backward node's result raises


def set_anomaly_enabled(mode: bool, nan: bool = True) -> None:
    """Set anomaly detection and its NaN check, as ``torch.set_anomaly_enabled``."""
    global enabled, check_nan
    enabled, check_nan = bool(mode), bool(nan)


def is_anomaly_enabled() -> bool:
    """True while anomaly detection is on."""
    return enabled


def is_anomaly_check_nan_enabled() -> bool:
    """True while anomaly detection checks backward results for NaN."""
    return check_nan


class detect_anomaly:
    """Context manager that enables anomaly detection inside its block (with the NaN check unless ``check_nan=False``)."""

    def __init__(self, check_nan: bool = True) -> None:
        self.prev, self.check_nan = (enabled, is_anomaly_check_nan_enabled()), check_nan
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime and should only be "
                      "enabled for debugging.", stacklevel=2)

    def __enter__(self) -> None:
        set_anomaly_enabled(True, self.check_nan)

    def __exit__(self, *exc) -> None:
        set_anomaly_enabled(*self.prev)


class set_detect_anomaly:
    """Turn anomaly detection on or off at once; as a context manager, the previous setting returns on exit."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self.prev = (enabled, is_anomaly_check_nan_enabled())
        set_anomaly_enabled(mode, check_nan)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc) -> None:
        set_anomaly_enabled(*self.prev)
