"""tinygrad_lstm.autograd: PyTorch's torch.autograd names in one place."""
import numpy as np

import tinygrad_lstm as tl


def test_torch_autograd_names_are_the_packages_own():
    assert tl.autograd.Function is tl.Function and tl.autograd.grad is tl.grad and tl.autograd.backward is tl.backward
    x = tl.Tensor(np.array([0.3, -0.8]), requires_grad=True)
    assert tl.autograd.gradcheck(lambda t: t.tanh() * t, [x])
    assert tl.autograd.gradgradcheck(lambda t: t.tanh() * t, [x])
