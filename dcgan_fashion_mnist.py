"""Train the PyImageSearch DCGAN on Fashion-MNIST (Keras 3 / TensorFlow 2.16+).

    python dcgan_fashion_mnist.py --output output
    python dcgan_fashion_mnist.py --dataset path/to/images --output out

The tutorial's steps in order: load the data, build the generator, the
discriminator and the GAN, then train, writing montages of fixed benchmark
noise.  What this project adds (resume, Ctrl-C, checkpoints, plots,
metrics) is one call each, into pyimagesearch/.
"""
import os
import sys
import time

# TensorFlow's C++ INFO/WARNING chatter buries the [INFO] lines; set
# TF_CPP_MIN_LOG_LEVEL=0 to see it again
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pyimagesearch import settings as cli  # noqa: E402
from pyimagesearch.datasets import is_folder  # noqa: E402
from pyimagesearch.errors import UserError, one_line_errors  # noqa: E402
from pyimagesearch.interrupts import StopNow, StopRequest  # noqa: E402
from pyimagesearch.outputs import (GENERATOR, GENERATOR_EMA,  # noqa: E402
                                   check_fresh, clear_run, lock,
                                   trim_metrics)
from pyimagesearch.runstate import RunState  # noqa: E402


class NonFiniteLoss(UserError):
    exit_code = 3


def run(args):
    """The flags first, then the output folder, held for this run alone."""
    cli.check_args(args)
    folder_lock = lock(args.output)
    try:
        return train(args)
    finally:
        folder_lock.close()


def start_or_resume(args):
    """Everything that needs neither data nor TensorFlow, so that a used
    --output or a bad checkpoint fails in a second: the run's state, fresh
    or read from the newest checkpoint."""
    if not args.resume:
        if not args.overwrite:     # which deletes them, once all checks pass
            check_fresh(args.output)
        state = RunState(cli.resolve_settings(args))
    else:
        state = RunState.resume(args.output)
        # the flags given, else the checkpoint's; its data fingerprint stays
        state.settings.update(cli.resolve_settings(args, state.settings))
    cli.check_settings(state.settings, args.metrics_every)
    dataset = state.settings["dataset"]
    if args.resume and is_folder(dataset) and not os.path.isdir(dataset):
        raise UserError(f"the checkpoint's images were in {dataset}, which is "
                        "no longer a folder; put them back there to resume")
    if state.settings["epochs"] < state.epochs_begun:
        raise UserError(f"the checkpoint has already trained {state.epoch} "
                        f"epochs; --epochs must be at least "
                        f"{state.epochs_begun}")
    return state


def train(args):
    state = start_or_resume(args)
    settings = state.settings
    NUM_EPOCHS = settings["epochs"]
    gen_path = os.path.join(args.output, GENERATOR)
    ema_path = os.path.join(args.output, GENERATOR_EMA)
    if state.finished(NUM_EPOCHS) and os.path.isfile(gen_path) and (
            settings["ema"] is None or os.path.isfile(ema_path)):
        print(f"[INFO] {args.output} has already trained all {NUM_EPOCHS} "
              "epochs; nothing to do (to train longer: --resume --epochs N, "
              f"with N above {NUM_EPOCHS})")
        return 0

    # heavy imports only once the flags are known to be good
    import keras
    import tensorflow as tf
    from pyimagesearch.checkpoint import save_generator
    from pyimagesearch.dcgan import DCGAN
    from pyimagesearch.training import GANTrainer

    if settings["seed"] is not None:
        keras.utils.set_random_seed(settings["seed"])
        tf.config.experimental.enable_op_determinism()
    if settings["mixed_precision"]:
        from pyimagesearch.precision import enable_mixed_precision
        print("[INFO] mixed precision: {}".format(enable_mixed_precision()))

    # load the Fashion MNIST dataset (or the one asked for) and stack the
    # training and testing data points so we have additional training data
    print(loading_line(settings["dataset"]))
    trainImages = load_data(args, state)
    size, channels = settings["image_size"], settings["channels"]

    # build the generator: two upsamplings from size/4 to size
    print("[INFO] building generator...")
    gen = DCGAN.build_generator(size // 4, 64, channels=channels)

    # build the discriminator
    print("[INFO] building discriminator...")
    disc = DCGAN.build_discriminator(size, size, channels,
                                     dropout=settings["disc_dropout"])
    if settings["mixed_precision"]:
        from pyimagesearch.precision import float32_output
        float32_output(gen)
        float32_output(disc)

    # build the adversarial model: D is frozen inside the GAN step only
    print("[INFO] building GAN...")
    trainer = GANTrainer(gen, disc, NUM_EPOCHS,
                         shared_optimizer=settings["shared_optimizer"],
                         **{key: settings[key] for key in cli.TIPS
                            if key != "disc_dropout"})
    if cli.tip_flags(settings):
        print("[INFO] GAN tips on: " + cli.tip_flags(settings))
    evaluator = quality_evaluator(args)

    if state.checkpoint:
        state.restore(trainer)
        trim_metrics(args.output, state.epoch)
        print("[INFO] resumed from {} (epoch {}, batch {})".format(
            state.checkpoint, state.epoch + 1, state.batch))
    if args.overwrite:
        clear_run(args.output)

    # randomly generate some benchmark noise so we can consistently
    # visualize how the generative modeling is learning
    print("[INFO] starting training...")
    if state.benchmark_noise is None:
        state.benchmark_noise = trainer.sample_noise(256)

    run_start, first_epoch = time.time(), state.epoch
    board = tensorboard(args)
    try:
        status = train_epochs(args, trainer, trainImages, state, evaluator,
                              board)
    finally:
        if board:
            board.close()
    if status is not None:
        return status
    save_generator(gen, gen_path)
    if trainer.generator_ema is not None:
        save_generator(trainer.generator_ema, ema_path)
    if state.epoch == first_epoch:
        print(f"[INFO] generator saved to {gen_path} from the final "
              "checkpoint")
    else:
        print("[INFO] training complete in {:.1f} min; generator saved to "
              "{}".format((time.time() - run_start) / 60, gen_path))
    if trainer.generator_ema is not None:
        print(f"[INFO] averaged generator (--ema) saved to {ema_path}")
    return 0


def load_data(args, state):
    """The training images as uint8, checked against the run: the
    checkpoint's data on resume, at least one batch, and the classifier if
    metrics are on.  Records their size and channels in the settings."""
    from pyimagesearch.data import fingerprint
    from pyimagesearch.datasets import load_dataset
    settings = state.settings
    images, source, channels = load_dataset(
        settings["dataset"], args.data_dir, settings["limit"],
        settings["image_size"], settings["channels"])
    print("[INFO] {} images from {}".format(len(images), source))
    data_sha1 = fingerprint(images)
    state.check_data(len(images), data_sha1)
    settings.update(num_images=len(images), data_sha1=data_sha1,
                    image_size=images.shape[1], channels=channels)
    if settings["batch_size"] > len(images):
        raise UserError(f"--batch-size {settings['batch_size']} is larger "
                        f"than the {len(images)} training images; lower it")
    if args.metrics_every:
        from pyimagesearch.quality import check_classifier
        check_classifier()
    return images


def loading_line(dataset):
    from pyimagesearch.datasets import title
    if dataset == "fashion_mnist":
        return "[INFO] loading MNIST dataset..."     # the tutorial's line
    return "[INFO] loading {} dataset...".format(title(dataset))


def quality_evaluator(args):
    """Built after the GAN: the classifier draws from Keras' seeded
    initializers, which must give the same DCGAN with or without metrics."""
    if not args.metrics_every:
        return None
    from pyimagesearch.quality import QualityEvaluator
    return QualityEvaluator(args.data_dir)


def tensorboard(args):
    if not args.tensorboard:
        return None
    from pyimagesearch.board import Board
    return Board(args.output)


def train_epochs(args, trainer, trainImages, state, evaluator, board=None):
    """The tutorial's training loop, from where `state` stands.  Returns
    None once all epochs are trained, else the exit status to stop with
    (paused, or stopped by a signal: a checkpoint is written first)."""
    import numpy as np
    from pyimagesearch.data import to_unit_range
    from pyimagesearch.montage import build_montage, montage_name
    from pyimagesearch.outputs import EMA_PREFIX
    from pyimagesearch.progress import EpochProgress

    log = EpochProgress.log
    NUM_EPOCHS = state.settings["epochs"]
    BATCH_SIZE = state.settings["batch_size"]
    batchesPerEpoch = int(trainImages.shape[0] / BATCH_SIZE)
    last_epoch = NUM_EPOCHS if args.pause_after is None else \
        min(NUM_EPOCHS, state.epoch + args.pause_after)
    try:
        with StopRequest() as stop:
            for epoch in range(state.epoch, last_epoch):
                # show epoch information
                log("[INFO] starting epoch {} of {}...".format(
                    epoch + 1, NUM_EPOCHS))
                progress = EpochProgress(epoch + 1, NUM_EPOCHS,
                                         batchesPerEpoch, state.batch)
                epoch_start, first = time.time(), state.batch
                for i in range(first, batchesPerEpoch):
                    imageBatch = to_unit_range(
                        trainImages[i * BATCH_SIZE:(i + 1) * BATCH_SIZE])
                    discLoss, ganLoss = trainer.train_step(imageBatch)
                    if not (np.isfinite(discLoss) and np.isfinite(ganLoss)):
                        progress.close()
                        raise non_finite(args.output, epoch + 1, i,
                                         discLoss, ganLoss)
                    state.record(epoch + 1, i, discLoss, ganLoss)
                    state.batch = i + 1
                    progress.update(discLoss, ganLoss)
                    step = epoch * batchesPerEpoch + i + 1
                    if board:
                        board.losses(step, discLoss, ganLoss)

                    # visualize the generator on the benchmark noise: often
                    # early on, less often later, and at the end of an epoch
                    name = montage_name(epoch + 1, i, batchesPerEpoch)
                    if name is not None:
                        log("[INFO] Step {}_{}: discriminator_loss={:.6f}, "
                            "adversarial_loss={:.6f}".format(
                                epoch + 1, i, discLoss, ganLoss))
                        vis = build_montage(
                            trainer.generate(state.benchmark_noise))
                        write_montage(args.output, name, vis, progress)
                        if trainer.generator_ema is not None:
                            ema_vis = build_montage(trainer.generate(
                                state.benchmark_noise, ema=True))
                            write_montage(args.output, EMA_PREFIX + name,
                                          ema_vis, progress)
                        if board:
                            board.montage(step, vis)
                            if trainer.generator_ema is not None:
                                board.montage(step, ema_vis, "ema_montage")

                    if stop.requested and i < batchesPerEpoch - 1:
                        progress.close()
                        path = save(args, trainer, state, batchesPerEpoch)
                        log("[INFO] interrupted after step {}_{}; checkpoint "
                            "saved to {}".format(epoch + 1, i, path))
                        log("[INFO] " + resume_hint(args.output))
                        return stop.exit_code
                progress.close()
                state.epoch, state.batch = epoch + 1, 0
                end_of_epoch(args, trainer, state, evaluator, board,
                             batchesPerEpoch, time.time() - epoch_start,
                             batchesPerEpoch - first)
                if stop.requested and epoch + 1 < NUM_EPOCHS:
                    log("[INFO] interrupted at the end of epoch {}; {}".format(
                        epoch + 1, resume_hint(args.output)))
                    return stop.exit_code
            if stop.requested:     # in the last step: nothing left to stop
                log("[INFO] interrupted in the last step of the last epoch; "
                    "the run is complete")
    except StopNow as stopped:
        return stopped_at_once(args.output, stopped.signum)
    if last_epoch < NUM_EPOCHS:
        print("[INFO] paused after epoch {} of {}; continue with: python {} "
              "--output {} --resume".format(last_epoch, NUM_EPOCHS,
                                            sys.argv[0], args.output))
        return 0
    return None


def save(args, trainer, state, batches_per_epoch):
    return state.save(args.output, trainer, batches_per_epoch,
                      keep=args.keep_checkpoints)


def end_of_epoch(args, trainer, state, evaluator, board, batches_per_epoch,
                 seconds, steps):
    """Checkpoint first (so nothing below can lose the epoch), then the
    timing line, the plots and, when due, the quality metrics."""
    from pyimagesearch.datasets import title
    from pyimagesearch.plots import refresh_plots
    from pyimagesearch.progress import EpochProgress
    save(args, trainer, state, batches_per_epoch)
    EpochProgress.log("[INFO] epoch {} took {:.1f}s ({:.1f} ms/step)".format(
        state.epoch, seconds, 1000 * seconds / max(steps, 1)))
    refresh_plots(args.output, state.history, batches_per_epoch,
                  title(state.settings["dataset"]),
                  grey=state.settings["channels"] == 1)
    if evaluator and (state.epoch % args.metrics_every == 0
                      or state.epoch == state.settings["epochs"]):
        from pyimagesearch.quality import log_metrics
        generators = [(trainer.generator, False)]
        if trainer.generator_ema is not None:
            generators.append((trainer.generator_ema, True))
        for generator, ema in generators:
            line, result = log_metrics(evaluator, generator, state.epoch,
                                       args.output, trainer.noise, ema)
            EpochProgress.log(line)
            if board:
                board.quality(state.epoch * batches_per_epoch, result,
                              "ema_quality" if ema else "quality")
    if board:
        board.flush()


def write_montage(output, name, image, progress):
    """Write one montage; if that fails, stop with a way to continue."""
    from pyimagesearch.checkpoint import latest_checkpoint
    from pyimagesearch.montage import write_image
    try:
        write_image(os.path.join(output, name), image)
    except UserError as e:
        progress.close()
        last = latest_checkpoint(output)
        raise UserError(f"{e}; then continue with --resume (from {last})"
                        if last else f"{e}; then train again") from None


def resume_hint(output):
    return "resume with: python {} --output {} --resume".format(sys.argv[0],
                                                                output)


def non_finite(output, epoch, i, d_loss, g_loss):
    from pyimagesearch.checkpoint import latest_checkpoint
    return NonFiniteLoss(
        "non-finite loss at step {}_{}: discriminator_loss={}, "
        "adversarial_loss={}; training stopped; last good checkpoint: {}"
        .format(epoch, i, d_loss, g_loss, latest_checkpoint(output)))


def stopped_at_once(output, signum):
    """A second Ctrl-C/SIGTERM: stop now, from wherever the run was."""
    from pyimagesearch.checkpoint import latest_checkpoint
    last = latest_checkpoint(output)
    print("\n[INFO] stopped at once by a second signal; " + (
        f"last good checkpoint: {last}; {resume_hint(output)}" if last else
        "no checkpoint yet: nothing to resume from this run"))
    return 128 + signum


@one_line_errors
def main(argv=None):
    args = cli.build_parser().parse_args(argv)
    if hasattr(sys.stdout, "reconfigure"):   # not in Jupyter or IDE streams
        sys.stdout.reconfigure(line_buffering=True)  # logs as they happen
    try:
        return run(args)
    except KeyboardInterrupt:   # outside the training loop's own handling
        from pyimagesearch.checkpoint import latest_checkpoint
        last = latest_checkpoint(args.output)
        print("\n[INFO] interrupted; " + (
            f"the newest checkpoint is {last}; {resume_hint(args.output)}"
            if last else "nothing to resume from this run"))
        return 130


if __name__ == "__main__":
    sys.exit(main())
