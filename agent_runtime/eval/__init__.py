"""The eval runner: task suites (JSONL), fresh repositories, parallel isolated attempts, checks
run after the agent, results and comparisons."""
