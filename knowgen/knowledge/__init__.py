"""Knowledge decoding: condition encoders that turn given knowledge into tokens for G and D."""

from knowgen.knowledge.encoders import (
    ClassEncoder,
    Conditions,
    Knowledge,
    KnowledgeEncoder,
    balanced_classes,
    class_index,
    placeholder_conditions,
)

__all__ = [
    "ClassEncoder",
    "Conditions",
    "Knowledge",
    "KnowledgeEncoder",
    "balanced_classes",
    "class_index",
    "placeholder_conditions",
]
