"""agent_runtime: a local-first coding agent with checked tools, a command policy, an OS sandbox and traces."""

import os
import sys

__version__ = "0.1.0"

# Before anything imports LiteLLM: read its model cost map from the package, never the internet.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

# Before anything imports smolagents or LiteLLM: both call python-dotenv's load_dotenv() at import,
# which puts a found .env whole into os.environ, and what it finds can be the repository's (the agent
# in the project's .venv, a debugger, `python -c`): LD_PRELOAD, XDG_*, OPENAI_API_BASE for every
# host program. Set, not defaulted: only config.py reads a .env (tests/safety/test_library_dotenv.py).
# Sandboxed programs get their own environment (safety/sandbox.py), so a project's tests still load theirs.
USER_DOTENV_SWITCH = os.environ.get("PYTHON_DOTENV_DISABLED")  # the user's own programs (hooks) get it back
os.environ["PYTHON_DOTENV_DISABLED"] = "1"


# `python -m agent_runtime[.run|.models.llama_server]` puts the current directory, often the repository,
# first on sys.path: its pydantic.py or llama_cpp/ would be imported on the host instead of the library.
# While -m imports this package, before anything else of it, sys.argv[0] is "-m" (tests/safety/test_start_directory.py).
if sys.argv[:1] == ["-m"] and not sys.flags.safe_path and sys.path[:1] in ([""], [os.getcwd()]):
    del sys.path[0]
