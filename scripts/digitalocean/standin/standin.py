#!/usr/bin/env python3
"""A local stand-in of DigitalOcean's API v2, for lesson 10 and the tests of do.sh only.

It answers the few endpoints the scripts use, with DigitalOcean's JSON shapes and error
bodies, on plain HTTP on 127.0.0.1. It checks the bearer token, records every request (for
the tests) and, when a Kubernetes cluster is created, starts a second kubelab sandbox in a
KUBELAB_HOME of its own whose nodes are renamed like a DigitalOcean node pool's, so the
kubeconfig it serves points at a cluster that really answers.

    standin.py start [--dir DIR] [--for 15m] [--kubelab BIN]   serve in the background, empty
    standin.py env   [--dir DIR]                               export DIGITALOCEAN_API/TOKEN
    standin.py stop  [--dir DIR]                               stop it and its sandboxes
    standin.py serve [--dir DIR] ...                           serve in the foreground

DIR defaults to $KUBELAB_HOME/digitalocean-standin (KUBELAB_HOME defaults to ~/.kubelab).
Nothing here is DigitalOcean's code; it is what the public API documentation describes.
"""

import argparse
import base64
import json
import os
import random
import re
import secrets
import shutil
import signal
import string
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

REGIONS = {"nyc1": "New York 1", "nyc3": "New York 3", "sfo3": "San Francisco 3", "ams3": "Amsterdam 3",
           "fra1": "Frankfurt 1", "lon1": "London 1", "sgp1": "Singapore 1", "tor1": "Toronto 1"}
# Newest first, as DigitalOcean lists them.
K8S_VERSIONS = ["1.34.1-do.0", "1.33.5-do.0", "1.32.9-do.0"]
# slug -> (vcpus, memory MiB, disk GiB, price per month)
SIZES = {"s-1vcpu-1gb": (1, 1024, 25, 6), "s-1vcpu-2gb": (1, 2048, 50, 12), "s-2vcpu-2gb": (2, 2048, 60, 18),
         "s-2vcpu-4gb": (2, 4096, 80, 24), "s-4vcpu-8gb": (4, 8192, 160, 48)}
# Droplets cannot use the smallest sizes for Kubernetes nodes.
K8S_SIZES = ["s-1vcpu-2gb", "s-2vcpu-2gb", "s-2vcpu-4gb", "s-4vcpu-8gb"]
IMAGES = {"ubuntu-24-04-x64": (161430943, "24.04 (LTS) x64", "Ubuntu"),
          "debian-12-x64": (160867254, "12 x64", "Debian")}
SSH_KEYS = [{"id": 512189, "fingerprint": "3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa", "name": "laptop",
             "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGd1jcv0a6zUwU7Wq3s2z3bP1DlS3k9vQn0R7M0vF7aE learner@laptop"},
            {"id": 512190, "fingerprint": "7f:3a:21:9c:55:0e:d4:31:8b:22:c7:e9:14:60:ab:02", "name": "ci",
             "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF0s9kq2n4h6Tj1a7Xr3e5Lw8Zc1b0Vn2Ui4Yo6Pm8Qd ci@example"}]


def default_dir():
    home = os.environ.get("KUBELAB_HOME") or os.path.join(os.path.expanduser("~"), ".kubelab")
    return os.path.join(home, "digitalocean-standin")


def now():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_duration(text):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)?", text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (as in 90s, 15m, 1h)")
    return float(m.group(1)) * {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600}[m.group(2)]


class ApiError(Exception):
    """An error answered as DigitalOcean does: a status and {"id", "message"}."""

    def __init__(self, status, ident, message):
        super().__init__(message)
        self.status, self.ident, self.message = status, ident, message


def not_found():
    return ApiError(404, "not_found", "The resource you were accessing could not be found.")


def unprocessable(message):
    return ApiError(422, "unprocessable_entity", message)


class Sandbox:
    """A kubelab sandbox in a KUBELAB_HOME of its own, driven through the kubelab binary."""

    def __init__(self, kubelab, home):
        self.kubelab, self.home = kubelab, home
        # start and stop never overlap, and nothing starts once stopped: a cluster deleted
        # while it is still provisioning leaves no sandbox running.
        self.lock = threading.Lock()
        self.stopped = False

    def run(self, *args):
        env = dict(os.environ, KUBELAB_HOME=self.home, NO_COLOR="1")
        env.pop("KUBECONFIG", None)
        return subprocess.run([self.kubelab, *args], env=env, capture_output=True, text=True, timeout=60)

    def start(self):
        with self.lock:
            if self.stopped:
                raise RuntimeError("the cluster was deleted while it was provisioning")
            os.makedirs(self.home, exist_ok=True)
            done = self.run("sandbox", "start", "-q")
            if done.returncode != 0:
                raise RuntimeError(f"kubelab sandbox start failed: {(done.stderr or done.stdout).strip()}")

    def stop(self):
        """Stops the sandbox and removes its home, as a deleted cluster leaves nothing."""
        with self.lock:
            self.stopped = True
            self.run("sandbox", "stop", "-q")
            shutil.rmtree(self.home, ignore_errors=True)

    def url(self):
        with open(os.path.join(self.home, "sandbox.port")) as f:
            return f"https://127.0.0.1:{f.read().strip()}"

    def token(self):
        with open(os.path.join(self.home, "token")) as f:
            return f.read().strip()

    def ca_data(self):
        with open(os.path.join(self.home, "ca.crt"), "rb") as f:
            return base64.b64encode(f.read()).decode()

    def curl(self, method, path, body=None):
        """One request to the sandbox's API with curl, as a reader would send it."""
        cmd = ["curl", "-sS", "--fail-with-body", "--cacert", os.path.join(self.home, "ca.crt"),
               "-H", f"Authorization: Bearer {self.token()}", "-X", method]
        if body is not None:
            cmd += ["-H", "Content-Type: application/json", "--data-binary", json.dumps(body)]
        done = subprocess.run(cmd + [self.url() + path], capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise RuntimeError(f"{method} {path} on the sandbox failed: {(done.stdout + done.stderr).strip()[:300]}")
        return json.loads(done.stdout) if done.stdout.strip() else None

    def replace_nodes(self, cluster, pool):
        """Deletes the sandbox's seeded nodes and creates the pool's, cloned from the first
        seeded one (so they keep its realistic status) and named and labelled as on DOKS."""
        seeded = self.curl("GET", "/api/v1/nodes")["items"]
        template = seeded[0]
        for node in seeded:
            self.curl("DELETE", f"/api/v1/nodes/{node['metadata']['name']}")
        for n in pool["nodes"]:
            node = json.loads(json.dumps(template))
            meta = node["metadata"]
            for key in ["uid", "resourceVersion", "creationTimestamp", "managedFields", "generation"]:
                meta.pop(key, None)
            meta["name"] = n["name"]
            meta["labels"].update({
                "kubernetes.io/hostname": n["name"],
                "doks.digitalocean.com/node-id": n["id"],
                "doks.digitalocean.com/node-pool": pool["name"],
                "doks.digitalocean.com/node-pool-id": pool["id"],
                "doks.digitalocean.com/version": cluster["version"],
                "node.kubernetes.io/instance-type": pool["size"],
                "region": cluster["region"],
                "topology.kubernetes.io/region": cluster["region"],
            })
            node["spec"]["providerID"] = f"digitalocean://{n['droplet_id']}"
            for addr in node["status"].get("addresses", []):
                if addr["type"] == "Hostname":
                    addr["address"] = n["name"]
            self.curl("POST", "/api/v1/nodes", node)


class State:
    """Everything the stand-in knows: one lock, droplets and clusters in memory."""

    def __init__(self, opts):
        self.opts = opts
        self.lock = threading.Lock()
        self.droplets = {}
        self.clusters = {}
        self.sandboxes = {}
        self.next_droplet = 3164494

    # -- droplets ---------------------------------------------------------------------------

    def droplet_view(self, d):
        d = dict(d)
        if d["status"] == "new" and time.time() - d.pop("_created") > 1:
            d["status"] = "active"
        d.pop("_created", None)
        return d

    def create_droplet(self, body):
        name = body.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9.-]{1,255}", name):
            raise unprocessable("Name is invalid: only a-z, A-Z, 0-9, . and - are allowed.")
        region, size, image = body.get("region"), body.get("size"), body.get("image")
        if region not in REGIONS:
            raise unprocessable("You specified an invalid region for Droplet creation.")
        if size not in SIZES:
            raise unprocessable("You specified an invalid size for Droplet creation.")
        if image not in IMAGES:
            raise unprocessable("You specified an invalid image for Droplet creation.")
        keys = body.get("ssh_keys") or []
        known = {k["id"] for k in SSH_KEYS} | {k["fingerprint"] for k in SSH_KEYS}
        if not isinstance(keys, list) or any(k not in known for k in keys):
            raise unprocessable("You specified an invalid SSH key for Droplet creation.")
        vcpus, memory, disk, price = SIZES[size]
        image_id, image_name, distribution = IMAGES[image]
        with self.lock:
            self.next_droplet += 1
            ident = self.next_droplet
            droplet = {
                "id": ident, "name": name, "memory": memory, "vcpus": vcpus, "disk": disk, "locked": False,
                "status": "new", "kernel": None, "created_at": now(), "features": [], "backup_ids": [],
                "snapshot_ids": [], "image": {"id": image_id, "name": image_name, "distribution": distribution,
                                              "slug": image, "public": True, "regions": list(REGIONS)},
                "size": {"slug": size, "memory": memory, "vcpus": vcpus, "disk": disk, "price_monthly": price},
                "size_slug": size,
                "networks": {"v4": [{"ip_address": f"203.0.113.{ident % 250 + 2}", "netmask": "255.255.240.0",
                                     "gateway": "203.0.113.1", "type": "public"}], "v6": []},
                "region": {"name": REGIONS[region], "slug": region, "available": True},
                "tags": body.get("tags") or [], "vpc_uuid": str(uuid.uuid4()), "_created": time.time(),
            }
            self.droplets[ident] = droplet
            view = self.droplet_view(droplet)
        action = {"id": random.randint(10**9, 2 * 10**9), "rel": "create",
                  "href": f"{self.opts.base}/v2/actions/{ident}"}
        return 202, {"droplet": view, "links": {"actions": [action]}}

    # -- kubernetes -------------------------------------------------------------------------

    def create_cluster(self, body):
        name, region, version = body.get("name"), body.get("region"), body.get("version")
        if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,253}[a-z0-9])?", name):
            raise unprocessable("validation error: name must be lowercase alphanumerics or '-'")
        if region not in REGIONS:
            raise unprocessable(f"validation error: invalid region slug {region!r}")
        if version == "latest":
            version = K8S_VERSIONS[0]
        if version not in K8S_VERSIONS:
            raise unprocessable(f"validation error: invalid version slug {version!r}")
        pools = body.get("node_pools")
        if not isinstance(pools, list) or not pools:
            raise unprocessable("validation error: a cluster needs at least one node pool")
        with self.lock:
            if any(c["name"] == name for c in self.clusters.values()):
                raise unprocessable(f"a cluster with the name {name!r} already exists")
        ident = str(uuid.uuid4())
        node_pools = []
        for p in pools:
            if not isinstance(p, dict) or p.get("size") not in K8S_SIZES:
                raise unprocessable(f"validation error: invalid size slug {p.get('size') if isinstance(p, dict) else p!r}")
            count = p.get("count")
            if not isinstance(count, int) or not 1 <= count <= 10:
                raise unprocessable("validation error: node pool count must be between 1 and 10")
            pool_name = p.get("name") or f"{name}-default-pool"
            nodes = []
            for _ in range(count):
                suffix = "".join(random.choices(string.ascii_lowercase + string.digits, k=5))
                with self.lock:
                    self.next_droplet += 1
                    droplet_id = self.next_droplet
                nodes.append({"id": str(uuid.uuid4()), "name": f"{pool_name}-{suffix}", "droplet_id": str(droplet_id),
                              "status": {"state": "provisioning"}, "created_at": now(), "updated_at": now()})
            node_pools.append({"id": str(uuid.uuid4()), "name": pool_name, "size": p["size"], "count": count,
                               "tags": p.get("tags") or [], "labels": p.get("labels"), "taints": [],
                               "auto_scale": False, "min_nodes": 0, "max_nodes": 0, "nodes": nodes})
        cluster = {
            "id": ident, "name": name, "region": region, "version": version, "cluster_subnet": "10.244.0.0/16",
            "service_subnet": "10.245.0.0/16", "vpc_uuid": str(uuid.uuid4()), "ipv4": "",
            "endpoint": "", "tags": ["k8s", f"k8s:{ident}"] + list(body.get("tags") or []),
            "node_pools": node_pools, "maintenance_policy": {"start_time": "00:00", "duration": "4h0m0s", "day": "any"},
            "auto_upgrade": bool(body.get("auto_upgrade", False)), "surge_upgrade": True, "registry_enabled": False,
            "ha": bool(body.get("ha", False)),
            "status": {"state": "provisioning", "message": "provisioning"},
            "created_at": now(), "updated_at": now(),
        }
        with self.lock:
            self.clusters[ident] = cluster
            view = json.loads(json.dumps(cluster))
        threading.Thread(target=self.provision, args=(ident,), daemon=True).start()
        return 201, {"kubernetes_cluster": view}

    def provision(self, ident):
        """provisioning -> running: a second kubelab sandbox with the pool's nodes."""
        started = time.time()
        home = os.path.join(self.opts.dir, "clusters", ident)
        sandbox = Sandbox(self.opts.kubelab, home)
        try:
            with self.lock:
                if ident not in self.clusters:
                    return
                self.sandboxes[ident] = sandbox
                cluster = json.loads(json.dumps(self.clusters[ident]))
            sandbox.start()
            for pool in cluster["node_pools"]:
                sandbox.replace_nodes(cluster, pool)
            time.sleep(max(0.0, self.opts.provision_seconds - (time.time() - started)))
            with self.lock:
                c = self.clusters.get(ident)
                if c is None:
                    return
                c["endpoint"], c["ipv4"] = sandbox.url(), "127.0.0.1"
                for pool in c["node_pools"]:
                    for node in pool["nodes"]:
                        node["status"] = {"state": "running"}
                c["status"] = {"state": "running", "message": "operational"}
                c["updated_at"] = now()
        except Exception as e:  # noqa: BLE001 — any failure is the cluster's "errored" state
            log(f"cluster {ident}: {e}")
            with self.lock:
                if ident in self.clusters:
                    self.clusters[ident]["status"] = {"state": "errored", "message": str(e)[:200]}

    def kubeconfig(self, ident):
        """The kubeconfig DigitalOcean would hand out, with its names, for the sandbox."""
        with self.lock:
            c = self.clusters.get(ident)
            sandbox = self.sandboxes.get(ident)
            if c is None:
                raise not_found()
            if c["status"]["state"] != "running" or sandbox is None:
                raise ApiError(404, "not_found", "kubeconfig is not available until the cluster is running")
            name = f"do-{c['region']}-{c['name']}"
        return (f"apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {sandbox.ca_data()}\n"
                f"    server: {sandbox.url()}\n  name: {name}\ncontexts:\n- context:\n    cluster: {name}\n"
                f"    user: {name}-admin\n  name: {name}\ncurrent-context: {name}\nkind: Config\npreferences: {{}}\n"
                f"users:\n- name: {name}-admin\n  user:\n    token: {sandbox.token()}\n")

    def delete_cluster(self, ident):
        with self.lock:
            if ident not in self.clusters:
                raise not_found()
            del self.clusters[ident]
            sandbox = self.sandboxes.pop(ident, None)
        if sandbox is not None:
            sandbox.stop()

    def stop_all(self):
        with self.lock:
            sandboxes = list(self.sandboxes.values())
            self.sandboxes.clear()
            self.clusters.clear()
        for s in sandboxes:
            s.stop()


def page(items, key, query):
    """A page of a list, with DigitalOcean's links and meta."""
    per_page = max(1, min(200, int((query.get("per_page") or ["20"])[0] or 20)))
    number = max(1, int((query.get("page") or ["1"])[0] or 1))
    chunk = items[(number - 1) * per_page:number * per_page]
    return {key: chunk, "links": {}, "meta": {"total": len(items)}}


class Handler(BaseHTTPRequestHandler):
    server_version = "standin"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        log(f"{self.command} {self.path} -> {fmt % args}")

    def do_GET(self):
        self.handle_api()

    def do_POST(self):
        self.handle_api()

    def do_PUT(self):
        self.handle_api()

    def do_DELETE(self):
        self.handle_api()

    def handle_api(self):
        state = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        url = urlsplit(self.path)
        record(state.opts.dir, self, url, raw)
        try:
            auth = self.headers.get("Authorization", "")
            if auth != f"Bearer {state.opts.token}":
                raise ApiError(401, "unauthorized", "Unable to authenticate you")
            body = None
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    raise ApiError(400, "bad_request", "unexpected end of JSON input") from None
                if not isinstance(body, dict):
                    raise ApiError(400, "bad_request", "the request body must be a JSON object")
            status, answer = self.route(state, self.command, url.path.rstrip("/"), parse_qs(url.query), body or {})
        except ApiError as e:
            status, answer = e.status, {"id": e.ident, "message": e.message, "request_id": str(uuid.uuid4())}
        except Exception as e:  # noqa: BLE001 — a bug of the stand-in is a 500, not a dead thread
            log(f"{self.command} {self.path}: {e!r}")
            status, answer = 500, {"id": "server_error", "message": "Server was unable to give you a response."}
        self.reply(status, answer)

    def route(self, state, method, path, query, body):
        parts = path.strip("/").split("/")
        if parts[:1] != ["v2"]:
            raise not_found()
        parts = parts[1:]
        if method == "GET" and parts == ["account", "keys"]:
            return 200, page(SSH_KEYS, "ssh_keys", query)
        if parts == ["droplets"]:
            if method == "GET":
                with state.lock:
                    items = [state.droplet_view(d) for d in state.droplets.values()]
                return 200, page(items, "droplets", query)
            if method == "POST":
                return state.create_droplet(body)
        if len(parts) == 2 and parts[0] == "droplets":
            with state.lock:
                droplet = state.droplets.get(int(parts[1])) if parts[1].isdigit() else None
                if droplet is None:
                    raise not_found()
                if method == "GET":
                    return 200, {"droplet": state.droplet_view(droplet)}
                if method == "DELETE":
                    del state.droplets[droplet["id"]]
                    return 204, None
        if parts[:1] == ["kubernetes"]:
            return self.route_kubernetes(state, method, parts[1:], query, body)
        raise not_found()

    def route_kubernetes(self, state, method, parts, query, body):
        if method == "GET" and parts == ["options"]:
            return 200, {"options": {
                "regions": [{"name": n, "slug": s} for s, n in REGIONS.items()],
                "versions": [{"slug": v, "kubernetes_version": v.split("-")[0],
                              "supported_features": ["cluster-autoscaler", "docr-integration", "ha-control-plane", "token-authentication"]}
                             for v in K8S_VERSIONS],
                "sizes": [{"name": s, "slug": s} for s in K8S_SIZES]}}
        if parts == ["clusters"]:
            if method == "GET":
                with state.lock:
                    items = json.loads(json.dumps(list(state.clusters.values())))
                return 200, page(items, "kubernetes_clusters", query)
            if method == "POST":
                return state.create_cluster(body)
        if len(parts) >= 2 and parts[0] == "clusters":
            ident = parts[1]
            if method == "GET" and len(parts) == 3 and parts[2] == "kubeconfig":
                return 200, state.kubeconfig(ident)
            if len(parts) == 2 and method == "GET":
                with state.lock:
                    c = state.clusters.get(ident)
                    if c is None:
                        raise not_found()
                    return 200, {"kubernetes_cluster": json.loads(json.dumps(c))}
            if len(parts) == 2 and method == "DELETE":
                state.delete_cluster(ident)
                return 204, None
        raise not_found()

    def reply(self, status, answer):
        if answer is None:
            data, ctype = b"", None
        elif isinstance(answer, str):
            data, ctype = answer.encode(), "application/yaml"
        else:
            data, ctype = (json.dumps(answer, indent=2) + "\n").encode(), "application/json; charset=utf-8"
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        # What DigitalOcean sends with every answer: 5,000 requests an hour.
        self.send_header("ratelimit-limit", "5000")
        self.send_header("ratelimit-remaining", "4999")
        self.send_header("ratelimit-reset", str(int(time.time()) + 3600))
        self.end_headers()
        self.wfile.write(data)


RECORD_LOCK = threading.Lock()


def record(directory, handler, url, raw):
    """Appends the request to requests.jsonl: what the tests (and the lesson) look at."""
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    entry = {"method": handler.command, "path": url.path, "query": url.query,
             "headers": {k.lower(): v for k, v in handler.headers.items()}, "body": raw, "json": parsed}
    with RECORD_LOCK, open(os.path.join(directory, "requests.jsonl"), "a") as f:
        f.write(json.dumps(entry) + "\n")


def log(message):
    print(f"{now()} {message}", file=sys.stderr, flush=True)


def find_kubelab(given):
    path = given or os.environ.get("KUBELAB_BIN") or shutil.which("kubelab")
    if not path:
        sys.exit("standin.py: error: no kubelab binary: put it on PATH, set KUBELAB_BIN or pass --kubelab")
    return os.path.abspath(path)


def serve(opts):
    os.makedirs(opts.dir, exist_ok=True)
    opts.kubelab = find_kubelab(opts.kubelab)
    opts.token = opts.token or read(opts.dir, "token") or "dop_v1_" + secrets.token_hex(32)
    write(opts.dir, "token", opts.token)
    open(os.path.join(opts.dir, "requests.jsonl"), "w").close()
    # Sandboxes a previous stand-in left behind (killed before it could stop them).
    leftovers = os.path.join(opts.dir, "clusters")
    for ident in os.listdir(leftovers) if os.path.isdir(leftovers) else []:
        Sandbox(opts.kubelab, os.path.join(leftovers, ident)).stop()
    server = ThreadingHTTPServer(("127.0.0.1", opts.port), Handler)
    server.daemon_threads = True
    opts.base = f"http://127.0.0.1:{server.server_address[1]}"
    server.state = State(opts)
    stopping = threading.Event()

    def shut_down(*_):
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shut_down)
    signal.signal(signal.SIGINT, shut_down)
    if opts.duration:
        timer = threading.Timer(opts.duration, shut_down)
        timer.daemon = True
        timer.start()
    write(opts.dir, "pid", str(os.getpid()))
    write(opts.dir, "api", opts.base)
    log(f"stand-in of the DigitalOcean API at {opts.base}")
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.state.stop_all()
        for name in ["api", "pid"]:
            try:
                os.remove(os.path.join(opts.dir, name))
            except FileNotFoundError:
                pass
        log("stopped")


def read(directory, name):
    try:
        with open(os.path.join(directory, name)) as f:
            return f.read().strip()
    except FileNotFoundError:
        return None


def write(directory, name, text):
    tmp = os.path.join(directory, f".{name}.tmp")
    with open(tmp, "w") as f:
        f.write(text + "\n")
    os.replace(tmp, os.path.join(directory, name))


def running_pid(directory):
    pid = read(directory, "pid")
    if not pid or not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, PermissionError):
        return None
    return int(pid)


def start(opts):
    """serve, detached in its own session; returns once it answers (or failed)."""
    os.makedirs(opts.dir, exist_ok=True)
    # Each start is a fresh, empty API: one left running is stopped first, clusters and all.
    if running_pid(opts.dir):
        stop(opts, quiet=True)
    for name in ["api", "pid"]:
        if os.path.exists(os.path.join(opts.dir, name)):
            os.remove(os.path.join(opts.dir, name))
    args = [sys.executable, os.path.abspath(__file__), "serve", "--dir", opts.dir,
            "--kubelab", find_kubelab(opts.kubelab), "--provision-seconds", str(opts.provision_seconds)]
    if opts.duration:
        args += ["--for", f"{opts.duration}s"]
    if opts.token:
        args += ["--token", opts.token]
    with open(os.path.join(opts.dir, "standin.log"), "a") as logfile:
        child = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=logfile, stderr=logfile, start_new_session=True)
    deadline = time.time() + 10
    while time.time() < deadline:
        if child.poll() is not None:
            sys.exit(f"standin.py: error: the stand-in exited at once; see {os.path.join(opts.dir, 'standin.log')}")
        if read(opts.dir, "api"):
            print(f"stand-in of the DigitalOcean API at {read(opts.dir, 'api')}")
            print(f"token: {read(opts.dir, 'token')}")
            print(f'use it with do.sh: eval "$({sys.argv[0]} env)"')
            return 0
        time.sleep(0.05)
    sys.exit("standin.py: error: the stand-in did not come up within 10s")


def env(opts):
    api = read(opts.dir, "api")
    if not (api and running_pid(opts.dir)):
        sys.exit(f"standin.py: error: no stand-in runs for {opts.dir} (start it with: standin.py start)")
    print(f"export DIGITALOCEAN_API={api}")
    print(f"export DIGITALOCEAN_TOKEN={read(opts.dir, 'token')}")
    return 0


def stop(opts, quiet=False):
    pid = running_pid(opts.dir)
    if pid is None:
        print("stand-in of the DigitalOcean API is not running", file=sys.stderr if quiet else sys.stdout)
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.time() + 30
    while time.time() < deadline and running_pid(opts.dir) == pid and read(opts.dir, "pid"):
        time.sleep(0.05)
    print(f"stand-in of the DigitalOcean API stopped (pid {pid})", file=sys.stderr if quiet else sys.stdout)
    return 0


def main():
    parser = argparse.ArgumentParser(prog="standin.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ["start", "serve", "env", "stop"]:
        p = sub.add_parser(name)
        p.add_argument("--dir", default=default_dir(), help="where its token, port and request log live")
        if name in ("start", "serve"):
            p.add_argument("--kubelab", help="the kubelab binary for the clusters' sandboxes (default: KUBELAB_BIN, PATH)")
            p.add_argument("--for", dest="duration", type=parse_duration, help="stop after this long (as in 15m)")
            p.add_argument("--token", help="the one token it accepts (default: a random dop_v1_ token)")
            p.add_argument("--provision-seconds", type=float, default=5.0,
                           help="how long a new cluster stays provisioning, at least")
        if name == "serve":
            p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    opts = parser.parse_args()
    opts.dir = os.path.abspath(opts.dir)
    return {"start": start, "serve": lambda o: serve(o) or 0, "env": env, "stop": stop}[opts.command](opts)


if __name__ == "__main__":
    sys.exit(main())
