#!/usr/bin/env python3
"""A stand-in for the parts of the Kubernetes API that `kubectl get`, `create`,
`replace`, `annotate`, `cordon`, `uncordon` and `drain` use on nodes, pods and
coordination.k8s.io/v1 Leases, with the API server's semantics that a reboot
lock depends on: resourceVersion on every object, 409 AlreadyExists on a
second create, 409 Conflict on a replace with a stale resourceVersion, JSON
merge patches. The real kube-apiserver is not packaged for Debian 12 and
upstream binaries cannot be downloaded on these machines, so the reboot-lock
tests drive the real kubectl against this.

Usage: kube_api.py PORTFILE STATEFILE
  STATEFILE: JSON {"nodes": [...], "pods": [...], "leases": [...]} loaded at
  start and written back after every change (tests read and edit it; POST
  /-/reload re-reads it). A pod with the annotation "test/stuck": "true"
  survives its deletion (a drain then times out).
"""
import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

PORTFILE, STATEFILE = sys.argv[1], sys.argv[2]
lock = threading.Lock()
state = {}
version = [100]


def load():
    with open(STATEFILE) as f:
        s = json.load(f)
    kinds = {"nodes": ("Node", "v1"), "pods": ("Pod", "v1"),
             "leases": ("Lease", "coordination.k8s.io/v1")}
    for kind, (k, api) in kinds.items():
        s.setdefault(kind, [])
        for o in s[kind]:
            o.setdefault("kind", k)
            o.setdefault("apiVersion", api)
            o.setdefault("metadata", {})
            version[0] += 1
            o["metadata"].setdefault("resourceVersion", str(version[0]))
            o["metadata"].setdefault("uid", "uid-%s-%d" % (o["metadata"].get("name"), version[0]))
    state.clear()
    state.update(s)


def save():
    tmp = STATEFILE + ".tmp"
    with open(tmp, "w") as f:
        json.dump(state, f, indent=1, sort_keys=True)
    import os
    os.replace(tmp, STATEFILE)


def bump(obj):
    version[0] += 1
    obj["metadata"]["resourceVersion"] = str(version[0])


def merge(target, patch):
    if not isinstance(patch, dict):
        return patch
    if not isinstance(target, dict):
        target = {}
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        else:
            target[k] = merge(target.get(k), v)
    return target


def status(code, reason, message):
    return code, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": message, "reason": reason, "code": code}


CORE = {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
    {"name": "nodes", "singularName": "", "namespaced": False, "kind": "Node",
     "verbs": ["get", "list", "patch", "update"], "shortNames": ["no"]},
    {"name": "pods", "singularName": "", "namespaced": True, "kind": "Pod",
     "verbs": ["get", "list", "delete"], "shortNames": ["po"]},
    {"name": "namespaces", "singularName": "", "namespaced": False, "kind": "Namespace",
     "verbs": ["get", "list"], "shortNames": ["ns"]}]}
COORD = {"kind": "APIResourceList", "groupVersion": "coordination.k8s.io/v1", "resources": [
    {"name": "leases", "singularName": "", "namespaced": True, "kind": "Lease",
     "verbs": ["create", "delete", "get", "list", "patch", "update"]}]}
GROUPS = {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
    {"name": "coordination.k8s.io",
     "versions": [{"groupVersion": "coordination.k8s.io/v1", "version": "v1"}],
     "preferredVersion": {"groupVersion": "coordination.k8s.io/v1", "version": "v1"}}]}


def find(kind, name, ns=None):
    for o in state[kind]:
        m = o["metadata"]
        if m.get("name") == name and (ns is None or m.get("namespace", "default") == ns):
            return o
    return None


def handle(method, path, query, body):
    if path == "/-/reload" and method == "POST":
        load()
        return 200, {}
    if path == "/version":
        return 200, {"major": "1", "minor": "20", "gitVersion": "v1.20.2", "platform": "linux/amd64"}
    if path == "/api":
        return 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}
    if path == "/apis":
        return 200, GROUPS
    if path == "/api/v1":
        return 200, CORE
    if path == "/apis/coordination.k8s.io/v1":
        return 200, COORD

    m = re.fullmatch(r"/api/v1/nodes(?:/([^/]+))?", path)
    if m:
        name = m.group(1)
        if name is None and method == "GET":
            return 200, {"kind": "NodeList", "apiVersion": "v1",
                         "metadata": {"resourceVersion": str(version[0])}, "items": state["nodes"]}
        node = find("nodes", name)
        if node is None:
            return status(404, "NotFound", 'nodes "%s" not found' % name)
        if method == "GET":
            return 200, node
        if method == "PATCH":
            merged = merge(json.loads(json.dumps(node)), json.loads(body))
            node.clear()
            node.update(merged)
            bump(node)
            save()
            return 200, node
        return status(405, "MethodNotAllowed", method)

    m = re.fullmatch(r"/api/v1(?:/namespaces/([^/]+))?/pods(?:/([^/]+))?", path)
    if m:
        ns, name = m.group(1), m.group(2)
        if name is None and method == "GET":
            items = [p for p in state["pods"] if ns is None or p["metadata"].get("namespace") == ns]
            for sel in query.get("fieldSelector", []):
                for term in sel.split(","):
                    k, _, v = term.partition("=")
                    if k == "spec.nodeName":
                        items = [p for p in items if p.get("spec", {}).get("nodeName") == v]
            return 200, {"kind": "PodList", "apiVersion": "v1",
                         "metadata": {"resourceVersion": str(version[0])}, "items": items}
        pod = find("pods", name, ns)
        if pod is None:
            return status(404, "NotFound", 'pods "%s" not found' % name)
        if method == "GET":
            return 200, pod
        if method == "DELETE":
            if pod["metadata"].get("annotations", {}).get("test/stuck") != "true":
                state["pods"].remove(pod)
                save()
            return 200, pod
        return status(405, "MethodNotAllowed", method)

    m = re.fullmatch(r"/apis/coordination\.k8s\.io/v1/namespaces/([^/]+)/leases(?:/([^/]+))?", path)
    if m:
        ns, name = m.group(1), m.group(2)
        if name is None and method == "POST":
            obj = json.loads(body)
            obj["metadata"]["namespace"] = ns
            if find("leases", obj["metadata"]["name"], ns) is not None:
                return status(409, "AlreadyExists",
                              'leases.coordination.k8s.io "%s" already exists' % obj["metadata"]["name"])
            obj["metadata"]["uid"] = "uid-lease-%d" % version[0]
            bump(obj)
            state["leases"].append(obj)
            save()
            return 201, obj
        if name is None and method == "GET":
            return 200, {"kind": "LeaseList", "apiVersion": "coordination.k8s.io/v1",
                         "metadata": {"resourceVersion": str(version[0])},
                         "items": [x for x in state["leases"] if x["metadata"].get("namespace") == ns]}
        lease = find("leases", name, ns)
        if lease is None:
            return status(404, "NotFound", 'leases.coordination.k8s.io "%s" not found' % name)
        if method == "GET":
            return 200, lease
        if method == "PUT":
            obj = json.loads(body)
            rv = obj.get("metadata", {}).get("resourceVersion")
            if rv != lease["metadata"]["resourceVersion"]:
                return status(409, "Conflict", 'Operation cannot be fulfilled on leases.coordination.k8s.io '
                              '"%s": the object has been modified; please apply your changes to the '
                              'latest version and try again' % name)
            obj["metadata"]["namespace"] = ns
            obj["metadata"]["uid"] = lease["metadata"].get("uid")
            lease.clear()
            lease.update(obj)
            bump(lease)
            save()
            return 200, lease
        if method == "DELETE":
            state["leases"].remove(lease)
            save()
            return 200, {"kind": "Status", "apiVersion": "v1", "status": "Success"}
        return status(405, "MethodNotAllowed", method)
    return status(404, "NotFound", "the server could not find the requested resource " + path)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _serve(self):
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        with lock:
            try:
                code, obj = handle(self.command, url.path, parse_qs(url.query), body)
            except Exception as e:  # a malformed request is the client's 400
                code, obj = status(400, "BadRequest", str(e))
            if "kind" in obj and "apiVersion" not in obj:
                obj["apiVersion"] = "v1"
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.command, self.path))


load()
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.replace(PORTFILE + ".tmp", PORTFILE)
server.serve_forever()
