#!/usr/bin/env python3
"""Writes the seed corpus fuzz/corpus/<target>/ from /work/shared/conformance (or $CONFORMANCE) and
hand-written examples. Re-run it to rebuild the seeds; `cargo fuzz cmin` then minimizes."""
import glob, json, os, struct, sys

CONF = os.environ.get("CONFORMANCE", "/work/shared/conformance")
HERE = os.path.dirname(os.path.abspath(__file__))

def out(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

# ncco_validate: valid and invalid NCCO documents, as they are.
for sub in ("ncco", "ncco-invalid"):
    for p in sorted(glob.glob(os.path.join(CONF, sub, "*.json"))):
        out("ncco_validate", os.path.basename(p), open(p, "rb").read())

# webhook targets: the raw payload of each envelope (raw_body, else body re-encoded, or raw_query).
wh30 = None
for p in sorted(glob.glob(os.path.join(CONF, "webhooks", "*.json"))):
    doc = json.load(open(p))
    req, kind, base = doc["request"], doc["kind"], os.path.splitext(os.path.basename(p))[0]
    if "raw_body" in req:
        payload, ext = req["raw_body"], ".json"
    elif req.get("body") is not None:
        payload, ext = json.dumps(req["body"], ensure_ascii=False, separators=(",", ":")), ".json"
    else:
        payload, ext = req["raw_query"], ".query"
    if kind in ("answer", "fallback_answer"):
        out("webhook_answer", base + ext, payload)
    else:
        out("webhook_event", base + ext, payload)
    if "signature" in doc:
        wh30 = doc

# A hand-written GET answer with JSON in custom_data and original_request (percent-encoded).
out("webhook_answer", "hand-query-custom-data.query",
    "from_user=alice&to=442079460000&endpoint_type=app&custom_data=%7B%22k%22%3A1%7D"
    "&original_request=%7B%22url%22%3A%22https%3A%2F%2Fx%22%2C%22type%22%3A%22event%22%7D&reason=x&SipHeader_X-A=1")

# signature_verify: mode | now i64 | window u32 | iat i64 | secret \n field \n body
def sig(mode, now, window, iat, secret, field, body):
    enc = lambda s: s.encode() if isinstance(s, str) else s
    return struct.pack("<BqIq", mode, now, window, iat) + enc(secret) + b"\n" + enc(field) + b"\n" + enc(body)

if wh30:
    auth = wh30["request"]["headers"]["Authorization"]
    body = wh30["request"]["raw_body"]
    s = wh30["signature"]
    iat = s["expected_claims"]["iat"]
    out("signature_verify", "raw-valid", sig(0, iat + 10, 300, 0, "", auth, body))
    out("signature_verify", "raw-tampered-body", sig(0, iat + 10, 300, 0, "", auth, s["negative_variant"]["tampered_raw_body"]))
    out("signature_verify", "raw-wrong-secret", sig(0, iat + 10, 300, 0, s["wrong_secret_variant"]["signature_secret"], auth, body))
    out("signature_verify", "raw-expired", sig(0, iat + 301, 300, 0, "", auth, body))
    out("signature_verify", "raw-alg-none", sig(0, iat, 300, 0, "", "Bearer eyJhbGciOiJub25lIn0.e30.", body))
    out("signature_verify", "sign-valid", sig(1, iat + 5, 300, iat, "", "a1b2c3d4\taaaaaaaa-bbbb-cccc-dddd-0123456789ab", body))
    out("signature_verify", "sign-future", sig(1, iat - 400, 300, iat, "s3cr", "key", "{}"))
    out("signature_verify", "claims-exp-nbf", sig(2, iat, 300, 0, "", json.dumps(
        {"iat": iat, "exp": iat + 60, "nbf": iat - 60, "payload_hash": "$HASH", "api_key": "k", "jti": "j"}), body))
    out("signature_verify", "claims-string-times", sig(2, iat, 300, 0, "", '{"iat":"%d","exp":"1e3","nbf":1.5,"payload_hash":"$HASH"}' % iat, body))
    out("signature_verify", "header-claims", sig(3, iat, 300, 0, "", '{"alg":"HS256","typ":"JWT","kid":1}\t{"iat":%d,"payload_hash":"$HASH"}' % iat, body))

# config_tenant_app: tenant.toml, then an <app>.toml after the separator (keys of host/src/config.rs).
SEP = "\n#---app---\n"
tenant_full = '''signature_secret = "example-signature-secret-0123456789abcdef"
application_id = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"

[limits]
timeout_ms = 2000
memory_mib = 64
max_ncco_bytes = 65536
log_bytes = 8192
max_running = 4
max_queued = 64
memory_share_mib = 512
'''
app_full = '''timeout_ms = 1500
memory_mib = 48
max_ncco_bytes = 32768
log_bytes = 4096

[vars]
greeting = "Hello"
retries = 3
ratio = 0.5
enabled = true

[[fallback]]
action = "talk"
text = "Sorry, try again later."
language = "en-GB"
'''
app_json_fallback = '''timeout_ms = 100
fallback = '[{"action":"talk","text":"Sorry"},{"action":"stream","streamUrl":["https://example.com/a.mp3"]}]'
'''
out("config_tenant_app", "tenant-full-app-full.toml", tenant_full + SEP + app_full)
out("config_tenant_app", "tenant-secret-app-json-fallback.toml", 'signature_secret = "abcd"\n' + SEP + app_json_fallback)
out("config_tenant_app", "tenant-limits-only.toml", "[limits]\ntimeout_ms = 10\n" + SEP + "timeout_ms = 11\n")
out("config_tenant_app", "tenant-empty.toml", "" + SEP + "[vars]\nx = [1, 2]\n")
out("config_tenant_app", "tenant-unknown-key.toml", 'signature_secret = 1234\nfoo = "bar"\n' + SEP + 'memory_mib = "x"\n')
out("config_tenant_app", "app-only.toml", app_full)
out("config_tenant_app", "app-bad-fallback.toml", 'fallback = [{ action = "talk" }]\nlog_bytes = 0\n')
print("seeds written")
