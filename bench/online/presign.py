"""Builds botocore-signed runtime requests and writes them out for larder_loadgen to replay.

A SigV4 signature stays valid for 15 minutes (the server allows that much clock skew), so a
benchmark signs its requests once, right before it runs, and replays them.

Two ways to get a signed request, both botocore's own code:
  * capture_client_requests: calls the real boto3 client (the vendored runtime model, so
    BatchWriteRecord exists) with a 'before-send' hook that takes the fully prepared request
    (serialized, signed, every header botocore adds) and answers it locally, so nothing goes on
    the wire. This is exactly what boto3 would send.
  * sign_raw: builds the JSON body directly and signs it with botocore's SigV4Auth; much faster
    for bulk loads (no parameter validation or serialization by the client).

File format: per request, "<byte count>\\n" then the raw HTTP/1.1 request bytes.
"""
import json
import os
from urllib.parse import urlsplit

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.config import Config
from botocore.credentials import Credentials

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("AWS_DATA_PATH", os.path.join(REPO, "src", "server", "models"))

SERVICE = "sagemaker"  # the runtime's signing name (spec 2)


class _Body:
    def __init__(self, data):
        self._data = data

    def stream(self, **_):
        yield self._data


def _raw_http(method, url, headers, body):
    """The request as it goes on the wire: request line, Host (with port), headers, body."""
    parts = urlsplit(url)
    target = parts.path + ("?" + parts.query if parts.query else "")
    if isinstance(body, str):
        body = body.encode()
    body = body or b""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}"]
    have_length = False
    for name, value in headers.items():
        if isinstance(value, bytes):
            value = value.decode()
        if name.lower() == "host":
            continue
        if name.lower() == "content-length":
            have_length = True
        lines.append(f"{name}: {value}")
    if body and not have_length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class RequestWriter:
    """Appends framed raw requests to a file."""

    def __init__(self, path):
        self.path = path
        self.count = 0
        self._f = open(path, "wb")

    def add(self, raw):
        self._f.write(b"%d\n" % len(raw))
        self._f.write(raw)
        self.count += 1

    def close(self):
        self._f.close()


def runtime_client(endpoint, access_key, secret_key, region):
    return boto3.client("sagemaker-featurestore-runtime", endpoint_url=endpoint,
                        region_name=region, aws_access_key_id=access_key,
                        aws_secret_access_key=secret_key,
                        config=Config(retries={"max_attempts": 1, "mode": "standard"}))


def capture_client_requests(client, calls, writer):
    """Runs each (operation_name, kwargs) in `calls` through `client`, writing the prepared,
    signed request to `writer` instead of sending it."""
    def capture(request, **_):
        writer.add(_raw_http(request.method, request.url, request.headers, request.body))
        return AWSResponse(request.url, 200, {"Content-Type": "application/json"}, _Body(b"{}"))

    handler_id = client.meta.events.register("before-send", capture)
    try:
        for op, kwargs in calls:
            getattr(client, op)(**kwargs)
    finally:
        client.meta.events.unregister("before-send", capture)
    del handler_id


class RawSigner:
    """Signs hand-built runtime requests with botocore's SigV4Auth (what the client uses)."""

    def __init__(self, endpoint, access_key, secret_key, region):
        self.endpoint = endpoint.rstrip("/")
        self.auth = SigV4Auth(Credentials(access_key, secret_key), SERVICE, region)

    def sign(self, method, path, body_obj):
        body = json.dumps(body_obj, separators=(",", ":")).encode()
        req = AWSRequest(method=method, url=self.endpoint + path, data=body,
                         headers={"Content-Type": "application/json"})
        self.auth.add_auth(req)
        prepared = req.prepare()
        return _raw_http(prepared.method, prepared.url, prepared.headers, prepared.body)
