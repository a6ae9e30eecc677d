"""Models: the embedded llama.cpp server, any LiteLLM id, the replay model, fallbacks between
models, and what constrains a model's replies on each backend. `registry` picks the kind."""

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # nothing is fetched from the internet
