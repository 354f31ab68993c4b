"""`hogflows worker --metrics-port P`: `/metrics` and `/_health` from a small thread of the worker.

A thread keeps the scrape answering even while the worker's event loop is busy, which is also what a
liveness probe should see: the process is alive. It serves nothing else.
"""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from app.observability import metrics


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            body, content_type = metrics.render()
            self._answer(200, body, content_type)
        elif path == "/_health":
            self._answer(200, b'{"status": "ok"}', "application/json")
        else:
            self._answer(404, b'{"detail": "Not found."}', "application/json")

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # scrapes every few seconds are not worth a log line


def serve_worker_metrics(host: str, port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), _Handler)
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    return server
