"""--augment's policy: which of DiffAugment's transforms, by name.  Apart
from augment.py so that flags are checked without loading TensorFlow."""

# in the order applied: flip (not in the DiffAugment paper; ADA's first
# transform) before the paper's three
TRANSFORMS = ("flip", "color", "translation", "cutout")
TRANSLATION_RATIO = 1 / 8       # the largest shift, of the side
CUTOUT_RATIO = 1 / 2            # the side of the erased square, of the side


def parse_policy(text):
    """'color,cutout' -> ('color', 'cutout') in the paper's order; a
    ValueError names what is wrong."""
    names = [name.strip() for name in text.split(",")]
    unknown = [name for name in names if name not in TRANSFORMS]
    if not text.strip() or "" in names or unknown:
        raise ValueError(
            "--augment takes a comma-separated list of "
            f"{', '.join(TRANSFORMS)}, got {text!r}"
            + (f" ({', '.join(map(repr, unknown))} unknown)"
               if unknown and "" not in unknown else ""))
    return tuple(name for name in TRANSFORMS if name in names)
