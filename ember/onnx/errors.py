"""The exceptions of ``ember.onnx``, named as torch.onnx.errors names them."""
from __future__ import annotations

__all__ = ["OnnxExporterError", "UnsupportedOperatorError"]


class OnnxExporterError(RuntimeError):
    """The model could not be exported to ONNX."""


class UnsupportedOperatorError(OnnxExporterError):
    """An op or module that the exporter has no ONNX translation for."""

    def __init__(self, name: str, version: int, detail: str = "") -> None:
        self.name, self.version = name, version
        super().__init__(f"Exporting the operator '{name}' to ONNX opset version {version} is not supported by "
                         f"ember.onnx{': ' + detail if detail else ''}")
