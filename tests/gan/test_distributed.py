"""The data-parallel step (gan/distributed.py) against the one-device
step: from the same weights and the same seed, two steps on 2 replicas
and two on one device, on the same global batch, give the same losses
and the same weights to within float tolerance.

TensorFlow's logical devices must be set before it starts, which the
test process has done long ago: the comparison runs in a fresh Python
(this file, run as a script), which prints its findings as JSON."""
import json
import os
import subprocess
import sys

import pytest

from test_step import CASES as STEP_CASES, CLASSES

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

# the tape step's cases but --arch radford, whose D's grouped BatchNorm is
# not synchronized across replicas (close to one device, not equal)
CASES = {name: settings for name, settings in STEP_CASES.items()
         if settings.get("arch") != "radford"}


def compare(settings, strategy, batch_size=8, steps=2):
    """Runs in the fresh Python: the largest differences of the losses and
    of the weights (optimizer slots included), and how far the weights
    moved from where they started."""
    import numpy as np
    import tensorflow as tf
    import keras
    from pyimagesearch.runfiles.config import RunConfig
    from pyimagesearch.gan.models import build_trainer
    from pyimagesearch.runfiles import checkpoint as ckpt

    classes = CLASSES if settings.get("conditional") else None
    config = RunConfig.fresh(dict(batch_size=batch_size, epochs=5,
                                  **settings)).for_data(100, "sha1", 1,
                                                        classes)
    keras.utils.set_random_seed(1)
    single = build_trainer(config)
    single.build_optimizers()
    distributed = build_trainer(config, strategy=strategy)
    start = ckpt.get_state(single)
    ckpt.set_state(distributed, start)
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (batch_size, 28, 28, 1)).astype("float32")
    real_classes = rng.integers(0, len(CLASSES), batch_size) \
        if classes else None
    losses = []
    for trainer in (single, distributed):
        np.random.seed(5)
        tf.random.set_seed(5)
        losses.append([trainer.train_step(real, real_classes)
                       for _ in range(steps)])
    after = [ckpt.get_state(trainer) for trainer in (single, distributed)]
    return {
        "loss_difference": float(np.max(np.abs(np.subtract(*losses)))),
        "weight_difference": max(float(np.max(np.abs(after[0][name]
                                                     - after[1][name])))
                                 for name in start),
        "moved": max(float(np.max(np.abs(after[0][name] - start[name])))
                     for name in start if "optimizer" not in name),
        "replicas": distributed.replicas,
        "variables": len(start)}


def augmented_on_each_replica(strategy):
    """The largest difference between what two replicas' --augment makes
    of the same images in one step, and what it changes of them."""
    import numpy as np
    import tensorflow as tf
    from pyimagesearch.runfiles.config import RunConfig
    from pyimagesearch.gan.models import build_trainer

    config = RunConfig.fresh(dict(batch_size=8, epochs=5,
                                  augment="color,translation,cutout")
                             ).for_data(100, "sha1", 1)
    trainer = build_trainer(config, strategy=strategy)
    images = tf.constant(np.random.default_rng(0).uniform(
        -1, 1, (4, 28, 28, 1)).astype("float32"))

    @tf.function
    def augment_on_replicas():
        with trainer._replica_layout(4):
            return strategy.run(lambda: trainer.augment(images))
    outputs = [np.asarray(value) for value in
               strategy.experimental_local_results(augment_on_replicas())]
    return {"between_replicas": float(np.max(np.abs(
                outputs[0] - outputs[1]))),
            "changed": float(np.max(np.abs(outputs[0] - images)))}


# one process on 2 logical devices, about 30 s: slow (README's second
# command), to keep the default suite well under 10 minutes on slower CPUs
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def compared():
    result = subprocess.run(
        [sys.executable, __file__, json.dumps(CASES)], capture_output=True,
        text=True, timeout=600, cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3"))
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case", CASES)
def test_two_replicas_train_as_one_device_does(compared, case):
    found = compared[case]
    assert found["replicas"] == 2
    assert found["moved"] > 1e-3          # the steps did train
    assert found["loss_difference"] < 1e-6, found
    assert found["weight_difference"] < 1e-6, found


def test_each_replica_draws_its_own_augmentation(compared):
    """The replicas' seed generators are one mirrored variable: without
    the replica folded into the seed, each would augment alike."""
    found = compared["augment"]
    assert found["changed"] > 0.1
    assert found["between_replicas"] > 0.1, found


if __name__ == "__main__":
    from pyimagesearch.run.distribute import make_strategy
    strategy = make_strategy("mirrored", 2)     # once: TensorFlow starts
    cases = json.loads(sys.argv[1])
    found = {name: compare(settings, strategy)
             for name, settings in cases.items()}
    found["augment"] = augmented_on_each_replica(strategy)
    print(json.dumps(found))
