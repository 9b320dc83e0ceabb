"""Where a run stands, besides its weights and its configuration: position,
benchmark noise and loss history.  A fresh run starts one; --resume reads
one back from the newest checkpoint; every checkpoint writes it out."""
import dataclasses
import importlib.metadata
import os
import uuid

import numpy as np

from ..runfiles import checkpoint as ckpt
from ..errors import UserError


def keras_version():
    """Keras' version, without importing it where its package metadata
    says it (a second, not ten)."""
    try:
        return importlib.metadata.version("keras")
    except importlib.metadata.PackageNotFoundError:   # keras-nightly, ...
        import keras
        return keras.__version__


@dataclasses.dataclass
class RunState:
    epoch: int = 0                 # epochs completed
    batch: int = 0                 # batches done into epoch `epoch + 1`
    benchmark_noise: np.ndarray = None
    history: list = dataclasses.field(default_factory=list)
    checkpoint: str = None         # the file this state was read from
    replicas: int = 1              # how many replicas trained up to it
    # which run wrote a checkpoint: another run's, dropped among this
    # run's, is refused on resume instead of being continued
    run_id: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex)
    _saved: tuple = dataclasses.field(default=None, repr=False)

    @classmethod
    def resume(cls, output):
        """The newest checkpoint's state and its run's settings (a dict,
        for config.RunConfig.resumed), or a UserError saying why not.
        Reads settings and position only: the weights are set by restore()
        once the models exist."""
        path = ckpt.latest_checkpoint(output)
        if path is None:
            raise UserError(f"--resume: no checkpoint in "
                            f"{ckpt.checkpoint_dir(output)}; train without "
                            "--resume first")
        weights, meta, arrays = ckpt.load_checkpoint(path)
        ckpt.check_keras_version(path, meta, keras_version())
        try:
            ckpt.check_arrays(meta, arrays)
        except (KeyError, ValueError) as e:
            raise UserError(f"checkpoint {path} is damaged ({e}); move it "
                            "away to resume from an older one, or train "
                            "afresh in another --output") from None
        check_one_run(output, path, meta.get("run_id"))
        try:
            state = cls(run_id=meta.get("run_id") or uuid.uuid4().hex,
                        epoch=meta["epoch"], batch=meta["batch"],
                        benchmark_noise=arrays["benchmark_noise"],
                        history=[tuple(row) for row in arrays["history"]],
                        checkpoint=path, replicas=meta.get("replicas", 1),
                        _saved=(weights, meta, arrays))
            return state, meta["settings"]
        except KeyError as e:
            raise UserError(f"checkpoint {path} lacks its {e.args[0]}: it "
                            "was not written by a training run of this "
                            "project; move it away, or train afresh in "
                            "another --output") from None

    @property
    def epochs_begun(self):
        """A checkpoint in mid-epoch has begun the next epoch."""
        return self.epoch + (self.batch > 0)

    def finished(self, epochs):
        return self.batch == 0 and self.epoch >= epochs

    def restore(self, trainer):
        """Put the checkpoint's weights, optimizer slots and random state
        back into a freshly built trainer."""
        weights, meta, arrays = self._saved
        shapes = {name: tuple(variable.shape) for name, variable
                  in ckpt.trainer_variables(trainer).items()}
        ckpt.set_state(trainer, ckpt.fit_state(self.checkpoint, meta, weights,
                                               shapes))
        ckpt.set_rng_state(arrays, meta["rng"])

    def epoch_order(self, epoch, count, config):
        """Where each batch of `epoch` takes its images from: None for the
        data's order, or with --shuffle a permutation of its
        own for each epoch, from the run's --seed (else its id), so that a
        resumed epoch goes on in the same order."""
        if not config.shuffle:
            return None
        seed = config.seed if config.seed is not None else int(
            self.run_id[:16], 16)
        return np.random.default_rng([seed, epoch]).permutation(count)

    def record(self, epoch, batch, d_loss, g_loss):
        self.history.append((epoch, batch, d_loss, g_loss))

    def save(self, output, trainer, config, batches_per_epoch, keep):
        """Write a checkpoint of this state, the run's configuration and the
        trainer's weights."""
        rng_arrays, rng_meta = ckpt.get_rng_state()
        arrays = dict(rng_arrays, benchmark_noise=self.benchmark_noise,
                      history=np.asarray(self.history,
                                         dtype="float64").reshape(-1, 4))
        meta = {"epoch": self.epoch, "batch": self.batch,
                "settings": config.to_dict(), "rng": rng_meta,
                "keras_version": keras_version(), "run_id": self.run_id,
                "replicas": getattr(trainer, "replicas", 1)}
        global_step = self.epoch * batches_per_epoch + self.batch
        return ckpt.save_checkpoint(output, global_step,
                                    ckpt.get_state(trainer), meta, arrays,
                                    keep=keep)


def check_one_run(output, newest, run_id):
    """Refuse to resume from a folder whose checkpoints come from more than
    one run (checkpoints from before runs had ids count as any run),
    listing which checkpoints belong to which run."""
    if run_id is None:
        return
    runs = {run_id: []}             # the newest's run first
    for path in ckpt.list_checkpoints(output):
        try:
            other = run_id if path == newest else ckpt.load_meta(path).get(
                "run_id")
        except UserError:
            continue        # a damaged older checkpoint is not a second run
        runs.setdefault(other or run_id, []).append(os.path.basename(path))
    if len(runs) == 1:
        return
    groups = [names_line(names) for names in runs.values()]
    raise UserError(
        f"{ckpt.checkpoint_dir(output)} holds checkpoints of {len(runs)} "
        f"runs: the newest's run wrote {groups[0]}; "
        + "; ".join(f"another wrote {group}" for group in groups[1:])
        + ". Move the other runs' checkpoints away, then resume")


def names_line(names, most=4):
    """'a, b and c', at most `most` names and how many more."""
    shown = names[:most] + ([f"{len(names) - most} more"]
                            if len(names) > most else [])
    return shown[0] if len(shown) == 1 else \
        ", ".join(shown[:-1]) + " and " + shown[-1]
