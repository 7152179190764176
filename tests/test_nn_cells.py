"""`tl.nn.PeepholeLSTMCell` and `tl.nn.LayerNormLSTMCell` against an independent float64 numpy
implementation of their papers' equations (forward, and gradients by central differences of
that implementation), gradcheck, parameters and init, dtypes, unrolled by `tl.nn.Recurrent`."""

import numpy as np
import pytest

import tinygrad_lstm as tl
from module_checks import gradcheck_module

T, B, D, H = 4, 3, 5, 4


# --------------------------------------------------------------------------- the papers' equations in numpy
def sigmoid(v):
    return 1 / (1 + np.exp(-v))


def gate_rows(weight, k):
    """Rows of gate k (order i, f, g, o) of a (4H, ...) weight or a (4H,) bias."""
    hidden = weight.shape[0] // 4
    return weight[k * hidden:(k + 1) * hidden]


def peephole_step(p, x, h, c):
    """Gers & Schmidhuber 2000 / Graves 2013, gate by gate."""
    def pre(k):
        return (x @ gate_rows(p["weight_ih"], k).T + gate_rows(p["bias_ih"], k)
                + h @ gate_rows(p["weight_hh"], k).T + gate_rows(p["bias_hh"], k))
    i = sigmoid(pre(0) + p["weight_ci"] * c)
    f = sigmoid(pre(1) + p["weight_cf"] * c)
    g = np.tanh(pre(2))
    c_new = f * c + i * g
    o = sigmoid(pre(3) + p["weight_co"] * c_new)
    return o * np.tanh(c_new), c_new


def layer_norm(v, gain, shift, eps):
    mean = v.mean(axis=-1, keepdims=True)
    variance = ((v - mean) ** 2).mean(axis=-1, keepdims=True)
    return (v - mean) / np.sqrt(variance + eps) * gain + shift


def layer_norm_step(p, x, h, c, eps=1e-5):
    """Ba et al. 2016: LN over all 4H pre-activations of each of W_ih x and W_hh h."""
    gates = (layer_norm(x @ p["weight_ih"].T, p["ln_ih.weight"], p["ln_ih.bias"], eps)
             + layer_norm(h @ p["weight_hh"].T, p["ln_hh.weight"], p["ln_hh.bias"], eps) + p["bias"])
    i, f, g, o = (gate_rows(gates.T, k).T for k in range(4))
    c_new = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(layer_norm(c_new, p["ln_c.weight"], p["ln_c.bias"], eps)), c_new


STEPS = {"PeepholeLSTMCell": peephole_step, "LayerNormLSTMCell": layer_norm_step}


def unroll(step, values):
    """The numpy sequence: ``(outputs (T, B, H), h_T, c_T)`` from ``values`` (parameters, x, h0, c0)."""
    h, c = values["h0"], values["c0"]
    outputs = []
    for x_t in values["x"]:
        h, c = step(values, x_t, h, c)
        outputs.append(h)
    return np.stack(outputs), h, c


def numpy_loss(step, values, weights):
    outputs, h, c = unroll(step, values)
    return (weights[0] * outputs).sum() + (weights[1] * h).sum() + (weights[2] * c).sum()


def central_differences(step, values, weights, delta=3e-4):
    """d loss / d every array of `values`, by the fourth-order central difference (error ~1e-11 here)."""
    grads = {}
    for name, array in values.items():
        grad = np.zeros_like(array)
        flat, flat_grad = array.reshape(-1), grad.reshape(-1)
        for k in range(flat.size):
            original = flat[k]
            samples = []
            for offset in (2, 1, -1, -2):
                flat[k] = original + offset * delta
                samples.append(numpy_loss(step, values, weights))
            flat[k] = original
            flat_grad[k] = (-samples[0] + 8 * samples[1] - 8 * samples[2] + samples[3]) / (12 * delta)
        grads[name] = grad
    return grads


def random_values(cell, rng):
    """Random parameters (LayerNorm gains and shifts too), inputs and initial state in float64."""
    values = {name: rng.uniform(-1, 1, p.shape) for name, p in cell.named_parameters()}
    values.update(x=rng.standard_normal((T, B, cell.input_size)), h0=rng.standard_normal((B, H)) * 0.5,
                  c0=rng.standard_normal((B, H)) * 0.5)
    return values


# --------------------------------------------------------------------------- against the equations
@pytest.mark.parametrize("kind", ["PeepholeLSTMCell", "LayerNormLSTMCell"])
def test_forward_and_gradients_match_the_papers_equations(kind):
    tl.manual_seed(0)
    rng = np.random.default_rng(0)
    cell = getattr(tl.nn, kind)(D, H, dtype=np.float64)
    values = random_values(cell, rng)
    cell.load_state_dict({name: values[name] for name, _ in cell.named_parameters()})
    weights = [rng.standard_normal(shape) for shape in ((T, B, H), (B, H), (B, H))]

    x = tl.Tensor(values["x"], requires_grad=True)
    h0 = tl.Tensor(values["h0"], requires_grad=True)
    c0 = tl.Tensor(values["c0"], requires_grad=True)
    outputs, (h_n, c_n) = tl.nn.Recurrent(cell)(x, (h0, c0))
    expected_outputs, expected_h, expected_c = unroll(STEPS[kind], values)
    for ours, theirs in ((outputs, expected_outputs), (h_n, expected_h), (c_n, expected_c)):
        np.testing.assert_allclose(ours.data, theirs, rtol=0, atol=1e-12)

    ((outputs * weights[0]).sum() + (h_n * weights[1]).sum() + (c_n * weights[2]).sum()).backward()
    expected = central_differences(STEPS[kind], values, weights)
    ours = {name: p.grad for name, p in cell.named_parameters()}
    ours.update(x=x.grad, h0=h0.grad, c0=c0.grad)
    assert ours.keys() == expected.keys()
    for name in expected:
        np.testing.assert_allclose(ours[name], expected[name], rtol=0, atol=1e-10, err_msg=name)


def test_peephole_without_peepholes_is_the_lstm_cell():
    tl.manual_seed(1)
    lstm = tl.nn.LSTMCell(D, H, dtype=np.float64)
    peephole = tl.nn.PeepholeLSTMCell(D, H, dtype=np.float64)
    state = {name: array for name, array in lstm.state_dict().items()}
    state.update({name: np.zeros(H) for name in ("weight_ci", "weight_cf", "weight_co")})
    peephole.load_state_dict(state)
    x = np.random.default_rng(1).standard_normal((B, D))
    for ours, theirs in zip(peephole(x), lstm(x)):
        np.testing.assert_allclose(ours.data, theirs.data, rtol=0, atol=1e-15)


def test_peephole_weights_act_where_the_paper_says():
    """w_ci and w_cf see the previous c (no effect from a zero state), w_co the new c."""
    tl.manual_seed(2)
    cell = tl.nn.PeepholeLSTMCell(D, H, dtype=np.float64)
    x = np.random.default_rng(2).standard_normal((B, D))
    h, c = cell(x)
    h.sum().backward()
    np.testing.assert_array_equal(cell.weight_ci.grad, 0)
    np.testing.assert_array_equal(cell.weight_cf.grad, 0)
    assert np.abs(cell.weight_co.grad).min() > 0


# --------------------------------------------------------------------------- gradcheck
@pytest.mark.parametrize("kind", ["PeepholeLSTMCell", "LayerNormLSTMCell"])
@pytest.mark.parametrize("bias", [True, False])
def test_gradcheck_inputs_state_and_parameters(kind, bias):
    tl.manual_seed(3)
    cell = getattr(tl.nn, kind)(3, 2, bias=bias, dtype=np.float64)
    rng = np.random.default_rng(3)
    inputs = [tl.Tensor(rng.standard_normal(shape), requires_grad=True) for shape in ((2, 3), (2, 2), (2, 2))]
    parameters = [tl.Tensor(rng.uniform(-1, 1, p.shape), requires_grad=True) for p in cell.parameters()]
    assert gradcheck_module(cell, lambda x, h, c: cell(x, (h, c)), inputs, parameters=parameters)


# --------------------------------------------------------------------------- parameters, init, shapes
def test_parameter_names_shapes_and_init():
    tl.manual_seed(4)
    hidden = 64
    peephole = tl.nn.PeepholeLSTMCell(D, hidden)
    assert [(n, p.shape) for n, p in peephole.named_parameters()] == [
        ("weight_ih", (4 * hidden, D)), ("weight_hh", (4 * hidden, hidden)), ("bias_ih", (4 * hidden,)),
        ("bias_hh", (4 * hidden,)), ("weight_ci", (hidden,)), ("weight_cf", (hidden,)), ("weight_co", (hidden,))]
    layer_norm_cell = tl.nn.LayerNormLSTMCell(D, hidden)
    assert [(n, p.shape) for n, p in layer_norm_cell.named_parameters()] == [
        ("weight_ih", (4 * hidden, D)), ("weight_hh", (4 * hidden, hidden)), ("bias", (4 * hidden,)),
        ("ln_ih.weight", (4 * hidden,)), ("ln_ih.bias", (4 * hidden,)), ("ln_hh.weight", (4 * hidden,)),
        ("ln_hh.bias", (4 * hidden,)), ("ln_c.weight", (hidden,)), ("ln_c.bias", (hidden,))]
    bound = 1 / np.sqrt(hidden)
    uniform = [p for n, p in peephole.named_parameters()] + [
        p for n, p in layer_norm_cell.named_parameters() if not n.startswith("ln_")]
    for p in uniform:
        assert p.dtype == np.float32
        assert np.abs(p.data).max() <= bound and np.abs(p.data).max() > 0.8 * bound
    for norm in (layer_norm_cell.ln_ih, layer_norm_cell.ln_hh, layer_norm_cell.ln_c):
        np.testing.assert_array_equal(norm.weight.data, 1)
        np.testing.assert_array_equal(norm.bias.data, 0)
    assert [n for n, _ in tl.nn.LayerNormLSTMCell(D, H, bias=False).named_parameters()][:3] == [
        "weight_ih", "weight_hh", "ln_ih.weight"]
    assert [n for n, _ in tl.nn.PeepholeLSTMCell(D, H, bias=False).named_parameters()] == [
        "weight_ih", "weight_hh", "weight_ci", "weight_cf", "weight_co"]
    assert tl.nn.LayerNormLSTMCell(D, H, eps=1e-3).ln_c.eps == 1e-3


@pytest.mark.parametrize("kind", ["PeepholeLSTMCell", "LayerNormLSTMCell"])
def test_same_seed_same_parameters(kind):
    tl.manual_seed(5)
    first = getattr(tl.nn, kind)(D, H).state_dict()
    tl.manual_seed(5)
    second = getattr(tl.nn, kind)(D, H).state_dict()
    for name in first:
        np.testing.assert_array_equal(first[name], second[name])


@pytest.mark.parametrize("kind", ["PeepholeLSTMCell", "LayerNormLSTMCell"])
def test_float32_unbatched_and_default_state(kind):
    tl.manual_seed(6)
    cell = getattr(tl.nn, kind)(D, H)
    assert cell.input_size == D and cell.hidden_size == H and cell.dtype == np.float32
    x = tl.Tensor(np.random.default_rng(6).standard_normal((B, D)), dtype=np.float32, requires_grad=True)
    h, c = cell(x)
    assert h.shape == c.shape == (B, H) and h.dtype == c.dtype == np.float32
    (h.sum() + c.sum()).backward()
    assert x.grad.dtype == np.float32 and all(p.grad.dtype == np.float32 for p in cell.parameters())
    h1, c1 = cell(x.data[0])
    assert h1.shape == (H,)
    np.testing.assert_allclose(h1.data, h.data[0], rtol=1e-6)
    zeros = cell.init_state(B)
    assert isinstance(zeros, tuple) and all(z.shape == (B, H) and not z.data.any() for z in zeros)


@pytest.mark.parametrize("kind", ["PeepholeLSTMCell", "LayerNormLSTMCell"])
def test_bad_inputs_are_clear_errors(kind):
    cell = getattr(tl.nn, kind)(D, H)
    with pytest.raises(ValueError, match=rf"{kind}: input size 3 does not match input_size={D}"):
        cell(np.zeros((B, 3)))
    with pytest.raises(ValueError, match=rf"{kind}: expected c of shape \({B}, {H}\)"):
        cell(np.zeros((B, D)), (np.zeros((B, H)), np.zeros((B, H + 1))))
    with pytest.raises(TypeError, match=rf"{kind}: state must be a tuple"):
        cell(np.zeros((B, D)), np.zeros((B, H)))
    with pytest.raises(ValueError, match=rf"{kind}: hidden_size must be at least 1"):
        getattr(tl.nn, kind)(D, 0)
@pytest.mark.parametrize("kind", ["PeepholeLSTMCell", "LayerNormLSTMCell"])
def test_stacked_bidirectional_with_lengths_trains(kind):
    """Unrolled by `Recurrent` in 2 bidirectional layers with variable lengths: finite gradients for all."""
    tl.manual_seed(7)
    model = tl.nn.Recurrent(getattr(tl.nn, kind)(D, H), num_layers=2, bidirectional=True)
    x = np.random.default_rng(7).standard_normal((T, B, D))
    output, (h_n, c_n) = model(x, lengths=[4, 2, 1])
    assert output.shape == (T, B, 2 * H) and h_n.shape == c_n.shape == (4, B, H)
    np.testing.assert_array_equal(output.data[2:, 1], 0)
    (output.sum() + h_n.sum()).backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and np.isfinite(parameter.grad).all(), name
