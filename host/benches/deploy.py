#!/usr/bin/env python3
"""How fast a deploy through one host is served by another on the same Redis (issue: deploy).

Builds `ncco-host` (release) and the plugins (`plugin` profile), starts a throwaway redis-server and
two hosts on loopback, creates a tenant, then for each plugin uploads it through host A as a new
active version, and afterwards activates each stored version again; for each step it prints how
long A took to answer the deploy and how much later B answered with the new version (a new version
is compiled by B itself; one B has compiled before comes from its artifact cache).
Everything runs under a temporary directory and stops by itself.
Usage: python3 host/benches/deploy.py
"""
import json, os, shutil, subprocess, sys, tempfile, time, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# The release host, the plugin build and free ports, as the density benchmark has them.
from density import BINARY, PLUGINS, free_port
from density import build as build_host_and_plugins

NAMES = ["hello", "ivr_menu", "voicemail", "call_forwarding", "conference", "hostile"]


def build():
    build_host_and_plugins()
    if shutil.which("redis-server") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "redis-server"], check=True)


def wait_up(url):
    until = time.time() + 20
    while time.time() < until:
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1).read()
            return
        except Exception:
            time.sleep(0.05)
    sys.exit(f"{url} did not start")


def answer(host):
    """The texts (or action names) of the app's answer, or the error."""
    try:
        url = host + "/acme/app/answer?uuid=u&conversation_uuid=CON-1&from=1"
        ncco = json.loads(urllib.request.urlopen(url, timeout=2).read())
        return json.dumps([a.get("text") or a.get("action") for a in ncco])
    except Exception as e:
        return str(e)


def main():
    build()
    root = tempfile.mkdtemp(prefix="ncco-deploy-bench-")
    procs = []
    try:
        port = free_port()
        procs.append(subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                                       "--appendonly", "no"], stdout=subprocess.DEVNULL))
        time.sleep(0.3)
        plugins = os.path.join(root, "plugins")
        os.makedirs(plugins)
        hosts = []
        for name in ("a", "b"):
            p = free_port()
            procs.append(subprocess.Popen([BINARY, "serve", "--plugins", plugins, "--data-dir", os.path.join(root, name),
                                           "--listen", f"127.0.0.1:{p}", "--state", f"redis://127.0.0.1:{port}/0"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            hosts.append(f"http://127.0.0.1:{p}")
            wait_up(hosts[-1])
        a, b = hosts
        urllib.request.urlopen(urllib.request.Request(a + "/v1/tenants/acme", data=b"{}", method="PUT")).read()
        # voicemail imports wasi:http: the app allows a host before any version is uploaded.
        config = json.dumps({"allowed_outbound_hosts": ["https://hooks.example.com"]}).encode()
        urllib.request.urlopen(urllib.request.Request(a + "/v1/tenants/acme/apps/app/config", data=config,
                                                      method="PUT")).read()
        print("deploy through host A, served by host B (release hosts, one Redis, loopback):")
        steps = [("new version", n) for n in NAMES] + [("activate again", n) for n in NAMES]
        for i, (kind, name) in enumerate(steps):
            if kind == "new version":
                data = open(os.path.join(PLUGINS, name + ".wasm"), "rb").read()
                req = urllib.request.Request(a + "/v1/tenants/acme/apps/app/versions?activate=true", data=data,
                                             method="PUT", headers={"Content-Type": "application/wasm"})
            else:
                body = json.dumps({"version": NAMES.index(name) + 1}).encode()
                req = urllib.request.Request(a + "/v1/tenants/acme/apps/app/activate", data=body, method="POST")
            started = time.time()
            urllib.request.urlopen(req, timeout=60).read()
            answered = time.time()
            want = answer(a)
            while answer(b) != want and time.time() - answered < 10:
                time.sleep(0.002)
            served = time.time()
            late = " (not within 10 s)" if served - answered >= 10 else ""
            print(f"  {kind:<15} {name:<16} A answered in {(answered - started) * 1000:6.0f} ms;"
                  f" B served it {(served - answered) * 1000:6.0f} ms later{late}")
        print("  goal: every host serves a new active version within 1 s")
    finally:
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
