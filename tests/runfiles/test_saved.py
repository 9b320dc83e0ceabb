"""A saved generator is read through one open file, checked by fstat and
by its zip directory before Keras reads it."""
import os
import zipfile

import numpy as np
import pytest

from pyimagesearch.errors import UserError
from pyimagesearch.gan import memory
from pyimagesearch.runfiles import saved
from pyimagesearch.runfiles.config import RunConfig


@pytest.fixture(scope="module")
def generator_file(tmp_path_factory):
    from pyimagesearch.gan.models import build_generator
    generator = build_generator(RunConfig(image_size=8, channels=1))
    path = str(tmp_path_factory.mktemp("saved") / "generator.keras")
    saved.save_generator(generator, path)
    return path, generator


def test_a_saved_generator_reads_back_through_the_open_file(generator_file):
    path, generator = generator_file
    loaded = saved.load_generator(path)
    noise = np.random.default_rng(0).uniform(-1, 1, (2, 100))
    assert np.allclose(loaded.predict(noise, verbose=0),
                       generator.predict(noise, verbose=0), atol=1e-6)


def test_a_file_swapped_for_a_fifo_after_the_check_is_refused(
        tmp_path, monkeypatch):
    """os.path.isfile said yes (the command line's check); the path is a
    FIFO by the time it is opened: refused through the open file, not
    waited on."""
    path = str(tmp_path / "generator.keras")
    os.mkfifo(path)
    monkeypatch.setattr(os.path, "isfile", lambda _: True)
    with pytest.raises(UserError, match="generator.keras is not a regular "
                       "file: pass the model itself"):
        saved.load_generator(path)


def test_a_model_over_the_memory_limit_is_refused_by_its_size(
        generator_file, monkeypatch):
    # a run plans with 80% of the limit
    monkeypatch.setattr(memory, "memory_limit", lambda: (1000, "a fake"))
    with pytest.raises(UserError, match=r"generator.keras is [\d,]+ bytes, "
                       "over the 800 bytes a model may be"):
        saved.load_generator(generator_file[0])


def test_a_model_whose_config_claims_too_much_is_refused_unread(tmp_path):
    """config.json claims 100 MB inflated (100 KB on disk)."""
    path = str(tmp_path / "generator.keras")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED,
                         compresslevel=1) as archive:
        with archive.open("config.json", "w") as f:
            for _ in range(100):
                f.write(b" " * 2 ** 20)
    with pytest.raises(UserError, match="not a loadable Keras model "
                       r"\(ValueError: its member 'config.json' claims "
                       r"100.0 MB inflated, over the 1.0 MB it may hold\)"):
        saved.load_generator(path)
