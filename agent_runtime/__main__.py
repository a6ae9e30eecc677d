from agent_runtime.cli.main import entry

entry()
