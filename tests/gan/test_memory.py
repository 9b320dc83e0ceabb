"""The models' size read off the models built without their weights
(gan/memory.py), checked against the models built with them."""
import dataclasses

import pytest

from pyimagesearch.dcgan import DCGAN
from pyimagesearch.gan import memory
from pyimagesearch.gan.architectures import ARCHITECTURES
from pyimagesearch.runfiles.config import RunConfig


def config_for(size, channels, arch="tutorial", batch_size=128):
    return RunConfig(image_size=size, channels=channels, arch=arch,
                     batch_size=batch_size)


@pytest.mark.parametrize("arch,size,channels", [
    ("tutorial", 28, 1), ("tutorial", 32, 3), ("tutorial", 64, 3),
    ("radford", 16, 1), ("radford", 64, 3), ("radford", 128, 1)])
def test_parameter_counts_match_the_built_models(arch, size, channels):
    config = config_for(size, channels, arch)
    built = [ARCHITECTURES[arch].generator(config),
             ARCHITECTURES[arch].discriminator(config)]
    parameters, generator, discriminator = memory.model_sizes(config)
    assert parameters == sum(model.count_params() for model in built)
    assert generator == sum(memory._volume(layer.output.shape)
                            for layer in built[0].layers)
    assert generator >= size * size * channels     # G's image, at least


def test_the_tutorials_counts_are_the_specs():
    parameters, _, _ = memory.model_sizes(config_for(28, 1))
    assert parameters == 1_727_233 + 1_658_753        # SPEC.md's totals
    assert DCGAN.build_generator(7, 64).count_params() == 1_727_233


def test_a_huge_size_is_counted_without_allocating_it():
    """1024x1024: about 4.3 billion parameters, 17 GB if they were built;
    the variables without values must not wait for Keras to fill them at
    the next stateless scope's end."""
    import keras
    from keras.src.backend.common import global_state
    parameters, _, _ = memory.model_sizes(config_for(1024, 3))
    assert not global_state.get_global_attribute(memory.UNINITIALIZED)
    with keras.StatelessScope():        # would fill them, 17 GB
        pass
    assert parameters > 4e9
    assert memory.training_bytes(config_for(1024, 3)) > 8 * 4 * parameters


@pytest.mark.parametrize("arch,size", [("tutorial", 32), ("radford", 64)])
def test_the_self_supervised_decoder_is_counted(arch, size):
    from pyimagesearch.gan.models import build_trainer
    config = dataclasses.replace(config_for(size, 3, arch, batch_size=8),
                                 step="tape", loss="hinge",
                                 self_supervised=True)
    decoder = build_trainer(config.for_data(100, "sha1", 3)).decoder
    parameters, activations = memory.decoder_sizes(config)
    assert parameters == decoder.count_params() > 0
    assert activations == sum(memory._volume(layer.output.shape)
                              for layer in decoder.layers)
    plain = dataclasses.replace(config, self_supervised=False)
    assert memory.decoder_sizes(plain) == (0, 0)
    assert memory.training_bytes(config) == memory.training_bytes(plain) \
        + 4 * (8 * parameters + 8 * activations)


def test_training_memory_grows_with_size_and_batch():
    small = memory.training_bytes(config_for(28, 1))
    assert small > 8 * 4 * (1_727_233 + 1_658_753)
    assert memory.training_bytes(config_for(56, 1)) > 3 * small
    assert memory.training_bytes(config_for(28, 1, batch_size=256)) > small
    assert memory.training_bytes(config_for(32, 3, "radford")) != \
        memory.training_bytes(config_for(32, 3))
    assert memory.gigabytes(3 * 2 ** 30) == "3.0 GB"


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_cgroup_limits_v2_v1_and_their_parents(tmp_path):
    """The limits of this process's cgroups and their ancestors, from fake
    /proc/self/cgroup and /sys/fs/cgroup trees; none where unlimited."""
    root = tmp_path / "cgroup"
    proc = tmp_path / "proc_self_cgroup"
    # v2: "max" at the top, 3 GB on the job's cgroup, 2 GB on its parent
    write(proc, "0::/ci/job\n")
    write(root / "memory.max", "max\n")
    write(root / "ci" / "memory.max", f"{2 * 2 ** 30}\n")
    write(root / "ci" / "job" / "memory.max", f"{3 * 2 ** 30}\n")
    limits = memory.cgroup_limits(str(proc), str(root))
    assert sorted(limits) == [(2 * 2 ** 30, str(root / "ci" / "memory.max")),
                              (3 * 2 ** 30,
                               str(root / "ci" / "job" / "memory.max"))]
    # v1: the memory controller's file; its "no limit" is a huge number
    v1 = tmp_path / "v1"
    write(proc, "4:memory:/docker/abc\n0::/\n")
    write(v1 / "memory" / "memory.limit_in_bytes", "9223372036854771712\n")
    write(v1 / "memory" / "docker" / "abc" / "memory.limit_in_bytes",
          "1073741824\n")
    assert memory.cgroup_limits(str(proc), str(v1)) == [
        (2 ** 30, str(v1 / "memory" / "docker" / "abc" /
                      "memory.limit_in_bytes"))]
    # nothing readable: no limit
    assert memory.cgroup_limits(str(tmp_path / "none"),
                                str(tmp_path / "none")) == []


def test_the_smallest_limit_holds(monkeypatch):
    monkeypatch.setattr(memory, "machine_bytes", lambda: 8 * 2 ** 30)
    monkeypatch.setattr(memory, "cgroup_limits", lambda: [])
    assert memory.memory_limit() == (8 * 2 ** 30, "this machine's memory")
    monkeypatch.setattr(memory, "cgroup_limits",
                        lambda: [(2 ** 30, "/sys/fs/cgroup/memory.max")])
    assert memory.memory_limit() == (
        2 ** 30, "the memory limit in /sys/fs/cgroup/memory.max")
    monkeypatch.setattr(memory, "machine_bytes", lambda: None)
    monkeypatch.setattr(memory, "cgroup_limits", lambda: [])
    assert memory.memory_limit() == (None, None)


def test_a_new_architecture_is_one_entry(monkeypatch):
    """The checks, the memory estimate and the builders read the entry."""
    from pyimagesearch.gan import architectures
    from pyimagesearch.gan.models import build_generator
    slim = dataclasses.replace(
        ARCHITECTURES["tutorial"], name="slim",
        size_error=lambda size, width: "slim: 32 only" if size != 32 else None)
    monkeypatch.setitem(architectures.ARCHITECTURES, "slim", slim)
    config = config_for(32, 3, "slim")
    assert build_generator(config).output_shape == (None, 32, 32, 3)
    assert memory.model_sizes(config)[0] > 0
    from pyimagesearch.runfiles.config import check_arch
    from pyimagesearch.errors import UserError
    with pytest.raises(UserError, match="slim: 32 only"):
        check_arch({"arch": "slim", "image_size": 64})
