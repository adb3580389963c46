"""knowgen: knowledge-aware image generation.

The Python API mirrors the command line: `resolve_config` (preset + overrides), `train`,
`load` (a run, checkpoint or export -> a `Generator` whose `sample(n, **knowledge)` takes any
knowledge it was trained with), `export_generator`.
"""

from knowgen.config import RunConfig, resolve_config
from knowgen.knowledge.kinds import KnowledgeError
from knowgen.sampling import Generator, Samples, export_generator, load
from knowgen.train.loop import train

__all__ = [
    "Generator",
    "KnowledgeError",
    "RunConfig",
    "Samples",
    "export_generator",
    "load",
    "resolve_config",
    "train",
]
__version__ = "0.1.0"
