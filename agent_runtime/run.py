"""`python -m agent_runtime.run` (the original instructions' form): the same as `agent-runtime`."""

from agent_runtime.cli.main import entry

if __name__ == "__main__":
    entry()
