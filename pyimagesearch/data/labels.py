"""The class of every training image, for --conditional: the named data
sets' own labels, or for a folder the first level of sub-folders
(PyImageSearch's `dataset/{class}/image.jpg`), read from the path."""
import os

import numpy as np

from ..errors import UserError
from ..files import readable_name

CLASS_NAMES = {
    "fashion_mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    "mnist": tuple(str(digit) for digit in range(10)),
    "cifar10": ("airplane", "automobile", "bird", "cat", "deer", "dog",
                "frog", "horse", "ship", "truck"),
}

# a class with fewer images than this gets a warning: G sees it too rarely
FEW_IMAGES = 20


def class_column(classes):
    """Class numbers as a conditional model's second input: int32 (N, 1)."""
    return np.asarray(classes, dtype="int32").reshape(-1, 1)


def class_folders(folder, exclude=None):
    """The sorted names of `folder`'s sub-folders (hidden ones and the
    run's output folder, with what is in it, left out): the classes a
    folder may hold."""
    out = os.path.realpath(exclude.folder) if exclude else None
    names = []
    for entry in os.scandir(folder):
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        real = os.path.realpath(entry.path)
        if out is not None and (real == out or real.startswith(out + os.sep)):
            continue
        names.append(entry.name)
    return sorted(names)


def folder_labels(folder, paths, limit=None, exclude=None):
    """(int64 labels, class names) of the images at `paths` below `folder`:
    each image's class is the first sub-folder of its path (a hidden one
    too, when it holds images)."""
    shown = readable_name(folder)
    firsts = [os.path.relpath(path, folder).split(os.sep) for path in paths]
    loose = [parts[0] for parts in firsts if len(parts) < 2]
    if loose:
        raise UserError(
            f"--conditional reads each image's class from its sub-folder of "
            f"{shown}, but {len(loose)} image(s) lie directly in it (such as "
            f"{readable_name(loose[0])}); move them into class folders")
    classes = sorted(set(class_folders(folder, exclude))
                     | {parts[0] for parts in firsts})
    if len(classes) < 2:
        raise UserError(
            f"--conditional needs at least two class folders in {shown} "
            f"(one sub-folder per class), but it has {len(classes)}")
    index = {name: number for number, name in enumerate(classes)}
    labels = np.array([index[parts[0]] for parts in firsts], dtype=np.int64)
    counts = np.bincount(labels, minlength=len(classes))
    empty = [name for name, count in zip(classes, counts) if count == 0]
    if empty:
        why = (f" within the first {limit} files (--limit)" if limit
               else "")
        raise UserError(
            f"class folder(s) {', '.join(map(readable_name, empty[:5]))} of "
            f"{shown} hold no usable images{why}; add images, remove the "
            "folder" + (" or raise --limit" if limit else ""))
    return labels, tuple(classes)


def class_counts_warning(labels, class_names, shown=10):
    """A [WARNING] line naming the classes with very few images (the first
    `shown` of them), or None."""
    counts = np.bincount(labels, minlength=len(class_names))
    few = [f"{readable_name(name)} ({count})"
           for name, count in zip(class_names, counts) if count < FEW_IMAGES]
    if not few:
        return None
    more = f" and {len(few) - shown} more" if len(few) > shown else ""
    return (f"[WARNING] {len(few)} class(es) with fewer than {FEW_IMAGES} "
            f"images, which the generator will learn poorly: "
            f"{', '.join(few[:shown])}{more}")
