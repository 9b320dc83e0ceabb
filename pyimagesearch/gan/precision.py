"""Opt-in mixed precision: bf16 where the hardware computes it fast (CPUs
with AVX512_BF16 or AMX, GPUs from compute capability 8.0), fp16 with loss
scaling on older GPUs.  Variables and the models' outputs stay float32."""
import keras
import tensorflow as tf

from ..errors import UserError


def cpu_has_bf16(cpuinfo="/proc/cpuinfo"):
    try:
        with open(cpuinfo) as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def choose_policy():
    """The mixed policy for this machine, or a UserError saying why none."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        capability = details.get("compute_capability", (0, 0))
        # Keras wraps the optimizer in a LossScaleOptimizer for fp16
        return "mixed_bfloat16" if capability >= (8, 0) else "mixed_float16"
    if cpu_has_bf16():
        return "mixed_bfloat16"
    raise UserError("--mixed-precision: this CPU has no bf16 instructions "
                    "(avx512_bf16 or amx_bf16) and no GPU was found, so it "
                    "would only be slower; train without the flag")


def enable_mixed_precision():
    policy = choose_policy()
    keras.mixed_precision.set_global_policy(policy)
    return policy


def float32_output(model):
    """Run the last layer (tanh or sigmoid) in float32: bf16 keeps ~3
    significant digits, too few for a probability near 1 in the loss."""
    model.layers[-1].dtype_policy = "float32"
    return model
