"""Re-export of the HAL's sample type, so firmware code says ``from firmware_py.samples import SampleBlock``."""
from hal.types import SampleBlock

__all__ = ["SampleBlock"]
