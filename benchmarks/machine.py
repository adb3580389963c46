"""A one-line description of the machine, printed beside every benchmark figure."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import torch

from knowgen.train.precision import cpu_model


def describe_machine() -> str:
    cpu = cpu_model() or platform.processor() or "unknown CPU"
    return (
        f"{cpu}, {os.cpu_count()} logical cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}"
    )


def section_intro(note: str) -> str:
    """The opening of a benchmark's docs section: the machine, then the command this process
    was started with (so a figure always names what produced it) and `note`."""
    command = " ".join(["python", f"benchmarks/{Path(sys.argv[0]).name}", *sys.argv[1:]])
    return f"Machine: {describe_machine()}.\n\nCommand: `{command}`. {note}"


def kernel_choices() -> str:
    """The kernel sets asked of ATen, oneDNN and MKL in the environment (an emulated CPU kind),
    printed beside a figure so that it is never taken for the machine's own."""
    names = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS")
    asked = [f"{name}={os.environ[name]}" for name in names if name in os.environ]
    return ", ".join(asked) or "the machine's own"


def write_section(path: str, title: str, body: str) -> None:
    """Replace (or append) the `## title` section of a Markdown file, keeping the others."""
    text = "# Benchmarks\n"
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    start_marker, end_marker = f"<!-- {title}: start -->", f"<!-- {title}: end -->"
    section = f"{start_marker}\n## {title}\n\n{body.strip()}\n{end_marker}"
    if start_marker in text and end_marker in text:
        before, rest = text.split(start_marker, 1)
        after = rest.split(end_marker, 1)[1]
        text = before + section + after
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def slug(title: str) -> str:
    """A file name stem for a docs section's image: lower case, runs of other characters as one
    dash ("Quality: 3 seeds (2026-12-01)" -> "quality-3-seeds-2026-12-01")."""
    text = "".join(c if c.isalnum() else "-" for c in title.lower())
    return "-".join(part for part in text.split("-") if part)
