#!/usr/bin/env python3
"""Test-only chunk store server of the agent e2e (tests/agent/agent_e2e_test.cpp).

  chunk_server.py serve DIR LOG PORT_FILE [HOLD]
      Serves the files of DIR (an `edgeforge publish` store) over HTTP/1.1 on
      127.0.0.1, on a free port it writes to PORT_FILE. Ranges are honoured
      (the agent reads the bundle head with "Range: bytes=N-"). Every response
      appends one line to LOG once it is sent: "served PATH STATUS BYTES".
      With HOLD, the first HOLD chunk requests are served and every later one
      is held: "held PATH" is logged and no answer comes until the server is
      stopped. The test then knows exactly which chunks the device got: a
      download worker asks for its next chunk only after it wrote the last.
  chunk_server.py relay PORT
      The command of QEMU's guestfwd: one guest connection, on stdin and
      stdout, relayed to 127.0.0.1:PORT.
"""
import http.server
import os
import select
import socket
import sys
import threading


def serve(root, log_path, port_file, hold):
    root = os.path.realpath(root)
    lock = threading.Lock()
    log = open(log_path, "a", encoding="utf-8")
    admitted = [0]
    never = threading.Event()

    def record(line):
        with lock:
            log.write(line + "\n")
            log.flush()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if hold is not None and path.startswith("/chunks/"):
                with lock:
                    admit = admitted[0] < hold
                    if admit:
                        admitted[0] += 1
                if not admit:
                    record("held " + path)
                    never.wait()
            file = os.path.realpath(os.path.join(root, path.lstrip("/")))
            if not file.startswith(root + os.sep) or not os.path.isfile(file):
                self.answer(path, 404, b"")
                return
            with open(file, "rb") as f:
                data = f.read()
            status, start, end = 200, 0, len(data)
            ranged = self.headers.get("Range", "")
            if ranged.startswith("bytes=") and "," not in ranged:
                first, _, last = ranged[len("bytes="):].partition("-")
                if first.isdigit():
                    start = int(first)
                    end = min(len(data), int(last) + 1) if last.isdigit() else len(data)
                    if start >= len(data):
                        self.answer(path, 416, b"", [("Content-Range", "bytes */%d" % len(data))])
                        return
                    status = 206
            headers = []
            if status == 206:
                headers.append(("Content-Range", "bytes %d-%d/%d" % (start, end - 1, len(data))))
            self.answer(path, status, data[start:end], headers)

        def answer(self, path, status, body, headers=()):
            try:
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()
            except OSError:
                self.close_connection = True  # the client went away mid-answer
            record("served %s %d %d" % (path, status, len(body)))

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    tmp = port_file + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(tmp, port_file)
    server.serve_forever()


def relay(port):
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)  # stderr is the guest's connection too
    upstream = socket.create_connection(("127.0.0.1", port))
    ends = [0, upstream]
    while True:
        ready, _, _ = select.select(ends, [], [])
        for end in ready:
            data = os.read(0, 65536) if end == 0 else upstream.recv(65536)
            if end != 0 and not data:
                return  # the server closed: so does the guest's connection
            if end == 0 and not data:
                upstream.shutdown(socket.SHUT_WR)  # the guest half-closed
                ends.remove(0)
            elif end == 0:
                upstream.sendall(data)
            else:
                view = memoryview(data)
                while view:
                    view = view[os.write(1, view):]


def main():
    if len(sys.argv) >= 5 and sys.argv[1] == "serve":
        hold = int(sys.argv[5]) if len(sys.argv) > 5 else None
        serve(sys.argv[2], sys.argv[3], sys.argv[4], hold)
    elif len(sys.argv) == 3 and sys.argv[1] == "relay":
        relay(int(sys.argv[2]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
