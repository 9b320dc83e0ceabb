"""Time the training step against the 2020 loop and this machine's compute
floor, all in one run (absolute times drift ~25% here; ratios do not).

    python bench.py            # full: ~2-3 minutes on 2 CPU cores
    python bench.py --quick    # a few steps, for CI
    python bench.py --image-size 64 --channels 3   # the step at other sizes
    python bench.py --tips     # what each GAN tip costs a step, as ratios
    python bench.py --arch radford --image-size 64 --channels 3
    python bench.py --recipes --image-size 32 --channels 3 --batch-size 32
                               # the small-data recipes' steps, as ratios
    python bench.py --distribute mirrored   # the step on 1..N GPUs
    python bench.py --distribute mirrored --cpu-replicas 2
                               # ... on N logical devices of the CPU
"""
import atexit
import dataclasses
import os
import platform
import shutil
import sys
import tempfile
import types

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from sklearn.utils import shuffle  # noqa: E402

from pyimagesearch.benchmark import (cpu_model, gemm_rate,  # noqa: E402
                                     numpy_gemm_rate,
                                     products_time, random_real_images,
                                     step_flops, step_gemms,
                                     time_round_robin)
from pyimagesearch.errors import UserError, one_line_errors  # noqa: E402
from pyimagesearch.gan import precision  # noqa: E402
from pyimagesearch.gan.models import build_trainer  # noqa: E402
from pyimagesearch.gan.noise import LATENT_DIM  # noqa: E402
from pyimagesearch.gan.trainer import frozen  # noqa: E402
from pyimagesearch.run.cli import ArgumentParser, RunOptions  # noqa: E402
from pyimagesearch.gan.architectures import (ARCHS,  # noqa: E402
                                             MBSTD_GROUP)
from pyimagesearch.runfiles.config import (RunConfig,  # noqa: E402
                                          SMALL_DATA_RECIPE)
from pyimagesearch.run.distribute import check_distribute  # noqa: E402
from pyimagesearch.run.state import RunState  # noqa: E402
from pyimagesearch.data.datasets import to_unit_range  # noqa: E402


# the GAN tips as the README's table of runs uses them
TIPS = {"--noise normal": {"noise": "normal"},
        "--disc-dropout 0.3": {"disc_dropout": 0.3},
        "--label-smoothing 0.1": {"label_smoothing": 0.1},
        "--label-noise 0.05": {"label_noise": 0.05},
        "--gan-lr 1e-4": {"gan_lr": 1e-4},
        "--ema 0.999": {"ema": 0.999},
        "all of them": {"noise": "normal", "disc_dropout": 0.3,
                        "label_smoothing": 0.1, "label_noise": 0.05,
                        "gan_lr": 1e-4, "ema": 0.999}}


# the small-data recipes as README and docs/OWN_DATA.md compare them
AUGMENT = "color,translation,cutout"
TAPE = {"step": "tape", "loss": "hinge"}
SMALL_DATA = dict(TAPE, spectral_norm=True, r1=0.05, augment=AUGMENT,
                  ema=0.999, ema_rampup=0.05)
# the folder default's step: its settings but the length and the batch
RECIPE_STEP = {key: value for key, value in SMALL_DATA_RECIPE.items()
               if key not in ("batch_size", "kimg")}
RECIPES = {f"--augment {AUGMENT}": {"augment": AUGMENT},
           "--arch radford": {"arch": "radford"},
           f"--arch radford --augment {AUGMENT}": {"arch": "radford",
                                                   "augment": AUGMENT},
           "--step tape --loss hinge": TAPE,
           "--step tape --loss hinge --spectral-norm": dict(
               TAPE, spectral_norm=True),
           "--step tape --loss hinge --spectral-norm --xla": dict(
               TAPE, spectral_norm=True, xla=True),
           "the same --mbstd": dict(TAPE, spectral_norm=True, xla=True,
                                    mbstd=True),
           "--step tape --loss hinge --spectral-norm --xla --width 0.5": dict(
               TAPE, spectral_norm=True, xla=True, width=0.5),
           "--recipe small-data (the averaging included)": RECIPE_STEP,
           "the same --self-supervised": dict(RECIPE_STEP,
                                              self_supervised=True),
           "--step tape --loss hinge --spectral-norm --r1 0.05 --augment "
           f"{AUGMENT} --ema 0.999 --ema-rampup 0.05": SMALL_DATA,
           "the same --xla": dict(SMALL_DATA, xla=True)}


def split_by_batch(variants, batch_size):
    """(the variants a batch of `batch_size` can run, the names of those it
    cannot: --mbstd's groups of MBSTD_GROUP images must split it)."""
    skipped = [name for name, settings in variants.items()
               if settings.get("mbstd") and batch_size % MBSTD_GROUP]
    return ({name: settings for name, settings in variants.items()
             if name not in skipped}, skipped)


def bench_variants(real, config, variants, heading, warmup, timed, rounds,
                   repeats, skipped=()):
    """The script's step with each variant's settings added to `config`,
    against `config` alone, as ratios from one interleaved run, and
    against each variant's compute floor: its step's FLOPs (counted from
    its layers) at this machine's best fp32 matmul rate (`repeats`
    timings of each size)."""
    tf.get_logger().setLevel("ERROR")   # several trainers: traces, meant
    base_name = (f"{config.tip_flags()} alone" if config.tip_flags()
                 else "the tutorial's recipe")
    trainers = {base_name: build_trainer(config)}
    trainers.update({name: build_trainer(dataclasses.replace(config,
                                                             **settings))
                     for name, settings in variants.items()})
    medians = time_round_robin(
        {name: (lambda t=trainer: t.train_step(real))
         for name, trainer in trainers.items()}, warmup, timed, rounds)
    rate = gemm_rate("float32", repeats=repeats)
    floors = {name: step_flops(trainer.generator, trainer.discriminator,
                               len(real), trainer.decoder) / rate
              for name, trainer in trainers.items()}
    print(f"[BENCH] fp32 GEMM rate {rate / 1e9:.0f} GFLOP/s (best square "
          "matmul): a row's floor is its step's FLOPs at that rate")
    base = medians[base_name]
    width = max(28, max(map(len, medians)))
    print(f"{heading:{width}s} {'ms/step':>8s} {'images/s':>9s} "
          f"{'x the first row':>16s} {'floor ms':>9s} {'x floor':>8s}")
    for name, seconds in medians.items():
        print(f"{name:{width}s} {1000 * seconds:8.1f} "
              f"{len(real) / seconds:9.0f} {seconds / base:16.3f} "
              f"{1000 * floors[name]:9.1f} {seconds / floors[name]:8.2f}")
    for name in skipped:
        print(f"(not timed: {name}, whose groups of {MBSTD_GROUP} images do "
              f"not split the batch of {config.batch_size})")


def literal_2020_step(trainer, imageBatch):
    """The tutorial's loop body as published, `gen.predict` included (with
    the freeze made correct, so both loops do the same arithmetic)."""
    gen, disc, gan = trainer.generator, trainer.discriminator, trainer.gan
    BATCH_SIZE = len(imageBatch)
    noise = np.random.uniform(-1, 1, size=(BATCH_SIZE, LATENT_DIM))
    genImages = gen.predict(noise, verbose=0)
    X = np.concatenate((imageBatch, genImages))
    y = ([1] * BATCH_SIZE) + ([0] * BATCH_SIZE)
    y = np.reshape(y, (-1,))
    (X, y) = shuffle(X, y)
    disc.train_on_batch(X, y)
    noise = np.random.uniform(-1, 1, (BATCH_SIZE, LATENT_DIM))
    fakeLabels = [1] * BATCH_SIZE
    fakeLabels = np.reshape(fakeLabels, (-1,))
    with frozen(disc):
        gan.train_on_batch(noise, fakeLabels)


def bare_step(trainer, imageBatch):
    """The same two train_on_batch calls with nothing around them: the
    2020 loop with the compiled generator call instead of gen.predict."""
    disc, gan = trainer.disc_model, trainer.gan
    BATCH_SIZE = len(imageBatch)
    noise = np.random.uniform(-1, 1, size=(BATCH_SIZE, LATENT_DIM))
    genImages = trainer.generate(noise.astype("float32"))
    X = np.concatenate((imageBatch, genImages))
    y = np.array(([1] * BATCH_SIZE) + ([0] * BATCH_SIZE))
    (X, y) = shuffle(X, y)
    disc.train_on_batch(X, y)
    noise = np.random.uniform(-1, 1, (BATCH_SIZE, LATENT_DIM))
    with frozen(trainer.discriminator):
        gan.train_on_batch(noise.astype("float32"), np.ones(BATCH_SIZE))


def script_loop_body(trainer, config, output):
    """One pass of the training script's loop body, as it runs between
    montages: the batch sliced from the uint8 images and scaled, the
    step, and the default run's hooks after it."""
    import dcgan_fashion_mnist as script    # its own wiring of the hooks
    images = np.random.default_rng(0).integers(
        0, 256, (4 * config.batch_size,) + trainer.generator.output_shape[1:],
        dtype=np.uint8)
    state = RunState()
    state.benchmark_noise = trainer.sample_noise(256)
    # a long epoch 11, in whose batches 1..4 no montage is due
    callbacks = script.training_hooks(
        RunOptions(output=output), config, trainer, state, 1000,
        evaluator=None, stop=types.SimpleNamespace(requested=False))
    callbacks.on_train_begin()
    callbacks.on_epoch_begin(11, 0)
    position = [0]

    def body():
        i = position[0] % 4
        position[0] += 1
        rows = slice(i * config.batch_size, (i + 1) * config.batch_size)
        d_loss, g_loss = trainer.train_step(to_unit_range(images[rows]))
        callbacks.on_train_batch_end(11, i + 1,
                                     {"d_loss": d_loss, "g_loss": g_loss})
    return body


def parse_args(argv=None):
    ap = ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="few steps: checks the benchmark runs, not speed")
    ap.add_argument("--batch-size", type=int, default=128,
                    help="batch size for the timed steps (default 128)")
    ap.add_argument("--image-size", type=int, default=28, metavar="S",
                    help="time the models built for S x S images (default "
                         "28, the tutorial's)")
    ap.add_argument("--channels", type=int, default=1,
                    help="1 (grey, default) or 3 (colour)")
    ap.add_argument("--no-mixed-precision", action="store_true",
                    help="skip the bf16 variant")
    ap.add_argument("--tips", action="store_true",
                    help="time the step with each GAN tip on instead")
    ap.add_argument("--arch", choices=ARCHS, default="tutorial",
                    help="the models to time (default: the tutorial's)")
    ap.add_argument("--augment", default=None, metavar="POLICY",
                    help="time the step with this --augment policy")
    ap.add_argument("--recipes", action="store_true",
                    help="time the small-data recipes (--augment, --arch "
                         "radford, both) against the tutorial's instead")
    ap.add_argument("--distribute", choices=("mirrored",), default=None,
                    help="time the data-parallel step on 1, 2, ... of this "
                         "machine's GPUs (or --cpu-replicas) against the "
                         "one-device step instead")
    ap.add_argument("--cpu-replicas", type=int, default=None, metavar="N",
                    help="with --distribute: N logical devices of the CPU")
    return ap.parse_args(argv)


def machine():
    device = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
    return f"{cpu_model() or platform.machine()}, {os.cpu_count()} cores, " \
           f"{device}"


def step_variants(args, config, real):
    """The timed steps: the 2020 loop, the script's fp32 step and, where
    the machine computes it fast, the mixed-precision step."""
    fp32 = build_trainer(config)
    tape = build_trainer(dataclasses.replace(config, step="tape"))
    output = tempfile.mkdtemp(prefix="bench-")   # the hooks' --output
    atexit.register(shutil.rmtree, output, True)
    steps = {
        "2020 loop (gen.predict per step)":
            lambda: literal_2020_step(fp32, real),
        "bare loop (two train_on_batch calls)":
            lambda: bare_step(fp32, real),
        "project step, fp32 (the script's)":
            lambda: fp32.train_step(real),
        "the script's loop body, hooks included":
            script_loop_body(fp32, config, output),
        "tape step (--step tape), fp32":
            lambda: tape.train_step(real),
    }
    policy = None
    if not args.no_mixed_precision:
        try:
            policy = precision.enable_mixed_precision()
            mixed = build_trainer(dataclasses.replace(config,
                                                      mixed_precision=True))
            steps[f"project step, {policy}"] = lambda: mixed.train_step(real)
        except UserError as e:
            print(f"[BENCH] skipping mixed precision: {e}")
        finally:
            keras.mixed_precision.set_global_policy("float32")
    return fp32, steps, policy


def compute_floor(args, fp32, policy, warmup, timed, rounds):
    """The header lines: the step's FLOPs and GEMMs against this machine's
    best matmul rate; returns the fp32 floor in seconds."""
    flops = step_flops(fp32.generator, fp32.discriminator, args.batch_size)
    gemms = step_gemms(fp32.generator, fp32.discriminator, args.batch_size)
    repeats = 2 if args.quick else 5
    rate = gemm_rate("float32", repeats=repeats)
    floor = flops / rate
    print(f"[BENCH] {machine()}; TF {tf.__version__}, "
          f"Keras {keras.__version__}")
    print(f"[BENCH] {args.image_size}x{args.image_size}x{args.channels} "
          f"images, batch {args.batch_size}; median of {timed} "
          f"timed steps after {warmup} warm-up, {rounds} interleaved rounds"
          + (" (--quick: not a speed measurement)" if args.quick else ""))
    print(f"[BENCH] one step = {flops / 1e9:.2f} GFLOP (counted from the "
          f"layers); fp32 GEMM rate {rate / 1e9:.0f} GFLOP/s "
          f"(best square matmul) -> fp32 floor {1000 * floor:.1f} ms/step")
    dtypes = ["float32"]
    if policy == "mixed_bfloat16":
        dtypes.append("bfloat16")
        print(f"[BENCH] bf16 GEMM rate "
              f"{gemm_rate('bfloat16', repeats=repeats) / 1e9:.0f} "
              "GFLOP/s (for reference)")
    numpy_rate = numpy_gemm_rate(repeats=repeats)
    print(f"[BENCH] NumPy's matmul (the BLAS it bundles) "
          f"{numpy_rate / 1e9:.0f} GFLOP/s -> {1000 * flops / numpy_rate:.1f}"
          " ms/step at that rate (for reference)")
    products = {dtype: products_time(gemms, dtype, 2 * repeats)
                for dtype in dtypes}
    print(f"[BENCH] the step's {sum(gemms.values())} matrix products alone, "
          "as TensorFlow matmuls at their own shapes: " + ", ".join(
              f"{dtype} {1000 * seconds:.1f} ms ({seconds / floor:.2f}x "
              "floor)" for dtype, seconds in products.items()))
    return floor


LOOP = "the script's loop body, hooks included"
STEP = "project step, fp32 (the script's)"


def bench_step(args, config, real, warmup, timed, rounds):
    """The script's step against the 2020 loop and the compute floor."""
    fp32, steps, policy = step_variants(args, config, real)
    timed = max(1, timed // rounds) * rounds
    floor = compute_floor(args, fp32, policy, warmup, timed, rounds)
    medians = time_round_robin(steps, warmup, timed, rounds)
    noise = np.random.uniform(-1, 1, (args.batch_size, LATENT_DIM)).astype(
        "float32")
    parts = time_round_robin({
        "fakes: generate() alone": lambda: fp32.generate(noise),
        "(1) discriminator_step(), fakes included":
            lambda: fp32.discriminator_step(
                real, None, fp32.draw(args.batch_size)),
        "(2) generator_step()":
            lambda: fp32.generator_step(fp32.draw(args.batch_size)),
    }, warmup, timed, rounds)
    bare = medians["bare loop (two train_on_batch calls)"]
    print(f"[BENCH] the script's loop body, hooks included: "
          f"{medians[LOOP] / bare:.3f}x the bare loop's step; the script's "
          f"step alone {medians[STEP] / bare:.3f}x")
    baseline = medians["2020 loop (gen.predict per step)"]
    print(f"{'variant':40s} {'ms/step':>8s} {'x fp32 floor':>13s} "
          f"{'speed-up vs 2020':>17s}")
    for name, seconds in medians.items():
        print(f"{name:40s} {1000 * seconds:8.1f} {seconds / floor:13.2f} "
              f"{baseline / seconds:17.2f}")
    print("where the fp32 step's time goes (same functions, timed apart):")
    for name, seconds in parts.items():
        print(f"  {name:44s} {1000 * seconds:8.1f} ms")


def strategy_on(devices):
    """A MirroredStrategy on `devices`, beside others on some of the same
    devices: each needs collective keys of its own, which TensorFlow lets
    tests set (else a 4-replica and a 2-replica strategy collide)."""
    keyed = type("MirroredStrategy", (tf.distribute.MirroredStrategy,),
                 {"_collective_key_base": 1000 * len(devices)})
    return keyed(devices)


def bench_distributed(args, config, real, warmup, timed, rounds):
    """The training script's one-device step against the data-parallel
    step on 1, 2, ... replicas, on the same global batch, as ratios."""
    from pyimagesearch.run.distribute import check_split, make_strategy
    devices = make_strategy("mirrored",
                            args.cpu_replicas).extended.worker_devices
    check_split(args.batch_size, len(devices))
    tf.get_logger().setLevel("ERROR")   # several trainers: traces, meant
    base_name = "one device (the default loop)"
    trainers = {base_name: build_trainer(config)}
    skipped = []
    for count in range(1, len(devices) + 1):
        if args.batch_size % count:
            skipped.append(str(count))
        else:
            strategy = strategy_on(devices[:count])
            trainers[f"--distribute mirrored, {count} replica"
                     + "s" * (count > 1)] = build_trainer(config,
                                                          strategy=strategy)
    medians = time_round_robin(
        {name: (lambda t=trainer: t.train_step(real))
         for name, trainer in trainers.items()}, warmup, timed, rounds)
    on = (f"{len(devices)} logical devices of the CPU" if args.cpu_replicas
          else f"{len(devices)} GPUs")
    print(f"[BENCH] {machine()}; replicas on {on}; global batch "
          f"{args.batch_size}, split across the replicas; median of "
          f"{max(1, timed // rounds) * rounds} steps each, {rounds} "
          "interleaved rounds"
          + (" (--quick: not a speed measurement)" if args.quick else ""))
    base = medians[base_name]
    print(f"{'step':36s} {'ms/step':>8s} {'x one device':>13s}")
    for name, seconds in medians.items():
        print(f"{name:36s} {1000 * seconds:8.1f} {seconds / base:13.3f}")
    if skipped:
        print(f"(not timed: {', '.join(skipped)} replicas, which do not "
              f"split the batch of {args.batch_size})")


@one_line_errors
def main(argv=None):
    args = parse_args(argv)
    config = RunConfig(image_size=args.image_size, channels=args.channels,
                       batch_size=args.batch_size, arch=args.arch,
                       augment=args.augment)
    config.check()      # the training script's ranges, and the memory
    check_distribute(args.distribute, args.cpu_replicas)
    if args.distribute and (args.tips or args.recipes):
        raise UserError("--distribute times the step on each replica count, "
                        "--tips and --recipes the variants on one device: "
                        "pass one of them")
    warmup, timed, rounds = (2, 4, 2) if args.quick else (15, 120, 6)
    real = random_real_images(args.batch_size, args.image_size, args.channels)
    if args.distribute:
        bench_distributed(args, config, real, warmup, timed, rounds)
    elif args.tips or args.recipes:
        print(f"[BENCH] {machine()}; {args.image_size}x{args.image_size}x"
              f"{args.channels} images, batch {args.batch_size}; median of "
              f"{max(1, timed // rounds) * rounds} steps each, "
              f"{rounds} interleaved rounds"
              + (" (--quick: not a speed measurement)" if args.quick else ""))
        if args.recipes:    # against the tutorial's models, unaugmented
            config = dataclasses.replace(config, arch="tutorial",
                                         augment=None)
        variants, skipped = split_by_batch(
            TIPS if args.tips else RECIPES, config.batch_size)
        if args.recipes:
            for settings in variants.values():
                dataclasses.replace(config, **settings).check()
        bench_variants(real, config, variants,
                       "GAN tip" if args.tips else "recipe", warmup, timed,
                       rounds, repeats=2 if args.quick else 5,
                       skipped=skipped)
    else:
        bench_step(args, config, real, warmup, timed, rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
