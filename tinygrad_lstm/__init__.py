"""tinygrad_lstm: a small, exact and fast autograd on numpy for recurrent networks."""
