"""--tensorboard: the run's losses, quality numbers and montages as
TensorBoard summaries in OUTPUT/tensorboard/ (view them with
`tensorboard --logdir OUTPUT/tensorboard`).  Every summary is written at
the global step (batches trained since the start), so a resumed run goes
on along the same axis."""
import os

from .outputs import TENSORBOARD


class Board:
    def __init__(self, output):
        import tensorflow as tf
        try:
            import tensorboard  # noqa: F401  tf.summary's scalar/image
        except ImportError:
            from .errors import UserError
            raise UserError("--tensorboard needs the tensorboard package: "
                            "pip install -r requirements.txt") from None
        self.tf = tf
        self.writer = tf.summary.create_file_writer(
            os.path.join(output, TENSORBOARD))

    def losses(self, step, d_loss, g_loss):
        with self.writer.as_default(step=step):
            self.tf.summary.scalar("loss/discriminator", d_loss)
            self.tf.summary.scalar("loss/adversarial", g_loss)

    def montage(self, step, bgr_image, tag="montage"):
        """A montage as written to disk (OpenCV's BGR), shown as RGB."""
        rgb = bgr_image[..., ::-1] if bgr_image.ndim == 3 else bgr_image
        with self.writer.as_default(step=step):
            self.tf.summary.image(tag, rgb[None], max_outputs=1)

    def quality(self, step, result, prefix="quality"):
        with self.writer.as_default(step=step):
            for key in ("fd", "kid", "entropy", "min_share"):
                self.tf.summary.scalar(f"{prefix}/{key}", result[key])

    def flush(self):
        self.writer.flush()

    def close(self):
        self.writer.close()
