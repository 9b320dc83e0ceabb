"""Plot the quality numbers of several training runs over epochs in one
PNG: the SWD (any data; for Fashion-MNIST runs also FD, KID, class entropy
and the smallest class share), each curve named by its run's switches (and
a dashed one for a run's --ema average).

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
    args = ap.parse_args(argv)
    from pyimagesearch.runfiles.comparison import (main_number,
                                                  plot_comparison, read_runs)
    series, floor = read_runs(args.runs)
    for label, epochs, _, _ in series:
        if not epochs:
            print(f"[INFO] {label}: no epochs measured yet")
            continue
        last = max(epochs)
        name, value = main_number(epochs[last])
        lowest = min(epochs, key=lambda e: main_number(epochs[e])[1])
        print(f"[INFO] {label}: {name} {value:.2f} at epoch {last} (lowest "
              f"{main_number(epochs[lowest])[1]:.2f}, epoch {lowest})")
    plot_comparison(series, floor, args.output)
    print(f"[INFO] comparison written to {os.path.abspath(args.output)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
