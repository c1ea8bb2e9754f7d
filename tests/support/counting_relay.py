#!/usr/bin/env python3
"""A TCP relay on 127.0.0.1 that counts bytes and connections.

Usage: counting_relay.py TARGET_PORT COUNTS_FILE
Prints the port it listens on, then relays every connection to
127.0.0.1:TARGET_PORT; after each connection closes it rewrites COUNTS_FILE
as "CONNECTIONS TO_SERVER_BYTES TO_CLIENT_BYTES".
"""
import os
import socket
import sys
import threading

target_port = int(sys.argv[1])
counts_file = sys.argv[2]
lock = threading.Lock()
totals = [0, 0, 0]


def save():
    tmp = counts_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d %d %d\n" % tuple(totals))
    os.replace(tmp, counts_file)


def pump(src, dst, index, done):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            with lock:
                totals[index] += len(data)
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        done.set()


def serve(client):
    server = socket.create_connection(("127.0.0.1", target_port))
    up, down = threading.Event(), threading.Event()
    threading.Thread(target=pump, args=(client, server, 1, up), daemon=True).start()
    threading.Thread(target=pump, args=(server, client, 2, down), daemon=True).start()
    up.wait()
    down.wait()
    client.close()
    server.close()
    with lock:
        totals[0] += 1
        save()


listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(64)
with lock:
    save()
print(listener.getsockname()[1], flush=True)
while True:
    conn, _ = listener.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
