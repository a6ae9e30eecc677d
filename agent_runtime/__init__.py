"""agent_runtime: a local-first coding agent with checked tools, a command policy, an OS sandbox and traces."""

__version__ = "0.1.0"
