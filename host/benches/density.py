#!/usr/bin/env python3
"""Density and hot-swap figures of the release host (issue: speed and density).

Builds `ncco-host` (release) and the plugins (`plugin` profile), then prints:
- the plugin sizes;
- how long TENANTS x APPS apps (hard links of the built plugins) take to answer (the last one) on a
  first start without an artifact cache and on a restart with it, the host's resident memory, and
  when every app runs Cranelift's code (a fresh compile is served with Winch's code first);
- how long after an atomic rename a replaced plugin is live, with a fresh compile and with the
  artifact cache warm, and when Cranelift's code takes over.
Everything runs on loopback under a temporary directory and stops by itself.
Usage: python3 host/benches/density.py [TENANTS APPS]   (default 100 100)
"""
import glob, json, os, shutil, socket, subprocess, sys, tempfile, time, urllib.request

WORKSPACE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(WORKSPACE, "target"))
BINARY = os.path.join(TARGET, "release", "ncco-host")
PLUGINS = os.path.join(TARGET, "wasm32-wasip2", "plugin")
NAMES = ["hello", "ivr_menu", "voicemail", "call_forwarding", "conference", "websocket_bot", "hostile"]
# voicemail imports wasi:http (it can post new messages to a backend): its apps must allow a host.
ALLOW_HOOKS = 'allowed_outbound_hosts = ["https://hooks.example.com"]\n'


def build():
    cargo = os.environ.get("CARGO", "cargo")
    subprocess.run([cargo, "build", "--quiet", "--release", "-p", "ncco-host"], cwd=WORKSPACE, check=True)
    crates = [n.replace("_", "-") for n in NAMES]
    args = [cargo, "build", "--quiet", "--profile", "plugin", "--target", "wasm32-wasip2"]
    for c in crates:
        args += ["-p", c]
    subprocess.run(args, cwd=WORKSPACE, check=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def serve(tree, data, port):
    return subprocess.Popen([BINARY, "serve", "--plugins", tree, "--data-dir", data, "--listen", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def resident(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) * 1024
    return 0


def density(root, tenants, apps):
    tree, data = os.path.join(root, "plugins"), os.path.join(root, "data")
    os.makedirs(tree)
    os.makedirs(data)
    wasms = [os.path.join(PLUGINS, n + ".wasm") for n in NAMES if n != "hostile"]
    n = 0
    for t in range(tenants):
        d = os.path.join(tree, f"t{t:03}")
        os.makedirs(d)
        for a in range(apps):
            last = t == tenants - 1 and a == apps - 1
            wasm = wasms[0] if last else wasms[n % len(wasms)]
            os.link(wasm, os.path.join(d, f"a{a:02}.wasm"))
            if wasm.endswith("voicemail.wasm"):
                # It may post messages to a backend, so its app names where (or it is not loaded).
                with open(os.path.join(d, f"a{a:02}.toml"), "w") as f:
                    f.write(ALLOW_HOOKS)
            n += 1
    path = f"/t{tenants - 1:03}/a{apps - 1:02}/answer?from=1&uuid=u&conversation_uuid=c"
    for label in ["first start, no artifact cache", "restart, artifact cache warm"]:
        port = free_port()
        started = time.time()
        proc = serve(tree, data, port)
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                    if r.status == 200:
                        break
            except Exception:
                pass
            time.sleep(0.02)
        ready = time.time() - started
        time.sleep(0.5)
        rss = resident(proc.pid)
        # Fresh compiles are served with Winch's code while Cranelift compiles them in the
        # background, into the artifact cache: the restart is measured with that cache complete.
        while True:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_admin/apps", timeout=30) as r:
                if all(a["compiler"] == "cranelift" for a in json.load(r)["apps"] if a["version"]):
                    break
            time.sleep(0.2)
        optimized = time.time() - started
        proc.terminate()
        proc.wait()
        print(f"{tenants * apps} apps, {label}: last app answers after {ready:.2f} s, resident {rss / 2**20:.0f} MiB; "
              f"every app on Cranelift's code after {optimized:.2f} s")


def swap(root):
    tree = os.path.join(root, "plugins", "acme")
    os.makedirs(tree)
    data = os.path.join(root, "data")
    shutil.copy(os.path.join(PLUGINS, "hello.wasm"), os.path.join(tree, "app.wasm"))
    with open(os.path.join(tree, "app.toml"), "w") as f:
        f.write(ALLOW_HOOKS)
    port = free_port()

    def status():
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_admin/apps", timeout=2) as r:
            return json.load(r)["apps"][0]

    def live():
        return status()["version"]

    for label in ["a fresh compile", "artifact cache warm"]:
        proc = serve(os.path.dirname(tree), data, port)
        while True:
            try:
                live()
                break
            except Exception:
                time.sleep(0.02)
        times = []
        optimized = []
        for name in NAMES[1:] + NAMES[:1]:
            before = live()
            shutil.copy(os.path.join(PLUGINS, name + ".wasm"), os.path.join(tree, "app.tmp"))
            renamed = time.time()
            os.rename(os.path.join(tree, "app.tmp"), os.path.join(tree, "app.wasm"))
            while live() == before:
                time.sleep(0.001)
            times.append((time.time() - renamed) * 1000)
            # A fresh compile is served with Winch's code, then Cranelift's (compiled in the
            # background, into the artifact cache). Waiting for it keeps the next swap's compile
            # clear of it, and warms the cache for the second round.
            while status()["compiler"] != "cranelift":
                time.sleep(0.005)
            optimized.append((time.time() - renamed) * 1000)
        proc.terminate()
        proc.wait()
        times.sort()
        optimized.sort()
        print(f"swap after an atomic rename, {label}: median {times[len(times) // 2]:.1f} ms, "
              f"max {times[-1]:.1f} ms ({len(times)} swaps); Cranelift's code serving after "
              f"median {optimized[len(optimized) // 2]:.0f} ms, max {optimized[-1]:.0f} ms")


def main():
    tenants, apps = (int(sys.argv[1]), int(sys.argv[2])) if len(sys.argv) == 3 else (100, 100)
    build()
    for n in NAMES:
        print(f"plugin {n}.wasm: {os.path.getsize(os.path.join(PLUGINS, n + '.wasm')):,} bytes")
    with tempfile.TemporaryDirectory() as root:
        density(os.path.join(root, "density"), tenants, apps)
        swap(os.path.join(root, "swap"))


if __name__ == "__main__":
    main()
