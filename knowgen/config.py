"""Run configuration: typed sections, TOML presets, `--set a.b=value` overrides, validation.

Each component owns its dataclass (``DataConfig`` beside the datasets, ``ModelConfig`` beside the
model registry, ...); `RunConfig` only groups them. Values arrive from TOML files and from the
command line, so every key and type is checked here and a mistake names the key and the choices.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from knowgen.data.datasets import DataConfig
from knowgen.files import atomic_write_text
from knowgen.knowledge.config import MOVED_KEYS, KnowledgeConfig, move_knowledge_keys
from knowgen.losses import LossConfig
from knowgen.metrics.config import EvalConfig
from knowgen.models.registry import CONDITIONAL_MODELS, ModelConfig
from knowgen.sections import (  # noqa: F401 - re-exported: the section mechanics
    _parse_toml,
    dumps_toml,
    escaped_controls,
    section_from_dict,
)
from knowgen.train.config import TrainConfig
from knowgen.transfer.config import TransferConfig, modes_from

log = logging.getLogger(__name__)

DEFAULT_PRESET = "dcgan"


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs; saved as `config.toml` in the run directory."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    knowledge: KnowledgeConfig = field(default_factory=KnowledgeConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    transfer: TransferConfig = field(default_factory=TransferConfig)
    description: str = ""

    def __post_init__(self) -> None:
        for refused, message in REFUSED_COMBINATIONS:
            if refused(self):
                raise ValueError(message)


# Combinations of sections that cannot work, refused when the config is built (not after the
# teacher trained or the first step ran); tests/test_combinations.py tries every pair.
REFUSED_COMBINATIONS = [
    (
        lambda c: c.knowledge.conditional and c.model.name not in CONDITIONAL_MODELS,
        "knowledge.condition needs model.name 'sagan' or 'resnet' (a conditional G, projection D)",
    ),
    (
        lambda c: c.model.name == "resnet" and c.knowledge.reader not in ("concat", "film"),
        "model.name='resnet' reads knowledge by concatenation with z; set knowledge.fusion to "
        "'concat' or 'film' (the same for resnet), or use model.name='sagan' for cross-attention",
    ),
    (
        lambda c: c.model.aux_classifier and not c.knowledge.conditional,
        "model.aux_classifier needs knowledge.condition (an ACGAN head learns the classes given)",
    ),
    (
        lambda c: c.transfer.uses("init") and c.model.name != "dcgan",
        "transfer mode 'init' copies the teacher's trunk into D's: it needs model.name='dcgan'",
    ),
    (
        lambda c: c.transfer.uses("init") and not c.model.d_batchnorm,
        "transfer mode 'init' needs model.d_batchnorm=true (the teacher's trunk has BatchNorm)",
    ),
    (
        lambda c: c.transfer.uses("init") and c.model.width != c.transfer.teacher_width,
        "transfer mode 'init' needs model.width equal to transfer.teacher_width",
    ),
    (
        lambda c: (
            (c.transfer.uses("projected") or c.transfer.uses("vision-aided"))
            and c.knowledge.condition in ("text", "fusion")
        ),
        "transfer modes 'projected' and 'vision-aided' condition their teacher-based D on classes "
        "only; use knowledge.condition 'none' or 'class' with them",
    ),
    (
        lambda c: c.transfer.uses("projected") and c.transfer.uses("init"),
        "transfer.modes cannot hold both projected and init: 'init' copies the teacher into D's "
        "trunk, and 'projected' replaces D by the teacher-based one",
    ),
    (
        lambda c: c.transfer.uses("projected") and c.transfer.uses("vision-aided"),
        "transfer.modes cannot hold both projected and vision-aided: 'projected' already is the "
        "teacher-based D that 'vision-aided' would add beside it",
    ),
    (
        lambda c: (
            c.transfer.source is not None
            and (c.transfer.uses("init") or c.transfer.uses("projected"))
        ),
        "transfer.source starts D from the source's D, which transfer modes 'init' and "
        "'projected' replace by the teacher's; drop one of them",
    ),
    (
        lambda c: c.train.compile and c.loss.penalises_gradients,
        "train.compile cannot train a gradient penalty (loss.r1_weight, loss.r2_weight or "
        "wgan-gp): torch.compile's aot_autograd has no double backward; set train.compile=false",
    ),
    (
        lambda c: math.gcd(c.transfer.aided_every, c.train.n_critic) > 1,
        "transfer.aided_every and train.n_critic share a factor, so G's updates (every n_critic-th "
        "step) never meet the second D's (every aided_every-th): pick them coprime",
    ),
    (
        lambda c: c.transfer.teacher_classes is not None and not c.transfer.modes,
        "transfer.teacher_classes trains a teacher, which no transfer mode uses here; set "
        "transfer.modes",
    ),
]


SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "model": ModelConfig,
    "knowledge": KnowledgeConfig,
    "loss": LossConfig,
    "train": TrainConfig,
    "eval": EvalConfig,
    "transfer": TransferConfig,
}


def list_presets() -> dict[str, str]:
    """Return `{preset name: one-line description}` for the presets shipped in the package."""
    presets = {}
    for entry in sorted(resources.files("knowgen.presets").iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".toml"):
            raw = tomllib.loads(entry.read_text(encoding="utf-8"))
            presets[entry.name.removesuffix(".toml")] = str(raw.get("description", ""))
    return presets


def load_preset(name: str) -> dict[str, Any]:
    """Read a shipped preset as a raw dict, or a TOML file when `name` is a path to one."""
    path = Path(name)
    if name.endswith(".toml"):
        if not path.is_file():
            raise FileNotFoundError(f"preset file {name!r} does not exist")
        return _parse_toml(path.read_text(encoding="utf-8"), name)
    available = list_presets()
    if name not in available:
        raise ValueError(f"unknown preset {name!r}; choose from {sorted(available)}")
    text = resources.files("knowgen.presets").joinpath(f"{name}.toml").read_text(encoding="utf-8")
    return _parse_toml(text, name)


def parse_override(assignment: str) -> tuple[list[str], Any]:
    """Split `a.b=value` into (["a", "b"], value), the value as the shell passed it:

    - `'text'`: exactly the text between the single quotes (newlines, quotes and backslashes
      included), as a TOML literal string would be, where TOML allows one;
    - `"text"`: a TOML basic string (`\\n`, `\\"` and `\\\\` escapes honoured; newlines and
      other control characters typed into it kept), else, when it is not a valid one, the text
      between the quotes as it is;
    - anything else: a TOML value (a number, `true`, a list), else the text itself.

    Bytes that are not UTF-8 (a folder name in another encoding) are refused in one line: the
    run's config.toml, which records the value, is UTF-8.
    """
    if "=" not in assignment:
        raise ValueError(f"--set expects key=value (e.g. train.steps=500), got {assignment!r}")
    key, text = assignment.split("=", 1)
    parts = key.strip().split(".")
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"--set key must be section.key (e.g. train.steps), got {key!r}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(
            f"--set {key.strip()}: the value holds bytes that are not UTF-8 ({text!r}); knowgen "
            "records values in UTF-8: rename the file or folder, or link it under a UTF-8 name"
        ) from None
    return parts, override_value(text)


def override_value(text: str) -> Any:
    """The value of `--set key=TEXT` (see `parse_override`)."""
    quoted = len(text) >= 2 and text[0] == text[-1] and text[0] in "'\""
    if quoted and text[0] == "'":
        return text[1:-1]
    try:
        return tomllib.loads(f"v = {escaped_controls(text) if quoted else text}")["v"]
    except tomllib.TOMLDecodeError:
        return text[1:-1] if quoted else text


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of `raw` with each `section.key=value` assignment applied (a knowledge key
    under its old section, e.g. `model.condition`, sets `knowledge.condition`)."""
    merged = move_transfer_mode(move_knowledge_keys(check_tables(raw)))
    for assignment in overrides:
        (section, key), value = parse_override(assignment)
        if section not in SECTIONS:
            raise ValueError(f"unknown config section {section!r}; choose from {sorted(SECTIONS)}")
        if key in MOVED_KEYS.get(section, ()):
            section = "knowledge"
        if (section, key) == ("transfer", "mode"):  # the one-mode name of a set of modes
            key, value = "modes", modes_from(value)
        merged.setdefault(section, {})[key] = value
    return merged


def check_tables(raw: Any) -> dict[str, Any]:
    """A raw config must be a table of tables (sections) and an optional description."""
    if not isinstance(raw, dict):
        raise ValueError(f"a config must be a table of sections, got {type(raw).__name__}")
    for name, values in raw.items():
        if name in SECTIONS and not isinstance(values, dict):
            raise ValueError(f"config section [{name}] must be a table, got {values!r}"[:300])
    return raw


def move_transfer_mode(raw: dict[str, Any]) -> dict[str, Any]:
    """`transfer.mode = "init"` (presets, runs and exports from before modes were a set) read as
    `transfer.modes = ["init"]`; both given and different is an error naming both."""
    transfer = raw.get("transfer")
    if not isinstance(transfer, dict) or "mode" not in transfer:
        return raw
    transfer = dict(transfer)
    modes = modes_from(transfer.pop("mode"))
    if "modes" in transfer and set(modes_from(transfer["modes"])) != set(modes):
        raise ValueError(
            f"transfer.mode={modes} and transfer.modes={transfer['modes']!r} disagree; "
            "transfer.mode is the one-mode form of transfer.modes: give only one"
        )
    return raw | {"transfer": transfer | {"modes": modes}}


def build_config(raw: dict[str, Any]) -> RunConfig:
    """Validate a raw dict (from TOML + overrides) into a `RunConfig`; unknown keys are errors.
    Knowledge keys in their pre-[knowledge] sections are moved there first."""
    raw = move_transfer_mode(move_knowledge_keys(check_tables(raw)))
    unknown = set(raw) - set(SECTIONS) - {"description"}
    if unknown:
        raise ValueError(
            f"unknown config section(s) {sorted(unknown)}; choose from {sorted(SECTIONS)}"
        )
    sections = {}
    for name, cls in SECTIONS.items():
        values = raw.get(name, {})
        if not isinstance(values, dict):
            raise ValueError(f"config section [{name}] must be a table, got {values!r}")
        sections[name] = section_from_dict(cls, values, name)
    return RunConfig(description=str(raw.get("description", "")), **sections)


def config_to_dict(cfg: RunConfig) -> dict[str, Any]:
    """Plain nested dict of `cfg`: tuples become lists and None becomes "none" (TOML has no null;
    reading "none" back into an optional key gives None, not the key's default)."""

    def clean(obj: Any) -> Any:
        if obj is None:
            return "none"
        if isinstance(obj, dict):
            return {k: clean(v) for k, v in obj.items()}
        if isinstance(obj, tuple | list):
            return [clean(v) for v in obj]
        return obj

    return clean(dataclasses.asdict(cfg))


def save_config(cfg: RunConfig, path: Path) -> None:
    """Write the resolved config as TOML, so a run can be read and resumed later."""
    atomic_write_text(path, dumps_toml(config_to_dict(cfg)))


def read_raw_config(path: Path) -> dict[str, Any]:
    """A run's `config.toml` as a raw dict (to apply overrides before validation)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; is this a knowgen run directory?")
    return _parse_toml(path.read_text(encoding="utf-8"), str(path))


def read_config(path: Path) -> RunConfig:
    """Read a run's `config.toml` back into a validated `RunConfig`."""
    return build_config(read_raw_config(path))


def resolve_config(preset: str = DEFAULT_PRESET, overrides: list[str] | None = None) -> RunConfig:
    """Preset + `section.key=value` overrides -> validated `RunConfig`."""
    return build_config(apply_overrides(load_preset(preset), overrides or []))
