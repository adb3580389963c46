"""Knowledge transfer: what a classifier learned, reused to train generators (`teachers` trains
or loads the classifier; `modes` are the ways its features enter training)."""

from knowgen.transfer.config import TransferConfig
from knowgen.transfer.modes import (
    ProjectedDiscriminator,
    feature_matching_loss,
    init_from_teacher,
    teacher_discriminator,
)
from knowgen.transfer.teachers import (
    TEACHERS,
    DeepTeacherNet,
    Teacher,
    TeacherNet,
    load_or_train_teacher,
    load_user_teacher,
    teacher_fingerprint,
)

__all__ = [
    "TEACHERS",
    "DeepTeacherNet",
    "ProjectedDiscriminator",
    "Teacher",
    "TeacherNet",
    "TransferConfig",
    "feature_matching_loss",
    "init_from_teacher",
    "load_or_train_teacher",
    "load_user_teacher",
    "teacher_discriminator",
    "teacher_fingerprint",
]
