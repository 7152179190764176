"""ops/functions.py: ``tl.<name>(x, ...)`` is ``x.<name>(...)``, as ``torch.<name>``."""
import inspect

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm.ops import functions

METHOD_FORMS = [name for name in tl.ops.FUNCTIONS if name not in ("where", "cat", "concat", "concatenate", "stack",
                                                                 "addmm")]


@pytest.mark.parametrize("name", METHOD_FORMS)
def test_every_function_is_the_method_of_its_first_argument(name):
    function, method = getattr(tl, name), getattr(tl.Tensor, name)
    assert function.__doc__ == method.__doc__
    parameters = list(inspect.signature(function).parameters)
    assert parameters[0] == "input" and parameters[1:] == list(inspect.signature(method).parameters)[1:]
    with pytest.raises(TypeError, match=f"{name}: expected a Tensor as input, got list"):
        function([1.0, 2.0])


def test_functions_give_the_methods_results():
    x = tl.Tensor(np.random.default_rng(0).uniform(0.5, 2.0, (2, 3)), requires_grad=True)
    np.testing.assert_array_equal(tl.tanh(x).data, x.tanh().data)
    np.testing.assert_array_equal(tl.sum(x, 1, keepdim=True).data, x.sum(1, keepdim=True).data)
    np.testing.assert_array_equal(tl.transpose(x, 0, 1).data, x.transpose(0, 1).data)
    values, indices = tl.max(x, dim=1)
    np.testing.assert_array_equal(indices.data, x.data.argmax(1))
    assert tl.softmax(x, -1).grad_fn.name == "softmax"


def test_where_with_one_argument_gives_the_indices_of_the_true_elements():
    rows, = tl.where(tl.Tensor([False, True, True]))
    np.testing.assert_array_equal(rows.data, [1, 2])
    with pytest.raises(TypeError, match="where: give both input and other, or neither"):
        tl.where(tl.Tensor([True]), tl.ones(1))
    assert functions.where is tl.where
