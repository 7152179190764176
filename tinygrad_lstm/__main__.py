"""``python -m tinygrad_lstm``: the same command line as ``tinygrad-lstm``."""
import sys

from .cli import main

sys.exit(main())
