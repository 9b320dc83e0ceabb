"""A per-epoch progress bar on a terminal; plain log lines everywhere."""
import sys

from tqdm import tqdm

from ..files import readable_name


class EpochProgress:
    """tqdm bar with D/G losses, steps per second and ETA.  Shown only when
    stderr is a terminal, so redirected logs hold just the [INFO] lines."""

    def __init__(self, epoch, num_epochs, batches_per_epoch, start_batch=0,
                 enabled=None):
        if enabled is None:
            enabled = sys.stderr.isatty()
        self.bar = tqdm(total=batches_per_epoch, initial=start_batch,
                        desc=f"epoch {epoch}/{num_epochs}", unit="step",
                        disable=not enabled, leave=False, dynamic_ncols=True)

    def update(self, d_loss, g_loss, minutes_left=None):
        shown = {"d_loss": f"{d_loss:.4f}", "g_loss": f"{g_loss:.4f}"}
        if minutes_left is not None:        # --minutes
            shown["left"] = f"{minutes_left:.1f}min"
        self.bar.set_postfix(shown, refresh=False)
        self.bar.update(1)

    @staticmethod
    def log(line):
        """Print a log line above the bar without breaking it, the names
        in it escaped (a newline in a name cannot forge a line)."""
        tqdm.write(readable_name(line), file=sys.stdout)
        sys.stdout.flush()

    def close(self):
        self.bar.close()
