#!/usr/bin/env python3
"""A tiny stand-in for snippetd behind CloudFront, for deploy.sh's smoke test.

Serves on 127.0.0.1 (port 0: the kernel picks; the port is printed first).
/__image-config is the ECR config blob the mock aws CLI points to.
MOCK_API=ok | snippets-500 | flaky-health (two 503s first) | image-arm64
"""
import json
import os
import re
import sys
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODE = os.environ.get("MOCK_API", "ok")
SNIPPETS = {}
COUNTS = {"health": 0}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body=None, headers=()):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("X-Request-Id", self.headers.get("X-Request-Id", "mock"))
        if body is not None:
            self.send_header("Content-Type", "application/json")
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/__image-config":
            arch = "arm64" if MODE == "image-arm64" else "amd64"
            return self.reply(200, {"architecture": arch, "os": "linux"})
        if self.path == "/health":
            COUNTS["health"] += 1
            if MODE == "flaky-health" and COUNTS["health"] <= 2:
                return self.reply(503, {"title": "no healthy targets"})
            return self.reply(200, {"status": "ok"})
        if self.path.startswith("/snippets?") or self.path == "/snippets":
            if MODE == "snippets-500":
                return self.reply(500, {"title": "Internal Server Error"})
            return self.reply(200, list(SNIPPETS.values()))
        m = re.fullmatch(r"/snippets/([0-9a-f-]{36})", self.path)
        if m and m.group(1) in SNIPPETS:
            return self.reply(200, SNIPPETS[m.group(1)])
        return self.reply(404, {"title": "Not Found"})

    def do_POST(self):
        if self.path != "/snippets" or self.headers.get("Content-Type") != "application/json":
            return self.reply(415, {"title": "Unsupported Media Type"})
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        sid = str(uuid.uuid4())
        SNIPPETS[sid] = dict(body, id=sid)
        return self.reply(201, SNIPPETS[sid], [("Location", f"/snippets/{sid}")])

    def do_DELETE(self):
        m = re.fullmatch(r"/snippets/([0-9a-f-]{36})", self.path)
        if m and SNIPPETS.pop(m.group(1), None) is not None:
            return self.reply(204)
        return self.reply(404, {"title": "Not Found"})


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
sys.stdout.close()
server.serve_forever()
