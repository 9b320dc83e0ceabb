"""Plot the quality numbers of several training runs over epochs (or
thousands of images shown, --x kimg) in one PNG: the SWD (any data; for
Fashion-MNIST runs also FD, KID, class entropy and the smallest class
share), each curve named by its run's switches (and a dashed one for a
run's --ema average).

    python compare.py runs/default runs/normal runs/dropout -o comparison.png

Each run needs a metrics.csv: train it with --metrics-every N.
"""
import os
import sys

from pyimagesearch.errors import one_line_errors
from pyimagesearch.run.cli import ArgumentParser


@one_line_errors
def main(argv=None):
    ap = ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", metavar="RUN_DIR",
                    help="training runs' --output folders")
    ap.add_argument("-o", "--output", default="comparison.png",
                    help="the PNG to write (default comparison.png)")
    ap.add_argument("--x", choices=("epoch", "kimg"), default="epoch",
                    help="the x axis: epochs (default), or thousands of "
                         "images shown, which compares runs of other batch "
                         "sizes or data at equal training")
    args = ap.parse_args(argv)
    from pyimagesearch.runfiles.comparison import (main_number,
                                                  plot_comparison, read_runs)
    series, floor = read_runs(args.runs, args.x)

    def at(point):
        return f"{point:g} kimg" if args.x == "kimg" else f"epoch {point}"

    for label, points, _, _ in series:
        if not points:
            print(f"[INFO] {label}: no epochs measured yet")
            continue
        last = max(points)
        name, value = main_number(points[last])
        lowest = min(points, key=lambda p: main_number(points[p])[1])
        print(f"[INFO] {label}: {name} {value:.2f} at {at(last)} (lowest "
              f"{main_number(points[lowest])[1]:.2f}, {at(lowest)})")
    plot_comparison(series, floor, args.output, args.x)
    print(f"[INFO] comparison written to {os.path.abspath(args.output)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
