"""Which generator of a run folder generate.py and evaluate.py sample
when given the folder: the kept best with the lower number, else the
averaged generator, else the last."""
import pytest

from pyimagesearch.errors import UserError
from pyimagesearch.runfiles.metrics_log import (generator_path,
                                                generator_to_sample)


def touch(folder, *names):
    for name in names:
        (folder / name).write_bytes(b"")


def metrics(folder, name, rows):
    (folder / name).write_text(
        "epoch,swd,best_epoch\nreal-data floor,9.8,\n" + "".join(
            f"{epoch},{swd},\n" for epoch, swd in rows))


def test_the_lower_best_number_wins(tmp_path):
    touch(tmp_path, "generator.keras", "generator_ema.keras",
          "generator_best.keras", "generator_ema_best.keras")
    metrics(tmp_path, "metrics.csv", [(5, 40.0), (10, 30.0)])
    metrics(tmp_path, "ema_metrics.csv", [(5, 35.0), (10, 25.5)])
    path, why = generator_to_sample(str(tmp_path))
    assert path.endswith("generator_ema_best.keras")
    assert why == "the averaged generator at its best measured epoch " \
        "(10: 25.5)"
    metrics(tmp_path, "metrics.csv", [(5, 20.0)])
    path, why = generator_to_sample(str(tmp_path))
    assert path.endswith("generator_best.keras") and "(5: 20)" in why


def test_without_metrics_the_average_then_the_last(tmp_path, capsys):
    assert generator_to_sample(str(tmp_path)) is None
    with pytest.raises(UserError, match="holds no generator"):
        generator_path(str(tmp_path))
    touch(tmp_path, "generator.keras")
    assert generator_to_sample(str(tmp_path))[0].endswith("generator.keras")
    touch(tmp_path, "generator_ema.keras", "generator_best.keras")
    # a best generator without its metrics file is not known to be best
    assert generator_path(str(tmp_path)).endswith("generator_ema.keras")
    assert "[INFO] sampling" in capsys.readouterr().out
    file = str(tmp_path / "generator.keras")
    assert generator_path(file) == file      # a file: as it is
