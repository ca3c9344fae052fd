"""A small local server speaking Ollama's chat API (`POST /api/chat`, NDJSON when streaming),
replaying scripted assistant messages: the real provider client (langchain-ollama and the
ollama package, built by init_chat_model) talks to it over HTTP, and every request it sent is
kept for the test to read."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class OllamaDouble:
    def __init__(self, replies: list[dict]) -> None:
        self.replies = list(replies)  # Ollama `message` objects, in order
        self.requests: list[dict] = []
        double = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                double.requests.append(body)
                message = double.replies.pop(0) if double.replies else {"content": "done"}
                reply = {
                    "model": body.get("model", ""),
                    "created_at": "2026-01-01T00:00:00Z",
                    "message": {"role": "assistant", "content": "", **message},
                    "done": True,
                    "done_reason": "stop",
                    "total_duration": 1,
                    "load_duration": 1,
                    "prompt_eval_count": 1,
                    "prompt_eval_duration": 1,
                    "eval_count": 1,
                    "eval_duration": 1,
                }
                data = (json.dumps(reply) + "\n").encode()
                self.send_response(200)
                streaming = body.get("stream", True)
                self.send_header(
                    "Content-Type", "application/x-ndjson" if streaming else "application/json"
                )
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> OllamaDouble:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def tool_call(name: str, **arguments) -> dict:
    return {"tool_calls": [{"function": {"name": name, "arguments": arguments}}]}
