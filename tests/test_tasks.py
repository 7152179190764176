"""tinygrad_lstm.tasks: loading tasks, and the argument types that moved to the command line."""
import pytest

import tinygrad_lstm.cli
import tinygrad_lstm.tasks as tasks


@pytest.mark.parametrize("name", ["non_negative_int", "positive_int", "positive_float", "non_negative_float"])
def test_argument_types_moved_to_the_cli_keep_a_deprecated_alias(name):
    with pytest.warns(DeprecationWarning, match=f"tinygrad_lstm.tasks.{name} moved to tinygrad_lstm.cli.{name}"):
        alias = getattr(tasks, name)
    assert alias is getattr(tinygrad_lstm.cli, name)
    assert name not in tasks.__all__
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        tasks.nope  # noqa: B018


def test_load_task():
    assert tasks.load_task("adding").__name__ == "tinygrad_lstm.tasks.adding"
    with pytest.raises(KeyError, match="unknown task 'nope'; choose from adding, chars, sine"):
        tasks.load_task("nope")
