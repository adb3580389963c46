"""Evaluation during training: metrics of the EMA generator every `eval.every_steps` steps or
`eval.every_minutes` of training time, and the best checkpoint by FID kept as
`checkpoints/best.pt`."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

from knowgen.config import RunConfig
from knowgen.files import atomic_write_text
from knowgen.train.checkpoint import checkpoint_dir, write_state
from knowgen.train.state import TrainState

log = logging.getLogger(__name__)

LOGGED = ("fid", "kid", "is", "precision", "recall", "density", "coverage", "modes_covered")
CONDITIONAL = (
    "conditional_accuracy",
    "intra_fid",
    "heldout_conditional_accuracy",
    "heldout_word_accuracy",
    "heldout_template_accuracy",
    "heldout_word_accuracy_grounded",
    "heldout_fid",
    "class_accuracy",
    "hue_error_median",
    "structure_iou",
    "joint_accuracy",
    "heldout_class_accuracy",
    "heldout_hue_error_median",
    "heldout_structure_iou",
    "heldout_joint_accuracy",
    "factor_size_accuracy",
    "factor_position_accuracy",
    "factor_rotation_accuracy",
    "factor_style_accuracy",
    "heldout_factor_style_accuracy",
    "style_alone_factor_style_accuracy",
    "class_alone_class_accuracy",
    "text_alone_class_accuracy",
    "text_alone_colour_accuracy",
)


class PeriodicEvaluation:
    """Holds the evaluator (trained or loaded once, before the clock starts) and the best FID."""

    def __init__(self, cfg: RunConfig, run_dir: Path, elapsed_s: float = 0.0) -> None:
        from knowgen.metrics.evaluator import load_or_train_evaluator

        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.evaluator = load_or_train_evaluator(cfg.data)
        self.best_path = checkpoint_dir(run_dir) / "best.json"
        self.best_fid = math.inf
        every_minutes = cfg.eval.every_minutes
        self.every_s = every_minutes * 60 if every_minutes else None
        self.next_s = 0.0
        if self.every_s:  # the next multiple of the interval (also after a resume)
            self.next_s = (math.floor(elapsed_s / self.every_s) + 1) * self.every_s
        if self.best_path.is_file():
            self.best_fid = json.loads(self.best_path.read_text(encoding="utf-8"))["fid"]

    def due(self, state: TrainState) -> bool:
        """Whether an evaluation falls at this step (by steps or by training minutes)."""
        every_steps = self.cfg.eval.every_steps
        if every_steps and state.step % every_steps == 0:
            return True
        if self.every_s and state.elapsed_s >= self.next_s:
            while self.next_s <= state.elapsed_s:
                self.next_s += self.every_s
            return True
        return False

    def __call__(self, state: TrainState, meta: dict[str, Any], generator) -> dict[str, float]:
        """Evaluate the EMA `generator` (a `knowgen.sampling.Generator`) now; returns the logged
        metrics."""
        from knowgen.metrics.evaluate import evaluate_generator

        text = state.conditioning.text  # a text run's caption bank, already embedded
        scores = evaluate_generator(
            generator, self.cfg.data, self.cfg.eval, self.evaluator, text, self.cfg.knowledge
        )
        record = {k: scores[k] for k in LOGGED + CONDITIONAL if scores.get(k) is not None}
        record |= {"eval_seconds": scores["eval_seconds"], "elapsed_s": state.elapsed_s}
        if self.cfg.eval.keep_best and scores["fid"] < self.best_fid:
            self.best_fid = scores["fid"]
            self._save_best(state, meta, scores)
        return record

    def _save_best(self, state: TrainState, meta: dict[str, Any], scores: dict) -> None:
        best = write_state(state, meta, checkpoint_dir(self.run_dir) / "best.pt")
        summary = {"step": state.step, "fid": scores["fid"], "kid": scores["kid"]}
        atomic_write_text(self.best_path, json.dumps(summary) + "\n")
        log.info("new best FID %.3f at step %d -> %s", scores["fid"], state.step, best)
