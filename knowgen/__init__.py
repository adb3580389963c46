"""knowgen: knowledge-aware image generation.

The Python API mirrors the command line: `resolve_config` (preset + overrides), `train`,
`export_generator`, `load_generator`, `generate`.
"""

from knowgen.config import RunConfig, resolve_config
from knowgen.export import export_generator, generate, load_generator
from knowgen.train.loop import train

__all__ = [
    "RunConfig",
    "export_generator",
    "generate",
    "load_generator",
    "resolve_config",
    "train",
]
__version__ = "0.1.0"
