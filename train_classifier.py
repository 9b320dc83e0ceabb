"""Train the small Fashion-MNIST classifier behind the quality metrics and
write its weights and model card into pyimagesearch/quality/weights/.

    python train_classifier.py            # ~10-20 min on 2 CPU cores
"""
import argparse
import datetime
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from pyimagesearch.errors import (UserError, check_positive,  # noqa: E402
                                  one_line_errors)
from pyimagesearch.data.datasets import scale_images  # noqa: E402
from pyimagesearch.data.readers import load_fashion_mnist  # noqa: E402
from pyimagesearch.quality import classifier  # noqa: E402
from pyimagesearch.runfiles.config import check_seed  # noqa: E402


@one_line_errors
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--weights", default=classifier.WEIGHTS)
    ap.add_argument("--limit", type=int, default=None,
                    help="train on the first N training images (tests)")
    args = ap.parse_args(argv)
    check_positive("--epochs", args.epochs, allow_none=False)
    check_seed(args.seed)
    if args.limit is not None and args.limit < 128:
        raise UserError(f"--limit must be at least 128 (one batch), got "
                        f"{args.limit}")
    ((train_x, train_y), (test_x, test_y)), source = \
        load_fashion_mnist(args.data_dir)
    keras.utils.set_random_seed(args.seed)
    train_x, train_y = scale_images(train_x)[:args.limit], train_y[:args.limit]
    test_x = scale_images(test_x)

    model = classifier.build_classifier()
    steps = args.epochs * int(np.ceil(len(train_x) / 128))
    schedule = keras.optimizers.schedules.CosineDecay(2e-3, steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    # light augmentation: horizontal flips keep every class a valid garment
    flip = keras.layers.RandomFlip("horizontal", seed=args.seed)

    def augmented():
        order = np.arange(len(train_x))
        while True:
            np.random.shuffle(order)
            for start in range(0, len(order) - 127, 128):
                batch = order[start:start + 128]
                yield flip(train_x[batch], training=True), train_y[batch]

    print(f"[INFO] training the classifier on {len(train_x)} images "
          f"from {source}")
    model.fit(augmented(), steps_per_epoch=len(train_x) // 128,
              epochs=args.epochs, verbose=2)
    loss, accuracy = model.evaluate(test_x, test_y, verbose=0)
    print(f"[INFO] test accuracy {accuracy:.4f} on {len(test_x)} test images")
    # a fresh copy drops the optimizer's slots: a third of the file size
    shipped = classifier.build_classifier()
    shipped.set_weights(model.get_weights())
    shipped.save_weights(args.weights)
    card = {"test_accuracy": round(float(accuracy), 4),
            "test_images": int(len(test_x)),
            "train_images": int(len(train_x)), "epochs": args.epochs,
            "seed": args.seed, "trained": datetime.date.today().isoformat(),
            "keras": keras.__version__,
            "features": "128-d output of the 'features' Dense layer"}
    card_path = os.path.splitext(os.path.splitext(args.weights)[0])[0] + ".json"
    with open(card_path, "w") as f:
        json.dump(card, f, indent=2)
    print(f"[INFO] weights written to {args.weights}, card to {card_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
