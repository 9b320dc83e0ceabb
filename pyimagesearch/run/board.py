"""--tensorboard: the run's losses, quality numbers and montages as
TensorBoard summaries in OUTPUT/tensorboard/ (view them with
`tensorboard --logdir OUTPUT/tensorboard`).  Every summary is written at
the global step (batches trained since the start), so a resumed run goes
on along the same axis."""
import os

from ..errors import UserError
from ..runfiles.outputs import TENSORBOARD


class Board:
    def __init__(self, output):
        import tensorflow as tf
        self.tf = tf
        folder = os.path.join(output, TENSORBOARD)
        try:
            self.writer = tf.summary.create_file_writer(folder)
        except (tf.errors.OpError, OSError) as e:
            raise UserError(f"--tensorboard: could not write to {folder} "
                            f"({type(e).__name__}); make it a writable "
                            "folder, or train without --tensorboard") from None

    def losses(self, step, d_loss, g_loss):
        with self.writer.as_default(step=step):
            self.tf.summary.scalar("loss/discriminator", d_loss)
            self.tf.summary.scalar("loss/adversarial", g_loss)

    def montage(self, step, bgr_image, tag="montage"):
        """A montage as written to disk (build_montage: always 3-channel
        BGR), shown as RGB."""
        rgb = bgr_image[..., ::-1]
        with self.writer.as_default(step=step):
            self.tf.summary.image(tag, rgb[None], max_outputs=1)

    def quality(self, step, result, prefix="quality"):
        with self.writer.as_default(step=step):
            for key in ("swd", "fd", "kid", "entropy", "min_share",
                        "accuracy"):
                if key in result:
                    self.tf.summary.scalar(f"{prefix}/{key}", result[key])

    def flush(self):
        self.writer.flush()

    def close(self):
        self.writer.close()
