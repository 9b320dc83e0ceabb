"""Train the PyImageSearch DCGAN on Fashion-MNIST (Keras 3 / TensorFlow 2.21).

    python dcgan_fashion_mnist.py --output output
    python dcgan_fashion_mnist.py --dataset path/to/images --output out

The tutorial's steps in order: load the data, build the generator, the
discriminator and the GAN, then train, writing montages of fixed benchmark
noise.  What this project adds (resume, Ctrl-C, checkpoints, plots,
metrics, TensorBoard) hangs off the training loop as hooks
(pyimagesearch/run/hooks.py).
"""
import os
import shlex
import sys
import time

# TensorFlow's C++ messages ("failed call to cuInit" on a machine without a
# GPU, grappler's "remapper failed") are harmless and read as errors; 3
# hides them (TF_CPP_MIN_LOG_LEVEL=0 shows them again).  The few info
# lines TensorFlow prints before its logging starts show whatever it is
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from pyimagesearch.data.datasets import (fingerprint,  # noqa: E402
                                         is_folder, load_dataset,
                                         load_labelled, title,
                                         to_unit_range)
from pyimagesearch.errors import (UserError, WorkerLost,  # noqa: E402
                                  one_line_errors)
from pyimagesearch.files import readable_name  # noqa: E402
from pyimagesearch.run import distribute, hooks  # noqa: E402
from pyimagesearch.runfiles.checkpoint import latest_checkpoint  # noqa: E402
from pyimagesearch.run.cli import (RunOptions, build_parser,  # noqa: E402
                                   check_args)
from pyimagesearch.runfiles.config import (RunConfig,  # noqa: E402
                                           SMALL_DATA_LINE, default_recipe,
                                           given_flags)
from pyimagesearch.run.interrupts import StopNow, StopRequest  # noqa: E402
from pyimagesearch.runfiles.outputs import (GENERATOR, GENERATOR_EMA,  # noqa: E402
                                       check_fresh, clear_run, lock,
                                       run_exclusion,
                                       trim_metrics)
from pyimagesearch.run.progress import EpochProgress  # noqa: E402
from pyimagesearch.run.state import RunState  # noqa: E402

log = EpochProgress.log


def train_epochs(trainer, trainImages, state, config, last_epoch, callbacks,
                 trainLabels=None):
    """The tutorial's training loop, from where `state` stands, up to
    `last_epoch`.  Everything besides training (log lines, montages,
    checkpoints, plots, metrics, the stop request) is done by `callbacks`
    at the moments named after Keras' callbacks.  trainLabels: the
    images' classes, for a conditional GAN (--conditional)."""
    BATCH_SIZE = config.batch_size
    batchesPerEpoch = int(trainImages.shape[0] / BATCH_SIZE)
    first_epoch, first_batch = state.epoch + 1, state.batch
    callbacks.on_train_begin()
    try:
        # loop over the epochs
        for epoch in range(first_epoch, last_epoch + 1):
            # show epoch information
            log("[INFO] starting epoch {} of {}...".format(epoch,
                                                           config.epochs))
            # a resumed epoch goes on after the last batch its checkpoint
            # trained; every later epoch starts at its first batch
            start = first_batch if epoch == first_epoch else 0
            callbacks.on_epoch_begin(epoch, start)
            # the images in the data's order, or with --shuffle in this
            # epoch's own order (the same again on resume)
            order = state.epoch_order(epoch, len(trainImages), config)

            # loop over the batches of this epoch
            for i in range(start, batchesPerEpoch):
                # the next batch of real images, scaled from [0, 255] to
                # [-1, 1], the generator's tanh range
                rows = slice(i * BATCH_SIZE, (i + 1) * BATCH_SIZE)
                batch = rows if order is None else order[rows]
                imageBatch = to_unit_range(trainImages[batch])
                classBatch = None if trainLabels is None else \
                    trainLabels[batch]

                # (1) update the discriminator on real and generated
                # images, then (2) update the generator through the GAN,
                # with the discriminator frozen
                discLoss, ganLoss = trainer.train_step(imageBatch, classBatch)
                callbacks.on_train_batch_end(
                    epoch, i, {"d_loss": discLoss, "g_loss": ganLoss})
            callbacks.on_epoch_end(epoch, {})
    finally:
        callbacks.on_train_end()


def run(args):
    """The flags first, then the output folder, held for this run alone.
    A multi-worker run's worker that cannot start tells the others."""
    with distribute.others_told(args):
        return checked_run(args)


def checked_run(args):
    check_args(args)
    options, given = RunOptions.from_flags(args), given_flags(args)
    if options.distribute and not options.resume:
        if given["step"] == "keras":
            raise UserError("--distribute trains every replica with the tape "
                            "step: leave out --step keras")
        given["step"] = "tape"      # recorded, as a one-device run's is
    chosen_for_a_folder = False
    if not options.resume and not given["recipe"]:
        given["recipe"] = default_recipe(given, options.distribute)
        chosen_for_a_folder = given["recipe"] == "small-data"
    hooks.RESUME_FLAGS = options.reporting_flags()
    # a multi-worker run's other workers read --output, never write it
    folder_lock = lock(options.output) if options.writes_outputs else None
    try:
        config, state = start_or_resume(options, given)
        if chosen_for_a_folder:     # said once the settings pass their checks
            log(SMALL_DATA_LINE)
        return train(options, config, state)
    finally:
        if folder_lock is not None:
            folder_lock.close()


def start_or_resume(options, given):
    """Everything that needs neither data nor TensorFlow, so that a used
    --output or a bad checkpoint fails in a second: the run's
    configuration, from the flags `given` and for a resumed run the newest
    checkpoint, and where the run stands."""
    if not options.resume:
        # --overwrite deletes them, once all checks pass
        if not options.overwrite and options.writes_outputs:
            check_fresh(options.output)
        state, config = RunState(), RunConfig.fresh(given)
    else:
        state, saved_settings = RunState.resume(options.output)
        config = RunConfig.resumed(saved_settings, given)
    config.check(options.metrics_every, memory=False,
                 resumed=options.resume)
    for flag in ("xla", "ada", "mbstd", "self_supervised"):
        if options.distribute and getattr(config, flag) not in (None, False):
            raise UserError(f"--{flag.replace('_', '-')} is for one device: "
                            "leave out --distribute" + (" (the checkpoint's run has it)"
                                              if options.resume else
                                              config.recipe_hint()))
    if options.cpu_replicas:
        distribute.check_split(config.batch_size, options.cpu_replicas,
                               options.resume)
    if options.resume and is_folder(config.dataset) and not os.path.isdir(
            config.dataset):
        raise UserError(f"the checkpoint's images were in {config.dataset}, "
                        "which is no longer a folder; put them back there to "
                        "resume")
    if config.epochs < state.epochs_begun:
        raise UserError(f"the checkpoint has already trained {state.epoch} "
                        "epochs; " + (
                            f"--epochs must be at least {state.epochs_begun}"
                            if config.kimg is None else "--kimg must be "
                            "above {:g}".format(config.kimg_of(
                                state.epochs_begun - 1))))
    # last: it builds the models without their weights (TensorFlow starts)
    config.check_memory(options.metrics_every)
    return config, state


def train(options, config, state):
    """The tutorial's steps: load the data, build the models, train, save
    the generator.  Returns the exit status."""
    if already_trained(options, config, state):
        return 0

    # TensorFlow only once the flags, the folder and the checkpoint are good
    from pyimagesearch.gan.models import build_trainer
    strategy, shared_seed = distribute.start(options, config, state, log)
    seed_and_precision(config, shared_seed)

    # load the Fashion MNIST dataset (or the one asked for) and stack the
    # training and testing data points so we have additional training data
    log(loading_line(config.dataset))
    trainImages, trainLabels, config = load_data(options, config, state)
    distribute.agree_on_data(options, strategy, config)

    # build the generator, the discriminator and the GAN: one place builds
    # them from the run's configuration (pyimagesearch/gan/models.py)
    trainer = build_trainer(config, log=log, strategy=strategy)
    if config.tip_flags():
        log("[INFO] GAN tips on: " + config.tip_flags())
    evaluator = quality_evaluator(options, config, trainImages, trainLabels)
    if state.checkpoint:
        resume_training(options, state, trainer)
    if options.overwrite and options.writes_outputs:
        clear_run(options.output)

    # randomly generate some benchmark noise so we can consistently
    # visualize how the generative modeling is learning
    log("[INFO] starting training...")
    if state.benchmark_noise is None:
        state.benchmark_noise = trainer.sample_noise(256)
    run_start, started_at = time.time(), (state.epoch, state.batch)
    status = train_until_done(options, config, trainer, trainImages,
                              trainLabels, state, evaluator)
    if status is not None:
        return status
    save_generators(options, trainer,
                    trained=(state.epoch, state.batch) != started_at,
                    minutes=(time.time() - run_start) / 60,
                    complete=state.finished(config.epochs))
    if not state.finished(config.epochs):       # --minutes spent
        log("[INFO] to train longer: python {} --output {} --resume{}".format(
            sys.argv[0], shlex.quote(options.output), hooks.RESUME_FLAGS))
    return 0


def already_trained(options, config, state):
    """Whether the run in --output has trained all its epochs and saved
    its generator(s): then there is nothing to do, and it says so."""
    gen_path = os.path.join(options.output, GENERATOR)
    ema_path = os.path.join(options.output, GENERATOR_EMA)
    if not (state.finished(config.epochs) and os.path.isfile(gen_path) and (
            config.ema is None or os.path.isfile(ema_path))):
        return False
    longer = (f"--resume --epochs N, with N above {config.epochs}"
              if config.kimg is None else "--resume --kimg N, with N above "
              "{:g}".format(config.kimg_of(config.epochs)))
    log(f"[INFO] {options.output} has already trained all "
        f"{config.epochs} epochs; nothing to do (to train longer: {longer})")
    return True


def resume_training(options, state, trainer):
    """The checkpoint's weights, optimizer state and random state into the
    trainer, and its metrics kept up to the checkpoint's epoch."""
    state.restore(trainer)
    if options.writes_outputs:
        trim_metrics(options.output, state.epoch)
    log("[INFO] resumed from {} (epoch {}, batch {})".format(
        state.checkpoint, state.epoch + 1, state.batch))
    line = distribute.replica_change_line(trainer, state)
    if line:
        log(line)


def save_generators(options, trainer, trained, minutes, complete=True):
    """generator.keras (and generator_ema.keras), from the chief alone."""
    if not options.writes_outputs:
        log("[INFO] training complete in {:.1f} min; the chief saves the "
            "generator".format(minutes))
        return
    from pyimagesearch.runfiles.saved import save_generator
    gen_path = os.path.join(options.output, GENERATOR)
    ema_path = os.path.join(options.output, GENERATOR_EMA)
    save_generator(trainer.generator, gen_path)
    if trainer.generator_ema is not None:
        save_generator(trainer.generator_ema, ema_path)
    if not trained:
        log(f"[INFO] generator saved to {gen_path} from the final "
            "checkpoint")
    else:
        log("[INFO] training {} in {:.1f} min; generator saved to "
            "{}".format("complete" if complete else "stopped", minutes,
                        gen_path))
    if trainer.generator_ema is not None:
        log(f"[INFO] averaged generator (--ema) saved to {ema_path}")


def seed_and_precision(config, shared_seed=None):
    """--seed, or the seed the workers of a multi-worker run share (then
    without deterministic ops, which only --seed asks for)."""
    import keras
    import tensorflow as tf
    if config.seed is not None:
        keras.utils.set_random_seed(config.seed)
        tf.config.experimental.enable_op_determinism()
    elif shared_seed is not None:
        keras.utils.set_random_seed(shared_seed)
    if config.mixed_precision:
        from pyimagesearch.gan.precision import enable_mixed_precision
        log("[INFO] mixed precision: {}".format(enable_mixed_precision()))


def load_data(options, config, state):
    """The training images as uint8, their classes (None unless
    --conditional), and the run's configuration completed with what they
    are (checked against the checkpoint's on resume): at least one batch,
    the checkpoint's position within an epoch, and the classifier if
    metrics are on."""
    labels = class_names = None
    if config.conditional:
        images, source, channels, labels, class_names = load_labelled(
            config.dataset, options.data_dir, config.limit,
            config.image_size, config.channels, log=log,
            exclude=run_exclusion(options.output))
    else:
        images, source, channels = load_dataset(
            config.dataset, options.data_dir, config.limit,
            config.image_size, config.channels,
            exclude=run_exclusion(options.output))
    log("[INFO] {} images from {}".format(len(images), source))
    if class_names is not None:
        log("[INFO] {} classes (--conditional {}): {}".format(
            len(class_names), config.conditional,
            ", ".join(map(readable_name, class_names))))
    config = config.for_data(len(images), fingerprint(images), channels,
                             class_names)
    if config.length_line():
        log(config.length_line())
    if config.batch_size > len(images):
        raise UserError(f"--batch-size {config.batch_size} is larger than "
                        f"the {len(images)} training images; lower it")
    if state.batch >= len(images) // config.batch_size:
        raise UserError(f"checkpoint {state.checkpoint} is damaged: it is "
                        f"at batch {state.batch} of epochs of "
                        f"{len(images) // config.batch_size}; move it away")
    if options.metrics_every and config.dataset == "fashion_mnist" and (
            config.image_size, config.channels) == (28, 1):
        from pyimagesearch.quality.evaluator import check_classifier
        check_classifier()
    return images, labels, config


def loading_line(dataset):
    if dataset == "fashion_mnist":
        return "[INFO] loading MNIST dataset..."     # the tutorial's line
    return "[INFO] loading {} dataset...".format(title(dataset))


def quality_evaluator(options, config, trainImages, trainLabels):
    """Built after the GAN: the classifier draws from Keras' seeded
    initializers, which must give the same DCGAN with or without metrics.
    The SWD compares with the run's own training images (a conditional
    generator is asked for their classes)."""
    if not options.metrics_every or not options.writes_outputs:
        return None
    from pyimagesearch.quality.evaluator import evaluator_for
    return evaluator_for(trainImages, config.dataset, options.data_dir,
                         real_labels=trainLabels)


def train_until_done(options, config, trainer, trainImages, trainLabels,
                     state, evaluator):
    """The loop with its hooks, to the last epoch (or --pause-after), with
    Ctrl-C and SIGTERM handled.  Returns None once all epochs are trained,
    else the exit status to stop with (paused, or stopped by a signal: a
    checkpoint is written first)."""
    batches_per_epoch = int(trainImages.shape[0] / config.batch_size)
    last_epoch = config.epochs if options.pause_after is None else \
        min(config.epochs, state.epoch + options.pause_after)
    try:
        with StopRequest() as stop:
            if options.distribute:
                stop = distribute.AgreedStop(stop, trainer)
            callbacks = training_hooks(options, config, trainer, state,
                                       batches_per_epoch, evaluator, stop,
                                       last_epoch)
            train_epochs(trainer, trainImages, state, config, last_epoch,
                         callbacks, trainLabels)
    except hooks.StopTraining as stopped:
        return stopped.exit_code
    except hooks.BudgetSpent:
        return None
    except StopNow as stopped:
        return stopped_at_once(options.output, stopped.signum)
    except WorkerLost as failed:
        last = latest_checkpoint(options.output)
        failed.args = (f"{failed}; " + (
            f"last good checkpoint: {last}; start every worker again with "
            "--resume" if last else "no checkpoint yet: start every worker "
            "again"),)
        raise
    if last_epoch < config.epochs:
        log("[INFO] paused after epoch {} of {}; continue with: python {} "
              "--output {} --resume{}".format(
                  last_epoch, config.epochs, sys.argv[0],
                  shlex.quote(options.output), hooks.RESUME_FLAGS))
        return 0
    return None


def training_hooks(options, config, trainer, state, batches_per_epoch,
                   evaluator, stop, last_epoch=None):
    """The work besides training, in the order it happens at each moment:
    a bad loss stops the run before it is recorded; the position is kept
    before anything reads it; the checkpoint comes before any other
    end-of-epoch work can fail; the montages before TensorBoard shows them
    and before the epoch's time is taken; the stop request last."""
    output, board = options.output, None
    last_epoch = last_epoch or config.epochs    # this invocation's last
    if not options.writes_outputs:
        return hooks.HookList([
            hooks.FiniteLosses(output), hooks.Position(state),
            hooks.Progress(config.epochs, batches_per_epoch,
                           last_epoch=last_epoch),
            hooks.StopOnSignal(stop, None, output, config.epochs,
                               batches_per_epoch)])
    if options.tensorboard:
        from pyimagesearch.run.board import Board
        board = Board(output)
    checkpoints = hooks.Checkpoints(options, config, trainer, state,
                                    batches_per_epoch)
    montages = hooks.Montages(output, trainer, state.benchmark_noise,
                              batches_per_epoch)
    plots = hooks.Plots(output, state, batches_per_epoch,
                        title(config.dataset), grey=config.channels == 1,
                        loss=config.loss, last_epoch=last_epoch)
    budget = None
    if options.minutes:
        budget = hooks.TimeBudget(
            options.minutes, checkpoints,
            lambda epoch, batch: (montages.at_step(epoch, batch),
                                  plots.refresh()),
            last_epoch, batches_per_epoch, plots.refresh_if_stale)
    metrics = None
    if evaluator is not None:
        metrics = hooks.Metrics(evaluator, trainer, output,
                                options.metrics_every, config.epochs, board,
                                batches_per_epoch)
    return hooks.HookList([
        hooks.FiniteLosses(output, plots.refresh_before_stop),
        hooks.Position(state),
        checkpoints,
        montages,
        hooks.TensorBoard(board, batches_per_epoch) if board else None,
        hooks.Progress(config.epochs, batches_per_epoch, budget, last_epoch),
        hooks.AugmentStrength(trainer.augment) if config.ada else None,
        plots,
        metrics,
        hooks.StopOnSignal(stop, checkpoints, output, config.epochs,
                           batches_per_epoch, plots.refresh_before_stop),
        budget,
    ])


def stopped_at_once(output, signum):
    """A second Ctrl-C/SIGTERM: stop now, from wherever the run was."""
    last = latest_checkpoint(output)
    print()         # off the line the interrupted output was on
    log("[INFO] stopped at once by a second signal; " + (
        f"last good checkpoint: {last}; {hooks.resume_hint(output)}" if last
        else "no checkpoint yet: nothing to resume from this run"))
    return 128 + signum


@one_line_errors
def main(argv=None):
    args = build_parser().parse_args(argv)
    if hasattr(sys.stdout, "reconfigure"):   # not in Jupyter or IDE streams
        sys.stdout.reconfigure(line_buffering=True)  # logs as they happen
    try:
        return run(args)
    except KeyboardInterrupt:   # outside the training loop's own handling
        last = latest_checkpoint(args.output)
        print()
        log("[INFO] interrupted; " + (
            f"the newest checkpoint is {last}; "
            f"{hooks.resume_hint(args.output)}" if last
            else "nothing to resume from this run"))
        return 130


if __name__ == "__main__":
    sys.exit(main())
