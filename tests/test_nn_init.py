"""`tl.nn.init` against `torch.nn.init`: fans, gains, bounds and statistics over large tensors,
orthogonality, in-place semantics, dtypes, seeds and errors."""
import math
import warnings

import numpy as np
import pytest

import tinygrad_lstm as tl
from tinygrad_lstm.nn import init

torch = pytest.importorskip("torch")

SHAPES = [(300, 400), (400, 300), (64, 32, 3, 3), (128, 16, 5)]


def pair(shape, dtype=np.float32):
    """A zero tl parameter and an empty torch tensor of the same shape."""
    return tl.nn.Parameter(np.zeros(shape), dtype=dtype), torch.empty(shape, dtype=torch.float64)


def moments(values):
    values = np.asarray(values, dtype=np.float64)
    return values.mean(), values.std(), values.min(), values.max()


@pytest.fixture(autouse=True)
def seeded():
    tl.manual_seed(0)
    torch.manual_seed(0)


def assert_like_torch(ours, theirs, uniform_bound=None):
    """Same mean and std (within 5 standard errors) and, for a uniform, the same bounds."""
    mean, std, low, high = moments(ours.data)
    t_mean, t_std, t_low, t_high = moments(theirs.numpy())
    count = ours.size
    assert abs(mean - t_mean) < 5 * t_std * math.sqrt(2 / count)
    assert std == pytest.approx(t_std, rel=5 / math.sqrt(count))
    if uniform_bound is not None:
        assert -uniform_bound <= low and high <= uniform_bound
        assert low == pytest.approx(t_low, rel=0.01) and high == pytest.approx(t_high, rel=0.01)


NONLINEARITIES = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
                  "sigmoid", "tanh", "relu", "leaky_relu", "selu"]


@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
def test_calculate_gain_is_torchs(nonlinearity):
    assert init.calculate_gain(nonlinearity) == pytest.approx(torch.nn.init.calculate_gain(nonlinearity), rel=1e-15)
    for param in (0.2, 1, 0):
        assert init.calculate_gain(nonlinearity, param) == pytest.approx(
            torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-15)


def test_calculate_gain_errors_as_torch():
    for args in (("softmax",), ("leaky_relu", True), ("leaky_relu", "0.1")):
        with pytest.raises(ValueError):
            torch.nn.init.calculate_gain(*args)
        with pytest.raises(ValueError, match="calculate_gain: "):
            init.calculate_gain(*args)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_xavier_like_torch(shape, gain):
    ours, theirs = pair(shape)
    fan_in = shape[1] * math.prod(shape[2:])
    fan_out = shape[0] * math.prod(shape[2:])
    bound = gain * math.sqrt(6 / (fan_in + fan_out))
    assert_like_torch(init.xavier_uniform_(ours, gain=gain), torch.nn.init.xavier_uniform_(theirs, gain=gain), bound)
    assert ours.data.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    assert_like_torch(init.xavier_normal_(ours, gain=gain), torch.nn.init.xavier_normal_(theirs, gain=gain))
    assert ours.data.std() == pytest.approx(gain * math.sqrt(2 / (fan_in + fan_out)), rel=0.02)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("a, mode, nonlinearity", [(0, "fan_in", "leaky_relu"), (math.sqrt(5), "fan_in", "leaky_relu"),
                                                   (0, "fan_out", "relu"), (0.3, "FAN_OUT", "leaky_relu"),
                                                   (0, "fan_in", "tanh")])
def test_kaiming_like_torch(shape, a, mode, nonlinearity):
    ours, theirs = pair(shape)
    fan = (shape[1] if mode.lower() == "fan_in" else shape[0]) * math.prod(shape[2:])
    std = torch.nn.init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    assert_like_torch(init.kaiming_uniform_(ours, a=a, mode=mode, nonlinearity=nonlinearity),
                      torch.nn.init.kaiming_uniform_(theirs, a=a, mode=mode, nonlinearity=nonlinearity),
                      math.sqrt(3) * std)
    assert_like_torch(init.kaiming_normal_(ours, a=a, mode=mode, nonlinearity=nonlinearity),
                      torch.nn.init.kaiming_normal_(theirs, a=a, mode=mode, nonlinearity=nonlinearity))
    assert ours.data.std() == pytest.approx(std, rel=0.02)


def test_linear_default_init_is_kaiming_uniform_with_a_sqrt5():
    """PyTorch's Linear: kaiming_uniform_(a=sqrt(5)) gives U(-1/sqrt(in), 1/sqrt(in)), as tl.nn.Linear."""
    ours, _ = pair((500, 400))
    init.kaiming_uniform_(ours, a=math.sqrt(5))
    reference = tl.nn.Linear(400, 500).weight.data
    assert np.abs(ours.data).max() == pytest.approx(np.abs(reference).max(), rel=1e-3)


def test_uniform_normal_and_constants_like_torch():
    ours, theirs = pair((500, 400))
    assert_like_torch(init.uniform_(ours, -2, 3), torch.nn.init.uniform_(theirs, -2, 3), None)
    assert ours.data.min() >= -2 and ours.data.max() < 3
    assert_like_torch(init.uniform_(ours), torch.nn.init.uniform_(theirs), None)
    assert ours.data.min() >= 0 and ours.data.max() < 1
    assert_like_torch(init.normal_(ours, 1.5, 0.3), torch.nn.init.normal_(theirs, 1.5, 0.3))
    assert ours.data.mean() == pytest.approx(1.5, abs=0.01) and ours.data.std() == pytest.approx(0.3, rel=0.02)
    np.testing.assert_array_equal(init.constant_(ours, 0.25).data, 0.25)
    np.testing.assert_array_equal(init.ones_(ours).data, 1)
    np.testing.assert_array_equal(init.zeros_(ours).data, 0)
    scalar = tl.nn.Parameter(np.array(3.0))
    assert init.normal_(scalar).shape == () and init.ones_(scalar).item() == 1


@pytest.mark.parametrize("shape", [(40, 40), (60, 25), (25, 60), (12, 3, 4), (5, 2, 3, 2)])
@pytest.mark.parametrize("gain", [1, 0.5])
def test_orthogonal_like_torch(shape, gain):
    ours, theirs = pair(shape, np.float64)
    init.orthogonal_(ours, gain=gain)
    torch.nn.init.orthogonal_(theirs, gain=gain)
    for q in (ours.data.reshape(shape[0], -1), theirs.numpy().reshape(shape[0], -1)):
        rows, cols = q.shape
        product = q.T @ q if rows >= cols else q @ q.T
        np.testing.assert_allclose(product, gain ** 2 * np.eye(min(rows, cols)), atol=1e-12)
    assert ours.shape == shape


def test_orthogonal_is_uniformly_distributed():
    """Haar-distributed: the sign correction makes E[Q] = 0 (without it the diagonal is biased)."""
    tl.manual_seed(0)
    mean = np.mean([init.orthogonal_(tl.nn.Parameter(np.zeros((4, 4)))).data for _ in range(4000)], axis=0)
    assert np.abs(mean).max() < 0.05


def test_in_place_returns_the_tensor_and_keeps_dtype_and_grad_flag():
    weight = tl.nn.Parameter(np.zeros((6, 4)), dtype=np.float32)
    array = weight.data
    for fill in (init.uniform_, init.normal_, init.xavier_uniform_, init.xavier_normal_, init.kaiming_uniform_,
                 init.kaiming_normal_, init.orthogonal_, init.ones_, init.zeros_, lambda t: init.constant_(t, 2)):
        assert fill(weight) is weight
        assert weight.data is array and weight.dtype == np.float32 and weight.requires_grad and weight.is_leaf
        assert weight.grad_fn is None


@pytest.mark.parametrize("fill", [init.uniform_, init.normal_, init.xavier_uniform_, init.xavier_normal_,
                                  init.kaiming_uniform_, init.kaiming_normal_, init.orthogonal_, init.ones_,
                                  init.zeros_, lambda t: init.constant_(t, 2)])
def test_the_version_counter_goes_up_and_stale_graphs_refuse_backward(fill):
    weight = tl.nn.Parameter(np.ones((3, 2)))
    before = weight._version
    y = (weight * weight).sum()   # saves the values of weight
    fill(weight)
    assert weight._version > before
    assert y.item() == 6
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()
    assert weight.grad is None


def test_seeded_and_generator_draws_repeat_and_agree_across_dtypes():
    tl.manual_seed(3)
    first = init.xavier_normal_(tl.nn.Parameter(np.zeros((5, 7)))).data.copy()
    tl.manual_seed(3)
    second = init.xavier_normal_(tl.nn.Parameter(np.zeros((5, 7)), dtype=np.float32)).data
    np.testing.assert_allclose(second, first, rtol=1e-6)
    third = init.kaiming_uniform_(tl.nn.Parameter(np.zeros((5, 7))), generator=np.random.default_rng(9)).data
    fourth = init.kaiming_uniform_(tl.nn.Parameter(np.zeros((5, 7))), generator=np.random.default_rng(9)).data
    np.testing.assert_array_equal(third, fourth)


def test_zero_element_tensors_as_torch():
    empty = tl.nn.Parameter(np.zeros((0, 3)))
    for fill in (init.kaiming_uniform_, init.kaiming_normal_):
        with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
            assert fill(empty) is empty
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert init.orthogonal_(empty) is empty
        assert init.uniform_(empty) is empty


@pytest.mark.parametrize("fill", [init.xavier_uniform_, init.xavier_normal_, init.kaiming_uniform_,
                                  init.kaiming_normal_])
def test_fans_need_two_dimensions_as_torch(fill):
    torch_fill = getattr(torch.nn.init, fill.__name__)
    with pytest.raises(ValueError):
        torch_fill(torch.empty(5))
    with pytest.raises(ValueError, match=rf"{fill.__name__}: fan in and fan out cannot be computed .* \(5,\)"):
        fill(tl.nn.Parameter(np.zeros(5)))


def test_bad_arguments():
    weight = tl.nn.Parameter(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="kaiming_normal_: mode 'fan_avg' is not supported"):
        init.kaiming_normal_(weight, mode="fan_avg")
    with pytest.raises(ValueError, match="calculate_gain: unsupported nonlinearity 'gelu'"):
        init.kaiming_uniform_(weight, nonlinearity="gelu")
    with pytest.raises(ValueError, match=r"orthogonal_: only tensors with 2 or more dimensions .* \(4,\)"):
        init.orthogonal_(tl.nn.Parameter(np.zeros(4)))
    with pytest.raises(ValueError, match="normal_: expects std >= 0, got -1"):
        init.normal_(weight, 0, -1)
    with pytest.raises(ValueError, match="uniform_: expects a <= b"):
        init.uniform_(weight, 1, 0)
    with pytest.raises(TypeError, match="zeros_: expected a tl.Tensor, got ndarray"):
        init.zeros_(np.zeros(3))
    with pytest.raises(TypeError, match="normal_: can only fill a floating-point tensor, got dtype int64"):
        init.normal_(tl.Tensor(np.zeros(3, np.int64)))
    np.testing.assert_array_equal(weight.data, 0)  # nothing half-changed


def test_constant_fills_take_any_dtype_as_torch():
    torch = pytest.importorskip("torch")
    for fill, args in [("zeros_", ()), ("ones_", ()), ("constant_", (2.7,))]:
        ours = getattr(init, fill)(tl.Tensor(np.full(3, 5, np.int64)), *args)
        theirs = getattr(torch.nn.init, fill)(torch.full((3,), 5, dtype=torch.int64), *args)
        assert ours.dtype == np.int64
        np.testing.assert_array_equal(ours.data, theirs.numpy())
