"""Everything a training run does besides training, hung off named moments
of the loop as Keras' callbacks are: the progress bar and log lines, the
montages, checkpoints, plots, quality metrics, TensorBoard and the stop
request.  The loop calls one HookList; each hook does one job.

Moments (epochs count from 1, batches from 0, as the log lines do):
on_train_begin(), on_epoch_begin(epoch, first_batch),
on_train_batch_end(epoch, batch, logs), on_epoch_end(epoch, logs),
on_train_end() (always, also when a hook or the step raised).  `logs`
is one dict per batch or epoch that later hooks read from earlier ones
(d_loss and g_loss from the loop, the montage images, quality numbers)."""
import os
import shlex
import sys
import time

import numpy as np

from ..errors import UserError
from ..runfiles.checkpoint import latest_checkpoint
from ..runfiles.montage import build_montage, class_rows, montage_name, write_image
from ..runfiles.outputs import (EMA_METRICS, EMA_PREFIX, GENERATOR_BEST,
                      GENERATOR_EMA_BEST, METRICS)
from .progress import EpochProgress

log = EpochProgress.log


class NonFiniteLoss(UserError):
    exit_code = 3


class BudgetSpent(Exception):
    """Raised by TimeBudget once --minutes have passed: the run ends here
    for now, its outputs written, and --resume goes on."""


class StopTraining(Exception):
    """Raised by a hook to end the loop cleanly with an exit status (a
    checkpoint is written first)."""

    def __init__(self, exit_code):
        super().__init__(exit_code)
        self.exit_code = exit_code


class Hook:
    def on_train_begin(self):
        pass

    def on_epoch_begin(self, epoch, first_batch):
        pass

    def on_train_batch_end(self, epoch, batch, logs):
        pass

    def on_epoch_end(self, epoch, logs):
        pass

    def on_train_end(self):
        pass


class HookList(Hook):
    """Calls each hook in order at each moment."""

    def __init__(self, hooks):
        self.hooks = [hook for hook in hooks if hook is not None]

    def on_train_begin(self):
        for hook in self.hooks:
            hook.on_train_begin()

    def on_epoch_begin(self, epoch, first_batch):
        for hook in self.hooks:
            hook.on_epoch_begin(epoch, first_batch)

    def on_train_batch_end(self, epoch, batch, logs):
        for hook in self.hooks:
            hook.on_train_batch_end(epoch, batch, logs)

    def on_epoch_end(self, epoch, logs):
        for hook in self.hooks:
            hook.on_epoch_end(epoch, logs)

    def on_train_end(self):
        for hook in self.hooks:
            hook.on_train_end()


# the reporting flags a resume should give again (--metrics-every N, ...):
# they are not part of the checkpoint; set by the training script
RESUME_FLAGS = ""


def resume_hint(output):
    return "resume with: python {} --output {} --resume{}".format(
        sys.argv[0], shlex.quote(output), RESUME_FLAGS)


class FiniteLosses(Hook):
    """Stop at the first non-finite loss: the checkpoints before it are
    good, the steps after it would not be."""

    def __init__(self, output, before_stop=None):
        self.output = output
        # outputs to bring up to date first (stale plots: the bad step is
        # not in the history, so they show the run up to it)
        self.before_stop = before_stop

    def on_train_batch_end(self, epoch, batch, logs):
        d_loss, g_loss = logs["d_loss"], logs["g_loss"]
        if not (np.isfinite(d_loss) and np.isfinite(g_loss)):
            if self.before_stop is not None:
                self.before_stop()
            raise NonFiniteLoss(
                "non-finite loss at step {}_{}: discriminator_loss={}, "
                "adversarial_loss={}; training stopped; last good "
                "checkpoint: {}".format(epoch, batch, d_loss, g_loss,
                                        latest_checkpoint(self.output)))


class Position(Hook):
    """Keeps where the run stands (state.epoch, state.batch) and its loss
    history, which every checkpoint holds: first of the hooks, so that
    those after it see the step just trained as done."""

    def __init__(self, state):
        self.state = state

    def on_train_batch_end(self, epoch, batch, logs):
        self.state.record(epoch, batch, logs["d_loss"], logs["g_loss"])
        self.state.batch = batch + 1

    def on_epoch_end(self, epoch, logs):
        self.state.epoch, self.state.batch = epoch, 0


class Checkpoints(Hook):
    """A checkpoint at the end of every epoch, before any other end-of-
    epoch work can fail (and when StopOnSignal asks for one)."""

    def __init__(self, options, config, trainer, state, batches_per_epoch):
        self.options, self.config = options, config
        self.trainer, self.state = trainer, state
        self.batches_per_epoch = batches_per_epoch

    def on_epoch_end(self, epoch, logs):
        self.save()

    def save(self):
        return self.state.save(self.options.output, self.trainer, self.config,
                               self.batches_per_epoch,
                               keep=self.options.keep_checkpoints)


class Progress(Hook):
    """A progress bar on a terminal, and each epoch's time as a log line:
    the steps and their montages, up to the end of the epoch's last step
    (after the montage and TensorBoard hooks), not the checkpoint.  After
    the first epoch, how long the rest takes at its steps' pace; once a
    tenth of the epochs are done, again with each epoch's outputs counted
    (checkpoint, plots, metrics) where that differs by more than REVISE
    and the line would say something else: on a small folder they can add
    half."""

    REVISE = 0.15

    def __init__(self, num_epochs, batches_per_epoch, budget=None,
                 last_epoch=None):
        self.num_epochs = num_epochs
        self.batches_per_epoch = batches_per_epoch
        self.budget = budget        # a TimeBudget: its minutes left shown
        # where this invocation stops (--pause-after), for the estimate
        self.last_epoch = last_epoch or num_epochs
        self.bar = None
        self.first_step_seconds = 0.0
        self.first_epoch = None         # this invocation's, once ended
        self.first_estimate = None      # seconds an epoch, from its steps
        self.second_begun = None        # (epoch, time) the 2nd one began
        self.revised = False

    def on_epoch_begin(self, epoch, first_batch):
        self.bar = EpochProgress(epoch, self.num_epochs,
                                 self.batches_per_epoch, first_batch)
        self.steps, self.started = 0, time.time()
        self.last_step_done = self.started
        if self.first_epoch is not None and self.second_begun is None:
            self.second_begun = (epoch, self.started)

    def on_train_batch_end(self, epoch, batch, logs):
        self.bar.update(logs["d_loss"], logs["g_loss"],
                        None if self.budget is None
                        else self.budget.minutes_left())
        self.steps += 1
        self.last_step_done = time.time()
        if self.steps == 1:         # it compiles the step: not the pace
            self.first_step_seconds = self.last_step_done - self.started

    def on_epoch_end(self, epoch, logs):
        self.close_bar()
        seconds = self.last_step_done - self.started
        log("[INFO] epoch {} took {:.1f}s ({:.1f} ms/step)".format(
            epoch, seconds, 1000 * seconds / max(self.steps, 1)))
        if epoch >= self.last_epoch:
            return
        if self.first_epoch is None:
            # the first epoch of this invocation: how long the rest will
            # take, at the pace of its steps after the first (which
            # compiles)
            self.first_epoch = epoch
            per_step = (seconds - self.first_step_seconds) / max(
                self.steps - 1, 1) if self.steps > 1 else seconds
            self.first_estimate = per_step * self.batches_per_epoch
            log("[INFO] at this pace " + self.what_is_left(
                epoch, self.first_estimate))
        elif self.second_begun is not None and not self.revised:
            self.revise(epoch)

    def revise(self, epoch):
        """Whole epochs from the second on, once a tenth of them are done:
        the same estimate with their outputs counted, if it differs."""
        begun_epoch, begun = self.second_begun
        whole = epoch - begun_epoch        # ended before this one began
        epochs = self.last_epoch - self.first_epoch + 1
        if self.budget is not None and self.first_estimate > 0:
            # as many as --minutes allows
            epochs = min(epochs, int(self.budget.minutes * 60
                                     / self.first_estimate) + 1)
        if whole < max(2, (epochs + 9) // 10):
            return
        self.revised = True
        per_epoch = (self.started - begun) / whole
        revised = self.what_is_left(epoch, per_epoch)
        if abs(per_epoch - self.first_estimate) > self.REVISE * \
                self.first_estimate and revised != self.what_is_left(
                    epoch, self.first_estimate):
            log("[INFO] with each epoch's outputs " + revised)

    def what_is_left(self, epoch, per_epoch):
        minutes = per_epoch * (self.last_epoch - epoch) / 60
        if self.budget is not None and self.budget.minutes_left() < minutes:
            return "--minutes {:g} ends the run in epoch {} of {}".format(
                self.budget.minutes, epoch + int(
                    self.budget.minutes_left() * 60 / per_epoch) + 1,
                self.num_epochs)
        return "the other {} epochs take about {:.0f} min".format(
            self.last_epoch - epoch, max(minutes, 1))

    def on_train_end(self):
        self.close_bar()

    def close_bar(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class Montages(Hook):
    """The generator on the benchmark noise, on the tutorial's schedule:
    often early on, less often later, and at the end of every epoch (and
    the averaged generator's beside it, with --ema)."""

    def __init__(self, output, trainer, benchmark_noise, batches_per_epoch):
        self.output, self.trainer = output, trainer
        self.benchmark_noise = benchmark_noise
        self.batches_per_epoch = batches_per_epoch

    def on_train_batch_end(self, epoch, batch, logs):
        name = montage_name(epoch, batch, self.batches_per_epoch)
        if name is None:
            return
        log("[INFO] Step {}_{}: discriminator_loss={:.6f}, "
            "adversarial_loss={:.6f}".format(epoch, batch, logs["d_loss"],
                                             logs["g_loss"]))
        logs["montage"] = self.write(name, ema=False)
        if self.trainer.generator_ema is not None:
            logs["ema_montage"] = self.write(EMA_PREFIX + name, ema=True)

    def at_step(self, epoch, batch):
        """The montages of a run that ends after step `batch` (--minutes),
        named as the tutorial names a step's."""
        name = "epoch_{}_step_{}.png".format(str(epoch).zfill(4),
                                             str(batch).zfill(5))
        self.write(name, ema=False)
        if self.trainer.generator_ema is not None:
            self.write(EMA_PREFIX + name, ema=True)

    def write(self, name, ema):
        """Write one montage; if that fails, stop with a way to continue."""
        if self.trainer.num_classes is None:
            image = build_montage(self.trainer.generate(self.benchmark_noise,
                                                        ema=ema))
        else:
            noise, classes, grid = class_rows(self.benchmark_noise,
                                              self.trainer.num_classes)
            image = build_montage(self.trainer.generate(
                noise, ema=ema, classes=classes), grid)
        try:
            write_image(os.path.join(self.output, name), image)
        except UserError as e:
            last = latest_checkpoint(self.output)
            raise UserError(f"{e}; then continue with --resume (from {last})"
                            if last else f"{e}; then train again") from None
        return image


class Plots(Hook):
    """losses.png and training.gif, refreshed after an epoch.  When epochs
    are short (a small folder's take a second, the plots half of that),
    only once REFRESH_RATIO times the last refresh's time has passed since
    it (at most MAX_WAIT seconds), so that they cost about a tenth of the
    run; always after this invocation's last epoch, and when --minutes
    (refresh_if_stale), a signal or a NaN loss (refresh_before_stop) ends
    it sooner.  Other failures leave them as last refreshed."""

    REFRESH_RATIO = 10
    # a slow refresh (a colour run's first reduces every montage of the GIF
    # to a palette, a resumed run's all at once) waits a minute at most
    MAX_WAIT = 60

    def __init__(self, output, state, batches_per_epoch, title, grey,
                 loss="bce", last_epoch=None):
        self.output, self.state = output, state
        self.batches_per_epoch = batches_per_epoch
        self.title, self.grey, self.loss = title, grey, loss
        self.last_epoch = last_epoch
        self.next_due = 0.0
        # a resumed run's plots show its checkpoint's steps already
        self.steps_plotted = len(state.history)

    def on_epoch_end(self, epoch, logs):
        if time.monotonic() >= self.next_due or (
                self.last_epoch is not None and epoch >= self.last_epoch):
            self.refresh()

    def refresh_if_stale(self):
        if self.steps_plotted != len(self.state.history):
            self.refresh()

    def refresh_before_stop(self):
        """refresh_if_stale for a run stopping for another reason (a
        signal, a NaN loss): a plot that cannot be written is a warning,
        not a new reason."""
        try:
            self.refresh_if_stale()
        except UserError as e:
            log(f"[WARNING] {e}")

    def refresh(self):
        from ..runfiles.plots import refresh_plots     # matplotlib: only when training
        started = time.monotonic()
        refresh_plots(self.output, self.state.history, self.batches_per_epoch,
                      self.title, grey=self.grey, loss=self.loss)
        self.steps_plotted = len(self.state.history)
        done = time.monotonic()
        self.next_due = done + min(self.REFRESH_RATIO * (done - started),
                                   self.MAX_WAIT)


class Metrics(Hook):
    """--metrics-every N: the SWD (and for Fashion-MNIST FD, KID and class
    coverage) every N epochs and at the end, for the generator and its
    average (--ema), logged, in the metrics CSVs and, with --tensorboard,
    on the board.  Whenever a generator scores its best so far, it is
    saved as generator_best.keras (generator_ema_best.keras): a GAN on
    little data gets worse if trained too long."""

    def __init__(self, evaluator, trainer, output, every, num_epochs,
                 board=None, batches_per_epoch=None):
        from ..runfiles.metrics_log import best_so_far, set_aside_other_columns
        self.evaluator, self.trainer = evaluator, trainer
        self.output, self.every, self.num_epochs = output, every, num_epochs
        self.board, self.batches_per_epoch = board, batches_per_epoch
        self.best = {}
        for ema in (False, True):
            path = os.path.join(output, EMA_METRICS if ema else METRICS)
            kept = set_aside_other_columns(path, evaluator.fields())
            if kept:
                log(f"[INFO] {path} has the columns of an older version: "
                    f"kept as {kept}, new rows go to a fresh {path}")
            # a resumed run's best so far, from the rows its checkpoint kept
            self.best[ema] = best_so_far(path)

    def due(self, epoch):
        return epoch % self.every == 0 or epoch == self.num_epochs

    def on_train_begin(self):
        fields = self.evaluator.fields()
        log(f"[INFO] quality every {self.every} epochs and at the end: SWD "
            "(x1000, lower is better)" + (", FD, KID and class coverage"
                                          if "fd" in fields else "")
            + (", and how often the classifier sees the class asked"
               if "accuracy" in fields else "")
            + "; the real-data floor is what real images score")

    def on_epoch_end(self, epoch, logs):
        if not self.due(epoch):
            return
        from ..runfiles.metrics_log import log_metrics    # TensorFlow
        generators = [(self.trainer.generator, False)]
        if self.trainer.generator_ema is not None:
            generators.append((self.trainer.generator_ema, True))
        # measured together: the real images' side of the SWD once
        results = self.evaluator.evaluate_each(
            [generator for generator, _ in generators],
            noise=self.trainer.noise)
        for (generator, ema), result in zip(generators, results):
            line, best = log_metrics(self.evaluator, result, epoch,
                                     self.output, ema, self.best[ema])
            log(line)
            if best[0] == epoch:
                self.keep_best(generator, ema, best)
            self.best[ema] = best
            if self.board:
                self.board.quality(epoch * self.batches_per_epoch, result,
                                   "ema_quality" if ema else "quality")
        if self.board:
            self.board.flush()

    def keep_best(self, generator, ema, best):
        from ..runfiles.saved import save_generator
        path = os.path.join(self.output,
                            GENERATOR_EMA_BEST if ema else GENERATOR_BEST)
        save_generator(generator, path)
        name = "FD" if "fd" in self.evaluator.fields() else "SWD"
        log(f"[INFO] best {name} so far ({best[1]:.3f}, epoch {best[0]}): "
            f"saved to {path}")


class TensorBoard(Hook):
    """--tensorboard: the losses every step and the montages as they are
    made, at the global step (Metrics adds the quality numbers)."""

    def __init__(self, board, batches_per_epoch):
        self.board, self.batches_per_epoch = board, batches_per_epoch

    def on_train_batch_end(self, epoch, batch, logs):
        step = (epoch - 1) * self.batches_per_epoch + batch + 1
        self.board.losses(step, logs["d_loss"], logs["g_loss"])
        if "montage" in logs:
            self.board.montage(step, logs["montage"])
        if "ema_montage" in logs:
            self.board.montage(step, logs["ema_montage"], "ema_montage")

    def on_epoch_end(self, epoch, logs):
        self.board.flush()

    def on_train_end(self):
        self.board.close()


class AugmentStrength(Hook):
    """--ada: the augmentation's probability p after every epoch, logged."""

    def __init__(self, augment):
        self.augment = augment

    def on_epoch_end(self, epoch, logs):
        log("[INFO] --ada: augmentation strength p={:.4f} after epoch "
            "{}".format(float(self.augment.probability), epoch))


class TimeBudget(Hook):
    """--minutes M: end the run after M minutes of training (counted from
    the first step, so loading and building do not count), at the next
    step boundary: mid-epoch with a checkpoint, a montage of that step and
    the plots (`finish(epoch, batch)`), at an epoch's end after that
    epoch's usual work.  Last of the hooks, as StopOnSignal."""

    def __init__(self, minutes, checkpoints, finish, last_epoch,
                 batches_per_epoch, finish_epoch=None):
        self.minutes, self.checkpoints, self.finish = (minutes, checkpoints,
                                                       finish)
        # what an epoch's end that stops the run still owes (stale plots)
        self.finish_epoch = finish_epoch
        # the last epoch of this invocation (--pause-after's, if sooner):
        # its end stops the run anyway
        self.last_epoch = last_epoch
        self.batches_per_epoch = batches_per_epoch
        self.deadline = None

    def on_train_begin(self):
        self.deadline = time.time() + 60 * self.minutes

    def minutes_left(self):
        return max(0.0, (self.deadline - time.time()) / 60)

    def on_train_batch_end(self, epoch, batch, logs):
        if time.time() < self.deadline or batch == self.batches_per_epoch - 1:
            return      # the epoch's end stops it, after the epoch's work
        path = self.checkpoints.save()
        self.finish(epoch, batch)
        log("[INFO] --minutes {:g} spent after step {}_{}; checkpoint saved "
            "to {}".format(self.minutes, epoch, batch, path))
        raise BudgetSpent()

    def on_epoch_end(self, epoch, logs):
        if time.time() >= self.deadline and epoch < self.last_epoch:
            if self.finish_epoch is not None:
                self.finish_epoch()
            log("[INFO] --minutes {:g} spent at the end of epoch {}".format(
                self.minutes, epoch))
            raise BudgetSpent()


class StopOnSignal(Hook):
    """Ctrl-C or SIGTERM (a StopRequest): stop at the next step boundary
    with a checkpoint, or at the end of the epoch if it is the last step;
    in the last step of the run there is nothing left to stop.  Last of
    the hooks: the step it stops after is done and recorded."""

    def __init__(self, stop, checkpoints, output, num_epochs,
                 batches_per_epoch, before_stop=None):
        self.stop, self.checkpoints, self.output = stop, checkpoints, output
        self.num_epochs = num_epochs
        self.batches_per_epoch = batches_per_epoch
        # outputs a stop should bring up to date (stale plots)
        self.before_stop = before_stop

    def on_train_batch_end(self, epoch, batch, logs):
        if self.stop.requested and batch < self.batches_per_epoch - 1:
            if self.checkpoints is None:    # a multi-worker run's worker
                log("[INFO] interrupted after step {}_{}; the chief saves "
                    "the checkpoint".format(epoch, batch))
                raise StopTraining(self.stop.exit_code)
            path = self.checkpoints.save()
            log("[INFO] interrupted after step {}_{}; checkpoint saved to "
                "{}".format(epoch, batch, path))
            log("[INFO] " + resume_hint(self.output))
            if self.before_stop is not None:
                self.before_stop()
            raise StopTraining(self.stop.exit_code)

    def on_epoch_end(self, epoch, logs):
        if not self.stop.requested:
            return
        if epoch < self.num_epochs:
            log("[INFO] interrupted at the end of epoch {}; {}".format(
                epoch, resume_hint(self.output)))
            if self.before_stop is not None:
                self.before_stop()
            raise StopTraining(self.stop.exit_code)
        log("[INFO] interrupted in the last step of the last epoch; the run "
            "is complete")
