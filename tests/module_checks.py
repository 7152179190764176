"""Shared by the nn tests: gradcheck of a call with respect to its inputs and a module's parameters."""
import tinygrad_lstm as tl


class _Calling(tl.nn.Module):
    """`call` as the forward of a module holding `module`, so `tl.func.functional_call` can swap
    the parameters that `call` reads through `module`."""

    def __init__(self, module, call):
        super().__init__()
        self.module, self.call = module, call

    def forward(self, *inputs):
        return self.call(*inputs)


def gradcheck_module(module, call, inputs, seed=None, parameters=None):
    """gradcheck ``call(*inputs)`` with respect to the inputs and every parameter of `module`
    (fresh tensors of their values, or the given `parameters` in `named_parameters` order).

    With a `seed`, every evaluation draws the same random masks.
    """
    names = [f"module.{name}" for name, _ in module.named_parameters()]
    if parameters is None:
        parameters = [tl.Tensor(p.data, requires_grad=True) for p in module.parameters()]
    count, owner = len(inputs), _Calling(module, call)

    def fn(*tensors):
        if seed is not None:
            tl.manual_seed(seed)
        return tl.func.functional_call(owner, dict(zip(names, tensors[count:])), tensors[:count])

    return tl.gradcheck(fn, list(inputs) + list(parameters))
