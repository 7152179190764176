"""BPTT of stacked, bidirectional layers, composed by hand from the one-layer functions of ``fused.py``.

PyTorch's layout: layer ``k`` reads the concatenated outputs of both directions of layer
``k - 1``; the reverse direction runs the one-layer function on the time-reversed sequence
and its output is reversed back. States are ``(num_layers * num_directions, B, H)`` per
part, index ``layer * num_directions + direction``. Nothing here differentiates anything:
the gradient of a layer's input is handed to the layer below, summed over directions.
"""
import numpy as np

WEIGHT_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def stacked_bptt(forward, backward, x, states, weights, grad_output, grad_finals, state_keys=("h0",), **options):
    """Forward and backward of ``len(weights)`` layers of ``len(weights[0])`` directions.

    Parameters
    ----------
    forward, backward : callable
        A one-layer pair of ``fused.py`` (``lstm_forward_fused``, ``lstm_backward_fused``):
        ``forward(x, *states, weight_ih, weight_hh, bias_ih, bias_hh, **options) -> (output,
        final, cache)`` and ``backward(grad_output, *grad_finals, cache) -> dict``.
    x : ndarray (T, B, D)
    states : list of ndarray
        One array ``(num_layers * num_directions, B, H)`` per state part (``h``, then ``c``).
    weights : list of list of tuple
        ``weights[layer][direction]`` = ``(weight_ih, weight_hh, bias_ih, bias_hh)``, None for
        an absent bias.
    grad_output : ndarray (T, B, num_directions * H)
    grad_finals : list of ndarray
        The gradients of the final states, shaped like `states`.
    state_keys : tuple of str
        The keys of the initial-state gradients in `backward`'s dict, in the order of `states`.
    **options
        Passed to `forward` (``nonlinearity``).

    Returns
    -------
    weight_grads : list of list of dict
        ``weight_grads[layer][direction]`` maps ``weight_ih``, ``weight_hh`` and the given
        biases to their gradients.
    grad_x : ndarray (T, B, D)
    grad_states : list of ndarray
        Shaped like `states`.
    """
    directions = len(weights[0])
    caches, layer_input = [], x
    for layer, per_direction in enumerate(weights):
        outputs = []
        for direction, layer_weights in enumerate(per_direction):
            index = layer * directions + direction
            sequence = layer_input[::-1] if direction else layer_input
            output, _, cache = forward(sequence, *(s[index] for s in states), *layer_weights, **options)
            caches.append(cache)
            outputs.append(output[::-1] if direction else output)
        layer_input = np.concatenate(outputs, axis=2)

    weight_grads = [[None] * directions for _ in weights]
    grad_states = [np.zeros_like(s) for s in states]
    grad_layer = grad_output
    hidden = states[0].shape[-1]
    for layer in reversed(range(len(weights))):
        grad_input = 0
        for direction in range(directions):
            index = layer * directions + direction
            grad = grad_layer[:, :, direction * hidden:(direction + 1) * hidden]
            grad = np.ascontiguousarray(grad[::-1] if direction else grad)
            grads = backward(grad, *(g[index] for g in grad_finals), caches[index])
            grad_x = grads["x"]
            grad_input = grad_input + (grad_x[::-1] if direction else grad_x)
            for part, key in enumerate(state_keys):
                grad_states[part][index] = grads[key]
            weight_grads[layer][direction] = {name: grads[name] for name in WEIGHT_NAMES if name in grads}
        grad_layer = grad_input
    return weight_grads, grad_layer, grad_states
