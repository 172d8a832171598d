#!/usr/bin/env python3
"""Generates test/data/sigv4_vectors.json from botocore's own SigV4 signer.

Each vector is a request exactly as it goes on the wire (method, request-target, headers, body)
together with what botocore computed for it: the canonical request, the string to sign and the
Authorization header. src/server/sigv4_test.cc checks Larder's verifier and signer against them
byte for byte. The clock is pinned, so the output is reproducible:

    python3 test/tools/gen_sigv4_vectors.py > test/data/sigv4_vectors.json

Two kinds of vectors:
  * "client": a real boto3 client call (real serializer, real endpoint resolution); the request
    is captured at the `before-send` event and never reaches the network.
  * "raw": a hand-built botocore AWSRequest, for edge cases clients rarely produce (dot
    segments, empty query pairs, repeated headers, folded whitespace, x-amz-content-sha256).
"""
import datetime
import json
import os
import sys
from unittest import mock
from urllib.parse import urlsplit

import boto3
import botocore
import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ["AWS_DATA_PATH"] = os.path.join(REPO, "src", "server", "models")

FIXED_TIME = datetime.datetime(2024, 3, 9, 16, 5, 42)  # naive UTC, as botocore uses it
ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEXAMPLETOKEN/with+slash=="
REGION = "us-east-1"
ARN = "arn:aws:sagemaker:us-east-1:123456789012:feature-group/customers-fg"


class Captured(Exception):
    def __init__(self, request):
        super().__init__("captured")
        self.request = request


def host_for(url):
    return botocore.auth._host_from_url(url)


def wire_target(url):
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def body_text(body):
    if body is None:
        return ""
    if isinstance(body, str):
        return body
    return bytes(body).decode("utf-8")


class Recorder:
    """Wraps SigV4Auth so the canonical request and string to sign are recorded too."""

    def __init__(self):
        self.canonical_request = None
        self.string_to_sign = None
        self.signature = None
        orig_cr = botocore.auth.SigV4Auth.canonical_request
        orig_sts = botocore.auth.SigV4Auth.string_to_sign
        orig_sig = botocore.auth.SigV4Auth.signature
        rec = self

        def canonical_request(signer, request):
            rec.canonical_request = orig_cr(signer, request)
            return rec.canonical_request

        def string_to_sign(signer, request, cr):
            rec.string_to_sign = orig_sts(signer, request, cr)
            return rec.string_to_sign

        def signature(signer, sts, request):
            rec.signature = orig_sig(signer, sts, request)
            return rec.signature

        self.patches = [
            mock.patch.object(botocore.auth.SigV4Auth, "canonical_request", canonical_request),
            mock.patch.object(botocore.auth.SigV4Auth, "string_to_sign", string_to_sign),
            mock.patch.object(botocore.auth.SigV4Auth, "signature", signature),
            mock.patch.object(botocore.auth, "get_current_datetime", lambda *a, **k: FIXED_TIME),
        ]

    def __enter__(self):
        for p in self.patches:
            p.start()
        return self

    def __exit__(self, *exc):
        for p in reversed(self.patches):
            p.stop()


def text(v):
    return v.decode("utf-8") if isinstance(v, bytes) else v


# Headers botocore adds outside the signature whose values vary from run to run or machine to
# machine; they are replaced by fixed values so the file is reproducible. They are unsigned, so
# this changes nothing the signature covers (the generator asserts that).
VOLATILE = {"user-agent": "Boto3/1.43 (normalized by gen_sigv4_vectors.py)",
            "amz-sdk-invocation-id": "00000000-0000-4000-8000-000000000000"}


def normalize(headers, signed_names):
    out = []
    for k, v in headers:
        lk = k.lower()
        if lk in VOLATILE:
            assert lk not in signed_names, f"{lk} is signed; it cannot be normalized"
            v = VOLATILE[lk]
        out.append([k, v])
    return out


def vector(name, kind, method, url, headers_before, headers_after, body, service, token, rec):
    """headers_before: what the signer was given; headers_after: what goes on the wire."""
    wire = [[text(k), text(v)] for k, v in headers_after]
    if not any(k.lower() == "host" for k, _ in wire):
        wire.insert(0, ["Host", host_for(url)])  # urllib3 adds it when sending
    unsigned = [[text(k), text(v)] for k, v in headers_before]
    if not any(k.lower() == "host" for k, _ in unsigned):
        unsigned.insert(0, ["Host", host_for(url)])
    auth = dict((k.lower(), v) for k, v in wire)["authorization"]
    signed_names = set(auth.split("SignedHeaders=")[1].split(",")[0].split(";"))
    wire = normalize(wire, signed_names)
    unsigned = normalize(unsigned, signed_names)
    return {
        "name": name,
        "kind": kind,
        "method": method,
        "target": wire_target(url),
        "headers_to_sign": unsigned,
        "headers": wire,
        "body": body,
        "access_key_id": ACCESS_KEY,
        "secret_access_key": SECRET_KEY,
        "session_token": token or "",
        "region": REGION,
        "service": service,
        "amz_date": FIXED_TIME.strftime("%Y%m%dT%H%M%SZ"),
        "canonical_request": rec.canonical_request,
        "string_to_sign": rec.string_to_sign,
        "signature": rec.signature,
        "authorization": auth,
    }


def client_vector(name, service, signing_service, op, params, endpoint="http://127.0.0.1:8080",
                  token=None):
    session = boto3.session.Session()
    client = session.client(
        service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY, aws_session_token=token,
        config=Config(retries={"max_attempts": 1}))
    before = {}

    def before_sign(request, **kwargs):
        before["headers"] = list(request.headers.items())

    def before_send(request, **kwargs):
        raise Captured(request)

    client.meta.events.register_first("before-sign", before_sign)
    client.meta.events.register("before-send", before_send)
    with Recorder() as rec:
        try:
            getattr(client, op)(**params)
        except Captured as c:
            req = c.request
        else:
            raise SystemExit(f"{name}: request was not captured")
    # before-sign runs before SigV4Auth.add_auth: its header list is what the signer saw.
    return vector(name, "client", req.method, req.url, before["headers"], list(req.headers.items()),
                  body_text(req.body), signing_service, token, rec)


def raw_vector(name, method, url, headers, body="", service="sagemaker", token=None):
    creds = Credentials(ACCESS_KEY, SECRET_KEY, token)
    req = AWSRequest(method=method, url=url, data=body.encode("utf-8"))
    for k, val in headers:
        req.headers[k] = val  # HTTPHeaders appends: a repeated name is sent twice
    before = list(req.headers.items())
    with Recorder() as rec:
        botocore.auth.SigV4Auth(creds, service, REGION).add_auth(req)
    return vector(name, "raw", method, url, before, list(req.headers.items()), body, service,
                  token, rec)


def main():
    v = []
    # Control plane (json 1.1, X-Amz-Target).
    v.append(client_vector("cp-list-feature-groups", "sagemaker", "sagemaker",
                           "list_feature_groups", {"MaxResults": 10}))
    v.append(client_vector("cp-create-unicode-description", "sagemaker", "sagemaker",
                           "create_feature_group", {
                               "FeatureGroupName": "customers-fg",
                               "RecordIdentifierFeatureName": "customer_id",
                               "EventTimeFeatureName": "event_time",
                               "FeatureDefinitions": [
                                   {"FeatureName": "customer_id", "FeatureType": "String"},
                                   {"FeatureName": "event_time", "FeatureType": "Fractional"}],
                               "Description": "Kundenmerkmale \u00e4\u00f6\u00fc \u2014 \u7279\u5f81 \U0001F600",
                           }))
    v.append(client_vector("cp-describe-with-session-token", "sagemaker", "sagemaker",
                           "describe_feature_group", {"FeatureGroupName": ARN}, token=SESSION_TOKEN))
    v.append(client_vector("cp-default-port-host", "sagemaker", "sagemaker",
                           "delete_feature_group", {"FeatureGroupName": "customers-fg"},
                           endpoint="http://localhost"))
    # Runtime (rest-json, no X-Amz-Target).
    rt = "sagemaker-featurestore-runtime"
    v.append(client_vector("rt-get-record-by-name", rt, "sagemaker", "get_record", {
        "FeatureGroupName": "customers-fg", "RecordIdentifierValueAsString": "c-42"}))
    v.append(client_vector("rt-get-record-arn-spaces-slashes-repeated", rt, "sagemaker", "get_record", {
        "FeatureGroupName": ARN, "RecordIdentifierValueAsString": "a b/c+d&e=f~g",
        "FeatureNames": ["zeta", "alpha", "mid dle", "alpha"],
        "ExpirationTimeResponse": "Enabled"}))
    v.append(client_vector("rt-get-record-unicode-identifier", rt, "sagemaker", "get_record", {
        "FeatureGroupName": "customers-fg", "RecordIdentifierValueAsString": "Gr\u00fc\u00dfe-\u65e5\u672c"}))
    v.append(client_vector("rt-put-record", rt, "sagemaker", "put_record", {
        "FeatureGroupName": "customers-fg",
        "Record": [{"FeatureName": "customer_id", "ValueAsString": "c-42"},
                   {"FeatureName": "event_time", "ValueAsString": "2024-03-09T16:05:42Z"},
                   {"FeatureName": "name", "ValueAsString": "Zo\u00eb \"quoted\" \\ back"}]}))
    v.append(client_vector("rt-put-record-arn-session-token", rt, "sagemaker", "put_record", {
        "FeatureGroupName": ARN, "Record": [{"FeatureName": "customer_id", "ValueAsString": "1"}],
        "TargetStores": ["OnlineStore"]}, token=SESSION_TOKEN))
    v.append(client_vector("rt-delete-record-repeated-target-stores", rt, "sagemaker", "delete_record", {
        "FeatureGroupName": "customers-fg", "RecordIdentifierValueAsString": "c/42",
        "EventTime": "2024-03-09T16:05:42Z", "TargetStores": ["OnlineStore", "OfflineStore"],
        "DeletionMode": "HardDelete"}))
    v.append(client_vector("rt-batch-get-record", rt, "sagemaker", "batch_get_record", {
        "Identifiers": [{"FeatureGroupName": "customers-fg",
                         "RecordIdentifiersValueAsString": ["1", "2"]}]}))
    # Athena (json 1.1, signing name athena).
    v.append(client_vector("athena-start-query", "athena", "athena", "start_query_execution", {
        "QueryString": "SELECT * FROM \"customers-fg_1700000000\" WHERE name = '\u00e9t\u00e9'",
        "ClientRequestToken": "0123456789abcdef0123456789abcdef",
        "ResultConfiguration": {"OutputLocation": "s3://bucket/results/"}}))
    v.append(client_vector("athena-get-query-results", "athena", "athena", "get_query_results", {
        "QueryExecutionId": "5b2b7b2e-1234-4cde-9f00-0123456789ab", "MaxResults": 5}))

    base = "http://127.0.0.1:8080"
    json_headers = [("Content-Type", "application/x-amz-json-1.1"),
                    ("X-Amz-Target", "SageMaker.ListFeatureGroups")]
    v.append(raw_vector("raw-get-empty-body", "GET", base + "/healthz", []))
    v.append(raw_vector("raw-post-empty-body", "POST", base + "/", json_headers, ""))
    v.append(raw_vector("raw-dot-segments-and-double-slashes", "GET",
                        base + "/a/./b/../c//d/%2E%2E/e/", []))
    v.append(raw_vector("raw-query-unsorted-repeated-empty", "GET",
                        base + "/FeatureGroup/fg?b=2&a=2&a=1&c&a=10&=x&d=%20%2F", []))
    v.append(raw_vector("raw-query-empty-pair", "GET", base + "/FeatureGroup/fg?z=1&&y=2", []))
    v.append(raw_vector("raw-header-whitespace-and-repeats", "PUT", base + "/FeatureGroup/fg",
                        [("X-Custom", "  spaced    out\tvalue  "), ("x-custom", "second  one"),
                         ("Content-Type", "application/json"), ("User-Agent", "not-signed/1.0")],
                        '{"Record":[]}'))
    v.append(raw_vector("raw-content-sha256-header", "POST", base + "/BatchGetRecord",
                        [("Content-Type", "application/json"),
                         ("X-Amz-Content-SHA256",
                          "UNSIGNED-PAYLOAD")], '{"Identifiers":[]}'))
    v.append(raw_vector("raw-arn-path-percent", "DELETE",
                        base + "/FeatureGroup/arn%3Aaws%3Asagemaker%3Aus-east-1%3A123456789012%3Afeature-group%2Ffg"
                        "?RecordIdentifierValueAsString=x%2By&EventTime=1700000000", []))
    v.append(raw_vector("raw-unicode-raw-path", "GET", base + "/FeatureGroup/caf\u00e9", []))
    v.append(raw_vector("raw-tilde-and-reserved", "GET",
                        base + "/FeatureGroup/a~b!c$d'e(f)g*h,i;j:k@l", []))
    v.append(raw_vector("raw-athena-session-token", "POST", base + "/",
                        [("Content-Type", "application/x-amz-json-1.1"),
                         ("X-Amz-Target", "AmazonAthena.ListWorkGroups")], "{}",
                        service="athena", token=SESSION_TOKEN))

    json.dump({"generator": "test/tools/gen_sigv4_vectors.py",
               "botocore_version": botocore.__version__,
               "vectors": v}, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
