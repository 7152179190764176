"""The adapters between the classic layout and PyTorch's: every map round-trips to 1e-15, the
bias is split in two only as stated, and gradients map with both PyTorch biases receiving ``db``."""
import numpy as np
import pytest

from tinygrad_lstm import manual

N_X, N_A, N_Y, M, T_X = 3, 4, 2, 2, 5
ROUND_TRIP = {"rtol": 1e-15, "atol": 1e-15}


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def lstm_parameters(rng):
    params = {}
    for gate in "fico":
        params["W" + gate] = rng.standard_normal((N_A, N_A + N_X))
        params["b" + gate] = rng.standard_normal((N_A, 1))
    params.update(Wy=rng.standard_normal((N_Y, N_A)), by=rng.standard_normal((N_Y, 1)))
    return params


def rnn_parameters(rng):
    return {"Wax": rng.standard_normal((N_A, N_X)), "Waa": rng.standard_normal((N_A, N_A)),
            "ba": rng.standard_normal((N_A, 1)), "Wya": rng.standard_normal((N_Y, N_A)),
            "by": rng.standard_normal((N_Y, 1))}


def torch_layout(rng, gates):
    rows = gates * N_A
    return {"weight_ih": rng.standard_normal((rows, N_X)), "weight_hh": rng.standard_normal((rows, N_A)),
            "bias_ih": rng.standard_normal(rows), "bias_hh": rng.standard_normal(rows)}


def assert_same(actual, expected):
    assert set(actual) == set(expected)
    for name in expected:
        assert actual[name].shape == expected[name].shape, name
        np.testing.assert_allclose(actual[name], expected[name], **ROUND_TRIP, err_msg=name)


def test_lstm_params_to_torch_stacks_gates_i_f_g_o(rng):
    params = lstm_parameters(rng)
    torch_params = manual.lstm_params_to_torch(params)
    assert torch_params["weight_ih"].shape == (4 * N_A, N_X)
    assert torch_params["weight_hh"].shape == (4 * N_A, N_A)
    np.testing.assert_array_equal(torch_params["weight_ih"][:N_A], params["Wi"][:, N_A:])
    np.testing.assert_array_equal(torch_params["weight_hh"][N_A:2 * N_A], params["Wf"][:, :N_A])
    np.testing.assert_array_equal(torch_params["weight_ih"][2 * N_A:3 * N_A], params["Wc"][:, N_A:])
    np.testing.assert_array_equal(torch_params["bias_ih"][3 * N_A:], params["bo"][:, 0])
    np.testing.assert_array_equal(torch_params["bias_hh"], 0)  # as stated: the whole bias in bias_ih


@pytest.mark.parametrize("kind", ["lstm", "rnn"])
def test_params_round_trip_both_ways(rng, kind):
    to_torch = getattr(manual, f"{kind}_params_to_torch")
    from_torch = getattr(manual, f"{kind}_params_from_torch")
    output_layer = "Wy" if kind == "lstm" else "Wya"
    params = lstm_parameters(rng) if kind == "lstm" else rnn_parameters(rng)
    back = from_torch(to_torch(params), **{output_layer: params[output_layer], "by": params["by"]})
    assert_same(back, params)
    assert list(back)[-2:] == [output_layer, "by"]

    torch_params = torch_layout(rng, 4 if kind == "lstm" else 1)
    classic = from_torch(torch_params)
    assert output_layer not in classic
    assert_same(to_torch(classic, bias_hh=torch_params["bias_hh"]), torch_params)
    moved = to_torch(classic)  # without bias_hh: the whole bias in bias_ih, the same sum
    np.testing.assert_allclose(moved["bias_ih"], torch_params["bias_ih"] + torch_params["bias_hh"], **ROUND_TRIP)
    np.testing.assert_array_equal(moved["bias_hh"], 0)


def test_params_without_biases_mean_zero_bias(rng):
    params = rnn_parameters(rng)
    without_biases = manual.rnn_params_from_torch({"weight_ih": params["Wax"], "weight_hh": params["Waa"]})
    assert set(without_biases) == {"Wax", "Waa", "ba"}
    np.testing.assert_array_equal(without_biases["ba"], np.zeros((N_A, 1)))
    lstm = manual.lstm_params_from_torch({"weight_ih": np.ones((4 * N_A, N_X)), "weight_hh": np.ones((4 * N_A, N_A)),
                                          "bias_ih": None})
    np.testing.assert_array_equal(lstm["bf"], np.zeros((N_A, 1)))


@pytest.mark.parametrize("kind", ["lstm", "rnn"])
def test_grads_round_trip_both_ways(rng, kind):
    to_torch = getattr(manual, f"{kind}_grads_to_torch")
    from_torch = getattr(manual, f"{kind}_grads_from_torch")
    params = lstm_parameters(rng) if kind == "lstm" else rnn_parameters(rng)
    grads = {"d" + name: value for name, value in params.items() if name not in ("Wy", "Wya", "by")}
    torch_grads = to_torch({**grads, "dx": np.zeros((N_X, M, T_X))})  # other keys are ignored
    np.testing.assert_array_equal(torch_grads["bias_hh"], torch_grads["bias_ih"])
    assert_same(from_torch(torch_grads), grads)
    assert_same(to_torch(from_torch(torch_grads)), torch_grads)
    only_hh = {k: v for k, v in torch_grads.items() if k != "bias_ih"}
    assert_same(from_torch(only_hh), grads)


def test_bad_bias_arguments_raise(rng):
    params = lstm_parameters(rng)
    with pytest.raises(ValueError, match=r"lstm_params_to_torch: bias_hh must have shape \(16,\)"):
        manual.lstm_params_to_torch(params, bias_hh=np.zeros(N_A))
    with pytest.raises(KeyError, match="rnn_grads_from_torch"):
        manual.rnn_grads_from_torch({"weight_ih": np.zeros((N_A, N_X)), "weight_hh": np.zeros((N_A, N_A))})


@pytest.mark.parametrize("adapter, arrays, missing", [
    ("lstm_params_to_torch", {"Wf": np.zeros((N_A, N_A + N_X))}, "'bf', 'Wi'"),
    ("rnn_params_to_torch", {"Wax": np.zeros((N_A, N_X))}, "'Waa', 'ba'"),
    ("lstm_grads_to_torch", {}, "'dWf', 'dbf'"),
    ("rnn_grads_to_torch", {"dWax": np.zeros((N_A, N_X)), "dba": np.zeros((N_A, 1))}, "'dWaa'"),
    ("lstm_params_from_torch", {"weight_ih": np.zeros((4 * N_A, N_X))}, "'weight_hh'"),
    ("rnn_grads_from_torch", {"bias_ih": np.zeros(N_A)}, "'weight_ih', 'weight_hh'"),
])
def test_a_missing_key_is_a_key_error_naming_the_adapter_and_the_keys(adapter, arrays, missing):
    with pytest.raises(KeyError, match=rf"{adapter}: missing keys \[{missing}"):
        getattr(manual, adapter)(arrays)
    with pytest.raises(TypeError, match=f"{adapter}: expected a dict of arrays, got list"):
        getattr(manual, adapter)([arrays])


def test_data_round_trip(rng):
    x, a = rng.standard_normal((N_X, M, T_X)), rng.standard_normal((N_A, M))
    x_torch = manual.sequence_to_torch(x)
    assert x_torch.shape == (T_X, M, N_X) and x_torch.flags.c_contiguous
    np.testing.assert_array_equal(x_torch[2, 1], x[:, 1, 2])
    np.testing.assert_array_equal(manual.sequence_from_torch(x_torch), x)
    np.testing.assert_array_equal(manual.sequence_to_torch(manual.sequence_from_torch(x_torch)), x_torch)
    assert manual.state_to_torch(a).shape == (M, N_A)
    np.testing.assert_array_equal(manual.state_from_torch(manual.state_to_torch(a)), a)
    np.testing.assert_array_equal(manual.state_to_torch(manual.state_from_torch(a.T)), a.T)


def test_torch_computes_the_classic_lstm_and_its_gradients(rng):
    """PyTorch on the converted weights (with a nonzero bias_hh kept) matches the classic LSTM,
    and its parameter gradients are the classic ones converted by ``lstm_grads_to_torch``."""
    torch = pytest.importorskip("torch")
    params = lstm_parameters(rng)
    x, a0 = rng.standard_normal((N_X, M, T_X)), rng.standard_normal((N_A, M))
    da = rng.standard_normal((N_A, M, T_X))
    a, _, _, caches = manual.lstm_forward(x, a0, params)
    classic = manual.lstm_backward(da, caches)

    lstm = torch.nn.LSTM(N_X, N_A, dtype=torch.float64)
    weights = manual.lstm_params_to_torch(params, bias_hh=rng.standard_normal(4 * N_A))
    with torch.no_grad():
        for name, value in weights.items():
            getattr(lstm, f"{name}_l0").copy_(torch.from_numpy(value))
    output, _ = lstm(torch.from_numpy(manual.sequence_to_torch(x)),
                     (torch.from_numpy(manual.state_to_torch(a0))[None], torch.zeros(1, M, N_A, dtype=torch.float64)))
    np.testing.assert_allclose(output.detach().numpy(), manual.sequence_to_torch(a), rtol=1e-12, atol=1e-14)
    output.backward(torch.from_numpy(manual.sequence_to_torch(da)))
    expected = manual.lstm_grads_to_torch(classic)
    for name, value in expected.items():
        np.testing.assert_allclose(getattr(lstm, f"{name}_l0").grad.numpy(), value, rtol=1e-10, atol=1e-12,
                                   err_msg=name)
    assert_same(manual.lstm_grads_from_torch(expected), {k: v for k, v in classic.items() if k[:2] in ("dW", "db")})
