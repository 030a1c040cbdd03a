"""``python -m botport.cli``: the same command as ``botport``."""

from botport.cli import app

app()
