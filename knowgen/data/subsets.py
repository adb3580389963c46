"""Subsets of a dataset: some of its classes (`data.classes`), and a few of its images
(`data.limit`, seeded and class-balanced).

They exist for the case where knowledge transfer pays: a few hundred images of something new,
and a teacher that learned other classes. Both apply to every dataset; the class subset applies
to every split (evaluation compares with the test images of the same classes), the image limit to
the training split only (a reference set is never shrunk).
"""

from __future__ import annotations

import torch

from knowgen.data.dataset import Dataset


def class_key(name: str) -> str:
    """How class names are compared: case, spaces, hyphens and underscores do not matter
    ("Ankle boot" = "ankle-boot" = "ankle_boot")."""
    return name.strip().lower().replace("_", "-").replace(" ", "-")


def resolve_classes(class_names: list[str], wanted: tuple[str | int, ...]) -> list[int]:
    """Indices into `class_names` of the classes in `wanted` (names or indices), in its order.
    An unknown name, an index out of range or a repeated class is an error that lists the valid
    names."""
    if not wanted:
        raise ValueError("data.classes is empty; leave it unset to keep every class")
    if not class_names:
        raise ValueError("data.classes needs a labelled dataset (this one has no classes)")
    keys = [class_key(n) for n in class_names]
    valid = ", ".join(f"{i}={n}" for i, n in enumerate(class_names))
    indices = []
    for item in wanted:
        if isinstance(item, int):
            if not 0 <= item < len(class_names):
                raise ValueError(f"class index {item} out of range; the classes are {valid}")
            index = item
        elif class_key(item) in keys:
            index = keys.index(class_key(item))
        elif item.strip().isdigit() and int(item) < len(class_names):
            index = int(item)
        else:
            raise ValueError(f"unknown class {item!r}; the classes are {valid}")
        if index in indices:
            raise ValueError(f"class {class_names[index]!r} is named twice in {list(wanted)}")
        indices.append(index)
    return indices


def select_classes(dataset: Dataset, classes: tuple[str | int, ...]) -> Dataset:
    """The images of `classes`, relabelled 0..k-1 in the order given (a conditional model of
    the subset knows k classes, named as the subset)."""
    if dataset.labels is None:
        raise ValueError(f"data.classes needs labels; {dataset.name!r} has none")
    indices = resolve_classes(dataset.class_names, classes)
    relabel = torch.full((len(dataset.class_names),), -1, dtype=torch.long)
    relabel[indices] = torch.arange(len(indices))
    keep = (relabel[dataset.labels] >= 0).nonzero().flatten()
    subset = dataset.subset(keep)
    subset.labels = relabel[subset.labels]
    subset.class_names = [dataset.class_names[i] for i in indices]
    return subset


def balanced_index(labels: torch.Tensor | None, num: int, total: int, seed: int) -> torch.Tensor:
    """`num` indices into a dataset of `total` images, drawn with `seed`: as equal a share of
    every class as the data allow (the first classes take the remainder), or uniformly when
    there are no labels. Sorted, so the subset keeps the dataset's order."""
    if num > total:
        raise ValueError(f"data.limit={num} exceeds the {total} images available")
    rng = torch.Generator().manual_seed(seed)
    if labels is None:
        return torch.randperm(total, generator=rng)[:num].sort().values
    classes = labels.unique().tolist()
    share, extra = divmod(num, len(classes))
    chosen = []
    for position, label in enumerate(classes):
        members = (labels == label).nonzero().flatten()
        want = share + (position < extra)
        if want > len(members):
            raise ValueError(
                f"data.limit={num} asks {want} images of class {label}, which has {len(members)}"
            )
        chosen.append(members[torch.randperm(len(members), generator=rng)[:want]])
    return torch.cat(chosen).sort().values


def limit_images(dataset: Dataset, num: int, seed: int) -> tuple[Dataset, Dataset]:
    """The seeded, class-balanced subset of `num` images, and the rest (the held-out reals)."""
    keep = balanced_index(dataset.labels, num, len(dataset), seed)
    rest = torch.ones(len(dataset), dtype=torch.bool)
    rest[keep] = False
    return dataset.subset(keep), dataset.subset(rest.nonzero().flatten())
