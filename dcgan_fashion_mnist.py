"""Train the PyImageSearch DCGAN on Fashion-MNIST (Keras 3 / TensorFlow 2.16+).

    python dcgan_fashion_mnist.py --output output
"""
import os
import signal
import sys
import time

# TensorFlow's C++ INFO/WARNING chatter buries the [INFO] lines; set
# TF_CPP_MIN_LOG_LEVEL=0 to see it again
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pyimagesearch.errors import UserError, one_line_errors  # noqa: E402
from pyimagesearch import settings as cli  # noqa: E402

EXIT_NON_FINITE = 3


class StopRequest:
    """Turns Ctrl-C / SIGTERM into a flag the loop checks after each step."""

    def __init__(self):
        self.signum = None
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._handle)

    def _handle(self, signum, frame):
        self.signum = signum

    @property
    def exit_code(self):
        return 128 + self.signum


def train(args):
    # checks that need no data come first: a bad flag fails in a second
    cli.check_args(args)
    from pyimagesearch import checkpoint as ckpt

    resumed = None
    if args.resume:
        path = ckpt.latest_checkpoint(args.output)
        if path is None:
            raise UserError(f"--resume: no checkpoint in "
                            f"{ckpt.checkpoint_dir(args.output)}; train "
                            "without --resume first")
        resumed = (path,) + ckpt.load_checkpoint(path)  # path, state, meta, arrays
    saved_meta = resumed[2] if resumed else {}
    saved_settings = saved_meta.get("settings")
    run = cli.resolve_settings(args, saved_settings)
    start_epoch = saved_meta.get("epoch", 0)
    start_batch = saved_meta.get("batch", 0)
    if run["epochs"] < start_epoch + (start_batch > 0):
        raise UserError(f"the checkpoint has already trained "
                        f"{start_epoch} epochs; --epochs must be at least "
                        f"{start_epoch + (start_batch > 0)}")

    # heavy imports only once the flags are known to be good
    import keras
    import numpy as np
    import tensorflow as tf
    from pyimagesearch.data import (fingerprint, load_fashion_mnist,
                                    prepare_images)
    from pyimagesearch.dcgan import DCGAN
    from pyimagesearch.montage import build_montage, montage_name, write_image
    from pyimagesearch.plots import refresh_plots
    from pyimagesearch.progress import EpochProgress
    from pyimagesearch.training import GANTrainer, sample_noise

    NUM_EPOCHS = run["epochs"]
    BATCH_SIZE = run["batch_size"]
    if run["seed"] is not None:
        keras.utils.set_random_seed(run["seed"])
        tf.config.experimental.enable_op_determinism()
    if run["mixed_precision"]:
        from pyimagesearch.precision import enable_mixed_precision
        print("[INFO] mixed precision: {}".format(enable_mixed_precision()))

    # load the Fashion MNIST dataset and stack the training and testing
    # data points so we have additional training data
    print("[INFO] loading MNIST dataset...")
    ((trainX, _), (testX, _)), source = load_fashion_mnist(args.data_dir)
    trainImages = prepare_images(trainX, testX, run["limit"])
    run["num_images"] = len(trainImages)
    run["data_sha1"] = fingerprint(trainImages)
    print("[INFO] {} images from {}".format(len(trainImages), source))
    saved = saved_settings or run
    if saved.get("data_sha1", run["data_sha1"]) != run["data_sha1"]:
        raise UserError("the checkpoint was trained on other data ({} images, "
                        "sha1 {}) than these {} images (sha1 {}): resume with "
                        "the same data (--data-dir)".format(
                            saved["num_images"], saved["data_sha1"][:12],
                            len(trainImages), run["data_sha1"][:12]))
    if BATCH_SIZE > len(trainImages):
        raise UserError(f"--batch-size {BATCH_SIZE} is larger than the "
                        f"{len(trainImages)} training images; lower it")

    if args.metrics_every:
        from pyimagesearch.quality import (QualityEvaluator, check_classifier,
                                           log_metrics)
        check_classifier()

    # build the generator
    print("[INFO] building generator...")
    gen = DCGAN.build_generator(7, 64, channels=1)

    # build the discriminator
    print("[INFO] building discriminator...")
    disc = DCGAN.build_discriminator(28, 28, 1)
    if run["mixed_precision"]:
        from pyimagesearch.precision import float32_output
        float32_output(gen)
        float32_output(disc)

    # build the adversarial model: D is frozen inside the GAN step only
    print("[INFO] building GAN...")
    trainer = GANTrainer(gen, disc, NUM_EPOCHS)
    # after the GAN: building the classifier draws from Keras' seeded
    # initializers, which must give the same DCGAN with or without metrics
    evaluator = QualityEvaluator(args.data_dir) if args.metrics_every else None

    if resumed:
        path, state, meta, arrays = resumed
        ckpt.check_architecture(path, trainer.get_state(), state)
        trainer.set_state(state)
        ckpt.set_rng_state(arrays, meta["rng"])
        benchmarkNoise = arrays["benchmark_noise"]
        history = [tuple(row) for row in arrays["history"]]
        print("[INFO] resumed from {} (epoch {}, batch {})".format(
            path, start_epoch + 1, start_batch))

    # randomly generate some benchmark noise so we can consistently
    # visualize how the generative modeling is learning
    print("[INFO] starting training...")
    if not resumed:
        benchmarkNoise = sample_noise(256)
        history = []

    def save_checkpoint(epoch, batch):
        rng_arrays, rng_meta = ckpt.get_rng_state()
        arrays = dict(rng_arrays, benchmark_noise=benchmarkNoise,
                      history=np.asarray(history, dtype="float64").reshape(-1, 4))
        meta = {"epoch": epoch, "batch": batch, "settings": run,
                "rng": rng_meta, "keras_version": keras.__version__}
        global_step = epoch * batchesPerEpoch + batch
        return ckpt.save_checkpoint(args.output, global_step,
                                    trainer.get_state(), meta, arrays,
                                    keep=args.keep_checkpoints)

    stop = StopRequest()
    batchesPerEpoch = int(trainImages.shape[0] / BATCH_SIZE)
    last_epoch = NUM_EPOCHS if args.pause_after is None else \
        min(NUM_EPOCHS, start_epoch + args.pause_after)
    log = EpochProgress.log
    run_start = time.time()
    for epoch in range(start_epoch, last_epoch):
        # show epoch information
        log("[INFO] starting epoch {} of {}...".format(epoch + 1, NUM_EPOCHS))
        first = start_batch if epoch == start_epoch else 0
        progress = EpochProgress(epoch + 1, NUM_EPOCHS, batchesPerEpoch, first)
        epoch_start = time.time()
        for i in range(first, batchesPerEpoch):
            imageBatch = trainImages[i * BATCH_SIZE:(i + 1) * BATCH_SIZE]
            discLoss, ganLoss = trainer.train_step(imageBatch)
            if not (np.isfinite(discLoss) and np.isfinite(ganLoss)):
                progress.close()
                print("[ERROR] non-finite loss at step {}_{}: "
                      "discriminator_loss={}, adversarial_loss={}; training "
                      "stopped; last good checkpoint: {}".format(
                          epoch + 1, i, discLoss, ganLoss,
                          ckpt.latest_checkpoint(args.output)),
                      file=sys.stderr)
                return EXIT_NON_FINITE
            history.append((epoch + 1, i, discLoss, ganLoss))
            progress.update(discLoss, ganLoss)

            # visualize the generator on the benchmark noise: often early
            # on, less often later, and at the end of every epoch
            name = montage_name(epoch + 1, i, batchesPerEpoch)
            if name is not None:
                log("[INFO] Step {}_{}: discriminator_loss={:.6f}, "
                    "adversarial_loss={:.6f}".format(epoch + 1, i,
                                                     discLoss, ganLoss))
                vis = build_montage(trainer.generate(benchmarkNoise))
                try:
                    write_image(os.path.join(args.output, name), vis)
                except UserError as e:
                    progress.close()
                    last = ckpt.latest_checkpoint(args.output)
                    raise UserError(f"{e}; then continue with --resume (from "
                                    f"{last})" if last else f"{e}; then "
                                    "train again") from None

            if stop.signum is not None and i < batchesPerEpoch - 1:
                progress.close()
                path = save_checkpoint(epoch, i + 1)
                log("[INFO] interrupted after step {}_{}; checkpoint saved "
                    "to {}".format(epoch + 1, i, path))
                log("[INFO] resume with: python {} --output {} --resume"
                    .format(sys.argv[0], args.output))
                return stop.exit_code
        progress.close()
        steps = batchesPerEpoch - first
        took = time.time() - epoch_start
        save_checkpoint(epoch + 1, 0)
        log("[INFO] epoch {} took {:.1f}s ({:.1f} ms/step)".format(
            epoch + 1, took, 1000 * took / max(steps, 1)))
        refresh_plots(args.output, history, batchesPerEpoch)
        if evaluator and ((epoch + 1) % args.metrics_every == 0
                          or epoch + 1 == NUM_EPOCHS):
            log(log_metrics(evaluator, gen, epoch + 1, args.output))
        if stop.signum is not None and epoch + 1 < NUM_EPOCHS:
            log("[INFO] interrupted at the end of epoch {}; resume with: "
                "python {} --output {} --resume".format(
                    epoch + 1, sys.argv[0], args.output))
            return stop.exit_code

    if last_epoch < NUM_EPOCHS:
        print("[INFO] paused after epoch {} of {}; continue with: python {} "
              "--output {} --resume".format(last_epoch, NUM_EPOCHS,
                                            sys.argv[0], args.output))
        return 0
    gen_path = os.path.join(args.output, "generator.keras")
    ckpt.save_generator(gen, gen_path)
    print("[INFO] training complete in {:.1f} min; generator saved to {}"
          .format((time.time() - run_start) / 60, gen_path))
    return 0


def main(argv=None):
    args = cli.build_parser().parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # logs show up as they happen
    try:
        return one_line_errors(train)(args)
    except KeyboardInterrupt:
        print("[ERROR] interrupted before training started; nothing to "
              "resume from this run", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
