"""The hooks the training loop calls, each on its own with stand-ins for
the trainer, the stop request and the board."""
import os
import numpy as np
import pytest

from pyimagesearch.run import hooks
from pyimagesearch.run.state import RunState


class Recorder(hooks.Hook):
    def __init__(self, name, calls):
        self.name, self.calls = name, calls

    def on_epoch_begin(self, epoch, first_batch):
        self.calls.append((self.name, "begin", epoch, first_batch))

    def on_train_batch_end(self, epoch, batch, logs):
        self.calls.append((self.name, "batch", epoch, batch))
        logs[self.name] = True          # later hooks see earlier hooks' logs


def test_hooklist_calls_in_order_and_skips_none():
    calls = []
    first, second = Recorder("a", calls), Recorder("b", calls)
    hook_list = hooks.HookList([first, None, second])
    assert hook_list.hooks == [first, second]
    hook_list.on_epoch_begin(1, 0)
    logs = {}
    hook_list.on_train_batch_end(1, 0, logs)
    hook_list.on_epoch_end(1, {})          # Hook's default: nothing
    assert calls == [("a", "begin", 1, 0), ("b", "begin", 1, 0),
                     ("a", "batch", 1, 0), ("b", "batch", 1, 0)]
    assert logs == {"a": True, "b": True}


def test_position_keeps_where_the_run_stands():
    state = RunState()
    position = hooks.Position(state)
    position.on_train_batch_end(1, 0, {"d_loss": 0.5, "g_loss": 0.7})
    position.on_train_batch_end(1, 1, {"d_loss": 0.4, "g_loss": 0.8})
    assert (state.epoch, state.batch) == (0, 2)
    position.on_epoch_end(1, {})
    assert (state.epoch, state.batch) == (1, 0)
    assert state.history == [(1, 0, 0.5, 0.7), (1, 1, 0.4, 0.8)]


@pytest.mark.parametrize("d_loss,g_loss", [(np.nan, 0.5), (0.5, np.inf)])
def test_a_non_finite_loss_stops_with_exit_status_3(tmp_path, d_loss,
                                                    g_loss):
    check = hooks.FiniteLosses(str(tmp_path))
    check.on_train_batch_end(1, 0, {"d_loss": 0.5, "g_loss": 0.5})
    with pytest.raises(hooks.NonFiniteLoss, match="non-finite loss at step "
                       "2_7") as info:
        check.on_train_batch_end(2, 7, {"d_loss": d_loss, "g_loss": g_loss})
    assert info.value.exit_code == 3
    # the plots are brought up to the last good step first
    finished = []
    check = hooks.FiniteLosses(str(tmp_path), lambda: finished.append(1))
    check.on_train_batch_end(1, 0, {"d_loss": 0.5, "g_loss": 0.5})
    assert finished == []
    with pytest.raises(hooks.NonFiniteLoss):
        check.on_train_batch_end(2, 7, {"d_loss": d_loss, "g_loss": g_loss})
    assert finished == [1]


class FakeStop:
    def __init__(self, signum=None):
        self.requested, self.exit_code = signum is not None, 128 + (
            signum or 0)


class FakeCheckpoints:
    def __init__(self):
        self.saved = 0

    def save(self):
        self.saved += 1
        return "ckpt.npz"


def test_a_stop_request_ends_at_the_next_step_with_a_checkpoint(capsys):
    checkpoints = FakeCheckpoints()
    stop = hooks.StopOnSignal(FakeStop(15), checkpoints, "out", 5, 10)
    with pytest.raises(hooks.StopTraining) as info:
        stop.on_train_batch_end(2, 3, {})
    assert info.value.exit_code == 143 and checkpoints.saved == 1
    out = capsys.readouterr().out
    assert "interrupted after step 2_3; checkpoint saved to ckpt.npz" in out
    # in the epoch's last step, the end of the epoch writes the checkpoint
    stop.on_train_batch_end(2, 9, {})
    with pytest.raises(hooks.StopTraining):
        stop.on_epoch_end(2, {})
    assert checkpoints.saved == 1
    # in the run's last step there is nothing left to stop
    stop.on_epoch_end(5, {})
    assert "the run is complete" in capsys.readouterr().out
    # no request: nothing happens
    quiet = hooks.StopOnSignal(FakeStop(), checkpoints, "out", 5, 10)
    quiet.on_train_batch_end(1, 0, {})
    quiet.on_epoch_end(1, {})


def test_a_spent_time_budget_ends_at_a_step_or_after_the_epoch(
        capsys, monkeypatch):
    checkpoints, finished = FakeCheckpoints(), []
    clock = [1000.0]
    monkeypatch.setattr(hooks.time, "time", lambda: clock[0])
    budget = hooks.TimeBudget(2, checkpoints,
                              lambda epoch, batch: finished.append(
                                  (epoch, batch)), 5, 10)
    budget.on_train_begin()
    assert budget.minutes_left() == 2
    budget.on_train_batch_end(1, 0, {})        # time left: nothing
    clock[0] += 119
    assert budget.minutes_left() == pytest.approx(1 / 60)
    budget.on_epoch_end(1, {})
    clock[0] += 1                               # spent, mid-epoch
    with pytest.raises(hooks.BudgetSpent):
        budget.on_train_batch_end(2, 3, {})
    assert (checkpoints.saved, finished) == (1, [(2, 3)])
    assert "--minutes 2 spent after step 2_3; checkpoint saved to " \
        "ckpt.npz" in capsys.readouterr().out
    # spent in an epoch's last step: the epoch's end stops it, after its
    # own checkpoint and outputs
    budget.on_train_batch_end(2, 9, {})
    with pytest.raises(hooks.BudgetSpent):
        budget.on_epoch_end(2, {})
    assert checkpoints.saved == 1
    budget.on_epoch_end(5, {})                  # the run's end: complete
    assert budget.minutes_left() == 0
    # --pause-after's last epoch: the pause stops it, not the budget
    paused = hooks.TimeBudget(2, checkpoints, None, 3, 10)
    paused.on_train_begin()
    clock[0] += 500
    paused.on_epoch_end(3, {})
    with pytest.raises(hooks.BudgetSpent):
        paused.on_epoch_end(2, {})


def run_epochs(progress, clock, numbers, steps, outputs=0.0):
    """Epochs of 10 steps taking `steps` seconds on the fake clock, and
    then `outputs` seconds of end-of-epoch work after the progress bar."""
    for number in numbers:
        progress.on_epoch_begin(number, 0)
        for batch in range(10):
            clock[0] += steps / 10
            progress.on_train_batch_end(number, batch, {"d_loss": 1.0,
                                                        "g_loss": 1.0})
        progress.on_epoch_end(number, {})
        clock[0] += outputs


def test_the_first_epoch_says_how_long_the_rest_takes(capsys, monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(hooks.time, "time", lambda: clock[0])

    def epoch(progress, number, seconds):
        run_epochs(progress, clock, [number], seconds)

    progress = hooks.Progress(21, 10)
    epoch(progress, 1, 30.0)
    epoch(progress, 2, 30.0)
    lines = capsys.readouterr().out.splitlines()
    assert "[INFO] at this pace the other 20 epochs take about 10 min" in \
        lines
    assert sum("at this pace" in line for line in lines) == 1
    # --pause-after 3: this invocation's other 2 epochs; the first step
    # (compiling) left out of the pace
    paused = hooks.Progress(21, 10, last_epoch=3)
    paused.on_epoch_begin(1, 0)
    for batch in range(10):
        clock[0] += 30.0 if batch == 0 else 3.0
        paused.on_train_batch_end(1, batch, {"d_loss": 1.0, "g_loss": 1.0})
    paused.on_epoch_end(1, {})
    assert "[INFO] at this pace the other 2 epochs take about 1 min" in \
        capsys.readouterr().out
    # with --minutes shorter than that: in which epoch it will stop
    budget = hooks.TimeBudget(2.1, None, None, 21, 10)
    budget.on_train_begin()
    limited = hooks.Progress(21, 10, budget)
    epoch(limited, 1, 30.0)
    assert "[INFO] at this pace --minutes 2.1 ends the run in epoch 5 of 21" \
        in capsys.readouterr().out


def test_a_tenth_in_the_estimate_counts_each_epochs_outputs(capsys,
                                                            monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(hooks.time, "time", lambda: clock[0])

    def epochs(progress, numbers, steps, outputs):
        run_epochs(progress, clock, numbers, steps, outputs)

    # a small folder's: as much time in each epoch's outputs as in steps
    progress = hooks.Progress(41, 10)
    epochs(progress, [1], 10.0, 10.0)
    assert "[INFO] at this pace the other 40 epochs take about 7 min" in \
        capsys.readouterr().out
    epochs(progress, range(2, 6), 10.0, 10.0)   # 5 whole epochs: 3 measured
    assert "each epoch's outputs" not in capsys.readouterr().out
    epochs(progress, range(6, 12), 10.0, 10.0)
    lines = capsys.readouterr().out.splitlines()
    # once, after epoch 7 (a tenth of 41 epochs, rounded up, whole):
    # epochs 2-6 took 20 s each, 34 left
    assert [line for line in lines if "outputs" in line] == [
        "[INFO] with each epoch's outputs the other 34 epochs take about "
        "11 min"]
    # with --minutes: where the run will stop, at the whole epochs' pace
    budget = hooks.TimeBudget(3, None, None, 41, 10)
    budget.on_train_begin()
    limited = hooks.Progress(41, 10, budget)
    epochs(limited, range(1, 7), 10.0, 10.0)
    out = capsys.readouterr().out
    assert "[INFO] at this pace --minutes 3 ends the run in epoch 19 of 41" \
        in out
    assert "[INFO] with each epoch's outputs --minutes 3 ends the run in " \
        "epoch 10 of 41" in out
    # --minutes 2: 13 epochs at the first estimate's pace, so the line
    # comes after a tenth of those (2 whole epochs), not of the run's 41
    budget = hooks.TimeBudget(2, None, None, 41, 10)
    budget.on_train_begin()
    short = hooks.Progress(41, 10, budget)
    epochs(short, range(1, 5), 10.0, 10.0)
    assert "[INFO] with each epoch's outputs --minutes 2 ends the run in " \
        "epoch 7 of 41" in capsys.readouterr().out
    # steps too quick for the clock to see: no division by their time
    frozen = hooks.Progress(41, 10, budget)
    epochs(frozen, range(1, 12), 0.0, 0.0)
    capsys.readouterr()
    # no second line where the outputs add little (Fashion-MNIST's
    # epochs), nor where the line would say the same ("about 1 min")
    for steps, outputs in ((10.0, 1.0), (1.0, 1.0)):
        again = hooks.Progress(41, 10)
        epochs(again, range(1, 12), steps, outputs)
        assert "outputs" not in capsys.readouterr().out


def test_the_progress_bar_shows_the_time_left(capsys):
    from pyimagesearch.run.progress import EpochProgress
    bar = EpochProgress(3, 50, 10, enabled=True)
    bar.update(0.5, 0.25, minutes_left=12.34)
    bar.bar.refresh()
    shown = capsys.readouterr().err
    assert "left=12.3min" in shown and "d_loss=0.5000" in shown
    bar.close()


class FakeBoard:
    def __init__(self):
        self.events = []

    def losses(self, step, d_loss, g_loss):
        self.events.append(("losses", step))

    def montage(self, step, image, tag="montage"):
        self.events.append((tag, step))

    def quality(self, step, result, prefix):
        self.events.append((prefix, step))

    def flush(self):
        self.events.append(("flush",))


def test_tensorboard_writes_at_the_global_step():
    board = FakeBoard()
    hook = hooks.TensorBoard(board, 30)
    hook.on_train_batch_end(2, 4, {"d_loss": 1, "g_loss": 2})
    hook.on_train_batch_end(2, 5, {"d_loss": 1, "g_loss": 2, "montage": 0,
                                   "ema_montage": 0})
    hook.on_epoch_end(2, {})
    assert board.events == [("losses", 35), ("losses", 36), ("montage", 36),
                            ("ema_montage", 36), ("flush",)]


def test_metrics_are_due_every_n_epochs_and_at_the_end(tmp_path):
    metrics = hooks.Metrics(ScriptedEvaluator([]), None, str(tmp_path),
                            every=3, num_epochs=10)
    assert [epoch for epoch in range(1, 11) if metrics.due(epoch)] == \
        [3, 6, 9, 10]
    metrics.on_epoch_end(4, {})         # not due: nothing is measured


def test_progress_times_the_steps_not_the_end_of_epoch_work(
        capsys, monkeypatch):
    clock = iter([100.0, 101.0, 103.0])
    monkeypatch.setattr(hooks.time, "time", lambda: next(clock))
    progress = hooks.Progress(num_epochs=4, batches_per_epoch=2)
    progress.on_epoch_begin(1, 0)
    progress.on_train_batch_end(1, 0, {"d_loss": 1.0, "g_loss": 1.0})
    progress.on_train_batch_end(1, 1, {"d_loss": 1.0, "g_loss": 1.0})
    progress.on_epoch_end(1, {})        # no clock read left: not timed here
    assert "[INFO] epoch 1 took 3.0s (1500.0 ms/step)" in \
        capsys.readouterr().out


class ScriptedEvaluator:
    """SWD numbers in a given order, as an evaluator of any data gives."""

    def __init__(self, numbers):
        self.numbers = list(numbers)

    def fields(self):
        return ["epoch", "swd", "swd_16", "best_epoch"]

    def floor(self):
        return {"swd": 1.0, "swd_levels": {16: 1.0}}

    def evaluate_each(self, generators, noise="uniform"):
        numbers = [self.numbers.pop(0) for _ in generators]
        return [{"swd": number, "swd_levels": {16: number}}
                for number in numbers]


class Trainer:
    generator, generator_ema, noise = "G", None, "uniform"


def test_the_best_generator_is_kept_and_a_resume_knows_its_best(
        tmp_path, monkeypatch, capsys):
    from pyimagesearch.runfiles import saved
    kept = []
    monkeypatch.setattr(saved, "save_generator",
                        lambda generator, path: kept.append(path))
    out = str(tmp_path)
    metrics = hooks.Metrics(ScriptedEvaluator([50, 30, 40, 20]), Trainer(),
                            out, every=1, num_epochs=6)
    metrics.on_train_begin()
    for epoch in (1, 2, 3):
        metrics.on_epoch_end(epoch, {})
    best = os.path.join(out, "generator_best.keras")
    assert kept == [best, best]                 # epochs 1 and 2, not 3
    log = capsys.readouterr().out
    assert "SWD (x1000, lower is better)" in log
    assert "[INFO] best SWD so far (30.000, epoch 2): saved to" in log
    with open(os.path.join(out, "metrics.csv")) as f:
        rows = [line.split(",") for line in f.read().splitlines()]
    assert [row[-1] for row in rows] == ["best_epoch", "", "1", "2", "2"]
    # resumed: the best so far comes from the rows the checkpoint kept
    resumed = hooks.Metrics(ScriptedEvaluator([35, 25]), Trainer(), out,
                            every=1, num_epochs=6)
    assert resumed.best[False] == (2, 30.0)
    resumed.on_epoch_end(4, {})                 # 35: no better
    resumed.on_epoch_end(5, {})                 # 25: the best
    assert kept == [best] * 3


def test_g_and_its_average_are_measured_together(tmp_path, monkeypatch):
    from pyimagesearch.runfiles import saved
    monkeypatch.setattr(saved, "save_generator", lambda generator, path: 0)
    evaluator = ScriptedEvaluator([50, 40])
    calls = []
    measure = evaluator.evaluate_each
    evaluator.evaluate_each = lambda generators, noise: calls.append(
        generators) or measure(generators, noise)
    trainer = Trainer()
    trainer.generator_ema = "average"
    metrics = hooks.Metrics(evaluator, trainer, str(tmp_path), every=1,
                            num_epochs=2)
    metrics.on_epoch_end(1, {})
    assert calls == [["G", "average"]]          # one call for both
    for name, number in (("metrics.csv", "50"), ("ema_metrics.csv", "40")):
        with open(tmp_path / name) as f:
            assert f.read().splitlines()[-1].split(",")[:2] == ["1", number]
    assert metrics.best == {False: (1, 50.0), True: (1, 40.0)}


def test_an_older_metrics_file_is_set_aside_not_mixed(tmp_path, capsys):
    old = tmp_path / "metrics.csv"
    old.write_text("epoch,fd,kid\r\nreal-data floor,0.05,0.001\r\n1,30,2\r\n")
    metrics = hooks.Metrics(ScriptedEvaluator([]), Trainer(), str(tmp_path),
                            every=1, num_epochs=2)
    assert not old.exists()
    kept = tmp_path / "metrics_old_columns.csv"
    assert kept.read_text().startswith("epoch,fd,kid")
    assert metrics.best[False] is None
    assert "kept as" in capsys.readouterr().out


def test_the_resume_hint_repeats_how_the_run_reports(monkeypatch):
    from pyimagesearch.run import cli
    options = cli.RunOptions(output="o", metrics_every=2, tensorboard=True)
    assert options.reporting_flags() == " --metrics-every 2 --tensorboard"
    assert cli.RunOptions(output="o").reporting_flags() == ""
    monkeypatch.setattr(hooks, "RESUME_FLAGS", options.reporting_flags())
    assert hooks.resume_hint("my out").endswith(
        "--output 'my out' --resume --metrics-every 2 --tensorboard")


def test_short_epochs_refresh_the_plots_at_most_a_tenth_of_the_time(
        monkeypatch):
    from pyimagesearch.runfiles import plots as plot_files
    clock, refreshed = [0.0], []

    def refresh_plots(output, history, *args, **kwargs):
        refreshed.append(len(history))
        clock[0] += 0.5                         # a refresh takes 0.5 s

    monkeypatch.setattr(hooks.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(plot_files, "refresh_plots", refresh_plots)
    state = RunState()
    plots = hooks.Plots("out", state, 10, "x", grey=True, last_epoch=30)
    for epoch in range(1, 31):                  # epochs of 1 s of steps
        clock[0] += 1.0
        state.history.extend([(epoch, batch, 1.0, 1.0)
                              for batch in range(10)])
        plots.on_epoch_end(epoch, {})
    # after each refresh, the next once 10 x 0.5 s have passed; the last
    # epoch always
    assert refreshed == [10, 60, 110, 160, 210, 260, 300]
    plots.refresh_if_stale()                    # up to date: nothing
    assert len(refreshed) == 7
    state.history.append((31, 0, 1.0, 1.0))     # a step into the next
    plots.refresh_if_stale()
    assert refreshed[-1] == 301
    # a slow refresh (the first imports matplotlib) waits a minute at most
    clock[0] += 1.0
    state.history.append((31, 1, 1.0, 1.0))
    monkeypatch.setattr(plot_files, "refresh_plots",
                        lambda *args, **kwargs: clock.__setitem__(
                            0, clock[0] + 30))
    plots.refresh()
    assert plots.next_due == clock[0] + 60
    # epochs longer than a tenth of the refresh: every epoch, as before
    long_epochs = hooks.Plots("out", state, 10, "x", grey=True,
                              last_epoch=30)
    monkeypatch.setattr(plot_files, "refresh_plots", refresh_plots)
    refreshed.clear()
    for epoch in range(1, 4):
        clock[0] += 6.0
        long_epochs.on_epoch_end(epoch, {})
    assert len(refreshed) == 3


def test_plots_that_cannot_be_written_do_not_change_why_a_run_stops(
        monkeypatch, capsys):
    from pyimagesearch.errors import UserError
    from pyimagesearch.runfiles import plots as plot_files

    def refresh_plots(*args, **kwargs):
        raise UserError("could not write the plots in out (disk full)")

    monkeypatch.setattr(plot_files, "refresh_plots", refresh_plots)
    # a resumed run's plots already show its checkpoint's steps
    state = RunState(history=[(1, 0, 1.0, 1.0)])
    plots = hooks.Plots("out", state, 10, "x", grey=True, last_epoch=5)
    plots.refresh_before_stop()          # nothing new: nothing written
    assert capsys.readouterr().out == ""
    state.history.append((1, 1, 1.0, 1.0))
    plots.refresh_before_stop()          # a warning, not an error
    assert "[WARNING] could not write the plots in out (disk full)" in \
        capsys.readouterr().out
    with pytest.raises(UserError):       # at an epoch's end: an error
        plots.on_epoch_end(1, {})


def test_a_stop_brings_stale_outputs_up_to_date(monkeypatch):
    finished = []
    stop = hooks.StopOnSignal(FakeStop(2), FakeCheckpoints(), "out", 5, 10,
                              before_stop=lambda: finished.append("plots"))
    with pytest.raises(hooks.StopTraining):
        stop.on_train_batch_end(2, 3, {})       # mid-epoch
    with pytest.raises(hooks.StopTraining):
        stop.on_epoch_end(2, {})                # at an epoch's end
    assert finished == ["plots", "plots"]
    clock = [0.0]
    monkeypatch.setattr(hooks.time, "time", lambda: clock[0])
    budget = hooks.TimeBudget(1, FakeCheckpoints(), None, 5, 10,
                              finish_epoch=lambda: finished.append("budget"))
    budget.on_train_begin()
    budget.on_epoch_end(1, {})                  # time left: nothing owed
    clock[0] += 60
    with pytest.raises(hooks.BudgetSpent):
        budget.on_epoch_end(2, {})
    assert finished == ["plots", "plots", "budget"]
