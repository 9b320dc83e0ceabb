"""Sample a trained generator: a montage, single images, or a walk through
latent space between two seeds.

    python generate.py output/generator.keras --output samples --num 64 --seed 1
    python generate.py output/generator.keras --output samples --interpolate 3 7
"""
import math
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from pyimagesearch.errors import UserError, one_line_errors  # noqa: E402
from pyimagesearch.settings import (NOISES, ArgumentParser,  # noqa: E402
                                    check_output_dir, check_positive)


@one_line_errors
def main(argv=None):
    ap = ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="generator.keras, generator_ema.keras, or "
                                  "a checkpoint .npz")
    ap.add_argument("-o", "--output", required=True, help="folder to write to")
    ap.add_argument("--num", type=int, default=64, help="samples (default 64)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--singles", action="store_true",
                    help="also write each sample as its own PNG")
    ap.add_argument("--interpolate", type=int, nargs=2, metavar=("SEED_A", "SEED_B"),
                    help="write a strip walking from SEED_A's latent vector "
                         "to SEED_B's instead of samples")
    ap.add_argument("--steps", type=int, default=10,
                    help="images in the interpolation strip (default 10)")
    ap.add_argument("--scale", type=int, default=2,
                    help="enlarge each image this many times (default 2)")
    ap.add_argument("--ema", action="store_true",
                    help="with a checkpoint of an --ema run: sample its "
                         "moving average of the generator")
    ap.add_argument("--noise", choices=NOISES, default=None,
                    help="the noise to feed (default: what the generator "
                         "was trained on, read from its run's checkpoint; "
                         "uniform if there is none)")
    args = ap.parse_args(argv)
    check_positive("--num", args.num, allow_none=False)
    check_positive("--scale", args.scale, allow_none=False)
    if args.steps < 2:
        raise UserError(f"--steps must be at least 2, got {args.steps}")
    check_output_dir(args.output)
    if not os.path.isfile(args.model):
        raise UserError(f"{args.model} does not exist; train first with "
                        "python dcgan_fashion_mnist.py --output output")
    import cv2
    from pyimagesearch.montage import (build_montage, for_imwrite, to_uint8,
                                       write_image)
    from pyimagesearch.outputs import EMA_PREFIX, GENERATOR_EMA
    from pyimagesearch.quality import load_generator, trained_noise
    from pyimagesearch.training import seeded_noise
    gen = load_generator(args.model, ema=args.ema)
    latent_dim = gen.input_shape[-1]
    noise = args.noise or trained_noise(args.model)
    # an averaged generator's pictures never overwrite the generator's own
    prefix = EMA_PREFIX if args.ema or os.path.basename(
        args.model) == GENERATOR_EMA else ""

    def render(noise):
        return np.asarray(gen.predict_on_batch(noise.astype("float32")))

    def enlarge(image):
        return cv2.resize(image, None, fx=args.scale, fy=args.scale,
                          interpolation=cv2.INTER_NEAREST)

    if args.interpolate:
        a, b = (seeded_noise(seed, 1, latent_dim, noise)[0]
                for seed in args.interpolate)
        weights = np.linspace(0, 1, args.steps)[:, None]
        images = render((1 - weights) * a + weights * b)
        strip = build_montage(images, (args.steps, 1))
        path = os.path.join(args.output, prefix + "interpolation_{}_{}.png".format(
            *args.interpolate))
        write_image(path, enlarge(strip))
        print(f"[INFO] {args.steps}-step interpolation written to {path}")
        return 0

    images = render(seeded_noise(args.seed, args.num, latent_dim, noise))
    columns = math.ceil(math.sqrt(args.num))
    rows = math.ceil(args.num / columns)
    path = os.path.join(args.output, f"{prefix}samples_seed{args.seed}.png")
    write_image(path, enlarge(build_montage(images, (columns, rows))))
    print(f"[INFO] {args.num} samples written to {path}")
    if args.singles:
        for index, image in enumerate(to_uint8(images)):
            write_image(os.path.join(
                args.output, f"{prefix}sample_seed{args.seed}_{index:04d}.png"),
                enlarge(for_imwrite(image)))
        print(f"[INFO] and one PNG each in {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
