"""Opt-in mixed precision: policy choice, float32 outputs, a real run."""
import os

import keras
import numpy as np
import pytest

from conftest import assert_one_line_error, run_script
from pyimagesearch.runfiles import checkpoint as ckpt
from pyimagesearch.gan import precision
from pyimagesearch.dcgan import DCGAN
from pyimagesearch.errors import UserError


def test_cpu_flag_detection(tmp_path):
    with_bf16 = tmp_path / "a"
    with_bf16.write_text("flags\t\t: fpu avx2 avx512f avx512_bf16 fma\n")
    without = tmp_path / "b"
    without.write_text("flags\t\t: fpu avx2 fma\n")
    assert precision.cpu_has_bf16(str(with_bf16))
    assert not precision.cpu_has_bf16(str(without))
    assert not precision.cpu_has_bf16(str(tmp_path / "missing"))


def test_no_bf16_and_no_gpu_is_refused(monkeypatch):
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: False)
    monkeypatch.setattr(precision.tf.config, "list_physical_devices",
                        lambda kind=None: [])
    with pytest.raises(UserError, match="no bf16 instructions"):
        precision.choose_policy()


def test_mixed_models_keep_float32_weights_and_outputs():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        gen = precision.float32_output(DCGAN.build_generator(7, 64))
        disc = precision.float32_output(DCGAN.build_discriminator(28, 28, 1))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    images = gen(np.zeros((2, 100), "float32"))
    assert images.dtype == "float32"
    assert disc(images).dtype == "float32"
    assert gen.layers[3].compute_dtype == "bfloat16"
    assert all(w.dtype == "float32" for w in gen.weights + disc.weights)


def test_mixed_precision_run_and_resume_rules(tmp_path, real_data):
    out = str(tmp_path)
    result = run_script("--output", out, "--limit", "1280", "--epochs", "2",
                        "--seed", "1", "--mixed-precision", "--pause-after", "1")
    if not precision.cpu_has_bf16():
        # elsewhere the flag must be refused up front, in one line
        assert_one_line_error(result, "no bf16 instructions")
        return
    assert result.returncode == 0, result.stderr
    assert "[INFO] mixed precision: mixed_bfloat16" in result.stdout
    _, meta, _ = ckpt.load_checkpoint(ckpt.latest_checkpoint(out))
    assert meta["settings"]["mixed_precision"] is True
    # resuming keeps the checkpoint's precision without repeating the flag
    resumed = run_script("--output", out, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "[INFO] mixed precision: mixed_bfloat16" in resumed.stdout
    gen = keras.models.load_model(os.path.join(out, "generator.keras"))
    sample = gen.predict(np.zeros((1, 100)), verbose=0)
    assert np.isfinite(sample).all() and sample.dtype == np.float32
    # an fp32 checkpoint cannot silently continue in bf16 or back
    fp32 = str(tmp_path / "fp32")
    run_script("--output", fp32, "--limit", "1280", "--epochs", "2",
               "--pause-after", "1")
    assert_one_line_error(run_script("--output", fp32, "--resume",
                                     "--mixed-precision"),
                          "made without --mixed-precision, and this resume asks for it "
                          "with --mixed-precision")


@pytest.mark.parametrize("one_hot", [False, True],
                         ids=["projection", "onehot"])
def test_mixed_conditional_models_train_in_bf16(one_hot):
    # --conditional with --mixed-precision: the class code follows the
    # policy, outputs and weights stay float32, and a step trains
    from pyimagesearch.gan.trainer import GANTrainer
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        gen = precision.float32_output(DCGAN.build_conditional_generator(
            7, 64, 3, oneHot=one_hot))
        disc = precision.float32_output(
            DCGAN.build_conditional_discriminator(28, 28, 1, 3,
                                                  oneHot=one_hot))
        trainer = GANTrainer(gen, disc, epochs=2, num_classes=3)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    classes = np.array([0, 1, 2, 0])
    images = trainer.generate(trainer.sample_noise(4), classes=classes)
    assert images.dtype == "float32"
    assert all(w.dtype == "float32" for w in gen.weights + disc.weights)
    assert gen.layers[2].compute_dtype == "bfloat16"
    if not precision.cpu_has_bf16():
        return      # training in bf16 is refused on such a CPU (test above)
    d_loss, g_loss = trainer.train_step(images, classes)
    assert np.isfinite(d_loss) and np.isfinite(g_loss)
