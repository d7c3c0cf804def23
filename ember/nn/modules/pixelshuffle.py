"""torch.nn.modules.pixelshuffle: PixelShuffle and PixelUnshuffle at torch's module path."""
from .upsampling import PixelShuffle, PixelUnshuffle

__all__ = ["PixelShuffle", "PixelUnshuffle"]
