"""`TorchAdam`: Adam with PyTorch's formula (what the authors' `torch.optim.Adam` computes).

The two libraries place epsilon differently (`docs/official_training.md`):

    PyTorch  p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)       eps 1e-8
    Keras    p -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)        eps 1e-7

i.e. Keras's epsilon acts on the *uncorrected* root, an effective eps of eps / sqrt(1 - b2^t)
(3.2e-6 at t = 1): the two differ wherever |g| is small, which is most of a GAN's first steps.
`TorchAdam` keeps Keras's Adam (its slots, checkpoints, loss scaling, distribution) and replaces
only the update with PyTorch's, operation for operation.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="pinet_tf")
class TorchAdam(keras.optimizers.Adam):
    """Keras Adam with PyTorch's update; defaults are the authors' (lr 2e-4, betas (0.5, 0.999),
    eps 1e-8, no weight decay)."""

    def __init__(self, learning_rate=2e-4, beta_1=0.5, beta_2=0.999, epsilon=1e-8,
                 amsgrad=False, name="torch_adam", **kwargs):
        if amsgrad:
            raise ValueError("TorchAdam implements plain Adam (the authors' optimizer); "
                             "amsgrad is not supported")
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, amsgrad=False, name=name, **kwargs)

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        t = ops.cast(self.iterations + 1, dtype)
        # convert_to_tensor(dtype=...), not cast: a Python float would pass through float32.
        beta_1 = ops.convert_to_tensor(self.beta_1, dtype=dtype)
        beta_2 = ops.convert_to_tensor(self.beta_2, dtype=dtype)
        bias_correction1 = 1 - ops.power(beta_1, t)
        bias_correction2_sqrt = ops.sqrt(1 - ops.power(beta_2, t))
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - self.beta_1))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), 1 - self.beta_2))
        denom = ops.add(ops.divide(ops.sqrt(v), bias_correction2_sqrt), self.epsilon)
        self.assign_sub(variable, ops.multiply(ops.divide(m, denom), lr / bias_correction1))
