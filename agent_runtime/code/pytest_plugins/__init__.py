"""pytest plugins that only pytest loads, inside the sandbox, under the project's own Python: a
traced test run puts this folder on PYTHONPATH and names one with `-p` (code/values.py,
code/spectrum.py). The agent's process never imports them, and they never import pytest: pytest
finds their hooks by name. Python 3.7+ (a project's interpreter may be old)."""
