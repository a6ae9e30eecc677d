"""agent_runtime: a local-first coding agent with checked tools, a command policy, an OS sandbox and traces."""

import os

__version__ = "0.1.0"

# Before anything imports LiteLLM: read its model cost map from the package, never the internet.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
