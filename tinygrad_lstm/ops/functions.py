"""PyTorch's functions of a tensor: ``tl.tanh(x)``, ``tl.sum(x, dim)``, ``tl.transpose(x, 0, 1)``, ...

Each is the Tensor method of the same name applied to its first argument, as in PyTorch
(``torch.tanh(x)`` is ``x.tanh()``), so the two can never differ. `where`, which orders its
arguments differently from ``Tensor.where``, is written out; `cat`, `stack` and `addmm` live
with their ops.
"""
from __future__ import annotations

import functools
import inspect

from ..engine import Tensor
from .indexing import Where, bool_mask


def _function(method):
    """``method`` as a function whose first argument, `input`, must be a Tensor."""
    name = method.__name__

    @functools.wraps(method)
    def function(input, *args, **kwargs):
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: expected a Tensor as input, got {type(input).__name__}")
        return method(input, *args, **kwargs)

    parameters = list(inspect.signature(method).parameters.values())
    function.__signature__ = inspect.Signature([parameters[0].replace(name="input")] + parameters[1:])
    del function.__wrapped__  # so that the signature above is the one shown
    return function


abs = _function(Tensor.abs)
sign = _function(Tensor.sign)
exp = _function(Tensor.exp)
log = _function(Tensor.log)
log1p = _function(Tensor.log1p)
sqrt = _function(Tensor.sqrt)
tanh = _function(Tensor.tanh)
sigmoid = _function(Tensor.sigmoid)
relu = _function(Tensor.relu)
neg = _function(Tensor.neg)
add = _function(Tensor.add)
sub = _function(Tensor.sub)
mul = _function(Tensor.mul)
div = _function(Tensor.div)
pow = _function(Tensor.pow)
matmul = _function(Tensor.matmul)
mm = _function(Tensor.mm)
bmm = _function(Tensor.bmm)
clamp = _function(Tensor.clamp)
clip = _function(Tensor.clip)
maximum = _function(Tensor.maximum)
minimum = _function(Tensor.minimum)

sum = _function(Tensor.sum)
mean = _function(Tensor.mean)
prod = _function(Tensor.prod)
var = _function(Tensor.var)
std = _function(Tensor.std)
norm = _function(Tensor.norm)
amax = _function(Tensor.amax)
amin = _function(Tensor.amin)
max = _function(Tensor.max)
min = _function(Tensor.min)
argmax = _function(Tensor.argmax)
argmin = _function(Tensor.argmin)
all = _function(Tensor.all)
any = _function(Tensor.any)
logsumexp = _function(Tensor.logsumexp)
softmax = _function(Tensor.softmax)
log_softmax = _function(Tensor.log_softmax)

reshape = _function(Tensor.reshape)
flatten = _function(Tensor.flatten)
unflatten = _function(Tensor.unflatten)
squeeze = _function(Tensor.squeeze)
unsqueeze = _function(Tensor.unsqueeze)
permute = _function(Tensor.permute)
transpose = _function(Tensor.transpose)
t = _function(Tensor.t)
swapaxes = _function(Tensor.swapaxes)
swapdims = _function(Tensor.swapdims)
movedim = _function(Tensor.movedim)
moveaxis = _function(Tensor.moveaxis)
broadcast_to = _function(Tensor.broadcast_to)
repeat_interleave = _function(Tensor.repeat_interleave)
flip = _function(Tensor.flip)
roll = _function(Tensor.roll)
split = _function(Tensor.split)
chunk = _function(Tensor.chunk)
tensor_split = _function(Tensor.tensor_split)
unbind = _function(Tensor.unbind)
gather = _function(Tensor.gather)
masked_fill = _function(Tensor.masked_fill)
clone = _function(Tensor.clone)


def where(condition, input=None, other=None):
    """``where(condition, input, other)``: `input` where the boolean `condition` holds, `other`
    elsewhere, all broadcast together (``torch.where``, ``numpy.where``); the gradient flows to
    `input` and `other` where each was taken. ``where(condition)``: the indices of the True
    elements, a tuple of int64 tensors, one per dim (``torch.nonzero(as_tuple=True)``).

    Examples
    --------
    >>> import tinygrad_lstm as tl
    >>> x = tl.Tensor([-1.0, 2.0])
    >>> tl.where(x > 0, x, 0.0).data
    array([0., 2.])
    """
    mask = bool_mask("where", condition)
    if input is None and other is None:
        data = mask._data if isinstance(mask, Tensor) else mask
        return tuple(Tensor(i.astype("int64")) for i in data.reshape(data.shape or (1,)).nonzero())
    if input is None or other is None:
        raise TypeError("where: give both input and other, or neither")
    return Where.apply(mask, input, other)
