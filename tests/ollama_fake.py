"""OllamaProtocolFake: a stand-in for an Ollama server, for tests only.

Ollama cannot be installed here, so this speaks its documented HTTP protocol (GET /api/tags,
POST /api/chat without streaming) and answers from a script. It records every request so a
test can check what agent_runtime sent (num_ctx, the JSON schema in `format`, the messages).
It is a protocol fake, not a model: it never judges the content it is sent.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class OllamaProtocolFake:
    def __init__(self, models: list[str], replies: list[str | int]):
        """replies: a reply's content, or an HTTP status (e.g. 500) to answer with instead."""
        self.models = models
        self.replies = list(replies)
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _json(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802
                if self.path == "/api/tags":
                    self._json(200, {"models": [
                        {"name": m, "model": m, "modified_at": "2026-11-01T00:00:00Z", "size": 9_000_000_000,
                         "digest": "0" * 64, "details": {"format": "gguf", "family": "qwen2",
                                                         "parameter_size": "14.8B", "quantization_level": "Q4_K_M"}}
                        for m in fake.models]})
                else:
                    self._json(404, {"error": f"unknown path {self.path}"})

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path == "/api/show":
                    self._json(200, {"modelfile": "", "parameters": "", "template": "", "details": {},
                                     "model_info": {}})
                    return
                if self.path != "/api/chat":
                    self._json(404, {"error": f"unknown path {self.path}"})
                    return
                fake.requests.append(body)
                if body.get("model") not in fake.models:
                    self._json(404, {"error": f"model '{body.get('model')}' not found, try pulling it first"})
                    return
                reply = fake.replies.pop(0) if fake.replies else 'Thought: done\n<code>\nfinal_answer("no more")\n</code>'
                if isinstance(reply, int):
                    self._json(reply, {"error": "the fake was told to fail"})
                    return
                prompt = sum(len(m.get("content", "")) for m in body.get("messages", [])) // 4
                self._json(200, {
                    "model": body["model"],
                    "created_at": datetime.now(timezone.utc).isoformat(),
                    "message": {"role": "assistant", "content": reply},
                    "done": True,
                    "done_reason": "stop",
                    "total_duration": 1_000_000,
                    "load_duration": 1000,
                    "prompt_eval_count": prompt,
                    "prompt_eval_duration": 1000,
                    "eval_count": len(reply) // 4,
                    "eval_duration": 1000,
                })

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "OllamaProtocolFake":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
