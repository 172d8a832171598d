"""End-to-end tests of the HTTP front door: health, metrics, SigV4 through real clients (boto3,
the AWS CLI, hand-signed requests), request limits, keep-alive, graceful shutdown, and the
`larder serve` start-up contract (credentials file, printed export lines, data-dir lock).

Handlers for the control plane, runtime and Athena may or may not be wired when this runs: a
signed request that reaches a handler answers 200/4xx (wired) or 501 (not yet); either way it
proves authentication passed, while a 403 proves it failed.
"""
import datetime
import http.client
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import unittest
from unittest import mock

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from larder_harness import REGION, LarderServer

MAX_BODY = 1 << 20  # the shared server's --max-body-bytes


def error_of(exc):
    return exc.response["Error"]["Code"], exc.response["ResponseMetadata"]["HTTPStatusCode"]


class AuthenticatedCall:
    """Runs a boto3 call that must pass authentication; returns the HTTP status it got."""

    def __init__(self, test):
        self.test = test

    def __call__(self, fn, *args, **kwargs):
        try:
            resp = fn(*args, **kwargs)
            return resp["ResponseMetadata"]["HTTPStatusCode"]
        except ClientError as e:
            code, status = error_of(e)
            self.test.assertNotEqual(status, 403, f"authentication failed: {e}")
            return status


def signed_request(endpoint, method, path, body=b"", headers=None, service="sagemaker",
                   access_key=None, secret_key=None, when=None):
    """Signs with botocore's own SigV4Auth (optionally at a pinned time); returns the headers."""
    req = AWSRequest(method=method, url=endpoint + path, data=body, headers=dict(headers or {}))
    creds = Credentials(access_key, secret_key)
    if when is None:
        botocore.auth.SigV4Auth(creds, service, REGION).add_auth(req)
    else:
        with mock.patch.object(botocore.auth, "get_current_datetime", lambda *a, **k: when):
            botocore.auth.SigV4Auth(creds, service, REGION).add_auth(req)
    return dict(req.headers.items())


def send(port, method, path, body=b"", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, dict((k.lower(), v) for k, v in resp.getheaders()), data
    finally:
        conn.close()


class ServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = LarderServer(extra_args=["--max-body-bytes", str(MAX_BODY)])
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()

    def setUp(self):
        self.authenticated = AuthenticatedCall(self)

    def cp_headers(self, op="ListFeatureGroups"):
        return {"X-Amz-Target": f"SageMaker.{op}",
                "Content-Type": "application/x-amz-json-1.1"}

    # ---- health and metrics ----

    def test_healthz_needs_no_auth(self):
        status, headers, body = send(self.srv.port, "GET", "/healthz")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), {"status": "ok"})
        self.assertEqual(headers["content-type"], "application/json")
        self.assertRegex(headers["x-amzn-requestid"],
                         r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

    def test_metrics_count_requests_and_errors(self):
        sm = self.srv.client("sagemaker")
        for _ in range(3):
            self.authenticated(sm.list_feature_groups)
        bad = self.srv.client("sagemaker", secret_key="wrong-secret")
        with self.assertRaises(ClientError):
            bad.describe_feature_group(FeatureGroupName="metrics-probe")
        status, headers, body = send(self.srv.port, "GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/plain; version=0.0.4"))
        text = body.decode()
        counts = [int(n) for n in re.findall(
            r'^larder_requests_total\{operation="ListFeatureGroups",status="\d+"\} (\d+)', text,
            re.M)]
        self.assertGreaterEqual(sum(counts), 3, text)
        self.assertRegex(text, r'larder_request_errors_total\{code="InvalidSignatureException",'
                               r'operation="DescribeFeatureGroup"\} [1-9]')
        self.assertRegex(text, r'larder_request_duration_seconds_bucket\{operation='
                               r'"ListFeatureGroups",le="5e-05"\} \d+')
        self.assertRegex(text, r'larder_request_duration_seconds_count\{operation='
                               r'"ListFeatureGroups"\} [1-9]')

    # ---- SigV4 through real clients ----

    def test_boto3_with_the_right_keys_passes_auth_on_all_three_apis(self):
        self.authenticated(self.srv.client("sagemaker").list_feature_groups)
        rt = self.srv.client("sagemaker-featurestore-runtime")
        self.authenticated(rt.get_record, FeatureGroupName="no-such-group",
                           RecordIdentifierValueAsString="a b/c")
        self.authenticated(rt.get_record,
                           FeatureGroupName="arn:aws:sagemaker:us-east-1:123456789012:"
                                            "feature-group/no-such-group",
                           RecordIdentifierValueAsString="x", FeatureNames=["b", "a"])
        self.authenticated(self.srv.client("athena").list_query_executions)

    def test_boto3_wrong_secret_is_invalid_signature(self):
        sm = self.srv.client("sagemaker", secret_key="not-the-secret")
        with self.assertRaises(ClientError) as ctx:
            sm.list_feature_groups()
        self.assertEqual(error_of(ctx.exception), ("InvalidSignatureException", 403))
        self.assertIn("The request signature we calculated does not match the signature you "
                      "provided", ctx.exception.response["Error"]["Message"])

    def test_boto3_wrong_secret_on_runtime_is_access_forbidden(self):
        rt = self.srv.client("sagemaker-featurestore-runtime", secret_key="not-the-secret")
        with self.assertRaises(ClientError) as ctx:
            rt.get_record(FeatureGroupName="g", RecordIdentifierValueAsString="1")
        self.assertEqual(error_of(ctx.exception), ("AccessForbidden", 403))
        self.assertIn("signature we calculated does not match",
                      ctx.exception.response["Error"]["Message"])

    def test_boto3_unknown_access_key_is_unrecognized_client(self):
        sm = self.srv.client("sagemaker", access_key="AKIANOBODYKNOWSTHIS")
        with self.assertRaises(ClientError) as ctx:
            sm.list_feature_groups()
        self.assertEqual(error_of(ctx.exception), ("UnrecognizedClientException", 403))
        self.assertEqual(ctx.exception.response["Error"]["Message"],
                         "The security token included in the request is invalid.")

    def test_boto3_wrong_region_names_the_region(self):
        import boto3
        sm = boto3.client("sagemaker", endpoint_url=self.srv.endpoint, region_name="eu-west-1",
                          aws_access_key_id=self.srv.access_key,
                          aws_secret_access_key=self.srv.secret_key)
        with self.assertRaises(ClientError) as ctx:
            sm.list_feature_groups()
        self.assertEqual(error_of(ctx.exception), ("InvalidSignatureException", 403))
        self.assertIn("'eu-west-1'", ctx.exception.response["Error"]["Message"])

    def test_athena_signed_as_sagemaker_is_refused(self):
        headers = signed_request(self.srv.endpoint, "POST", "/", b"{}",
                                 {"X-Amz-Target": "AmazonAthena.ListWorkGroups",
                                  "Content-Type": "application/x-amz-json-1.1"},
                                 service="sagemaker", access_key=self.srv.access_key,
                                 secret_key=self.srv.secret_key)
        status, _, body = send(self.srv.port, "POST", "/", b"{}", headers)
        self.assertEqual(status, 403)
        err = json.loads(body)
        self.assertEqual(err["__type"], "InvalidSignatureException")
        self.assertIn("'athena'", err["message"])

    def test_aws_cli_wrong_secret_fails_with_the_message(self):
        ok = self.srv.aws("sagemaker", "list-feature-groups", check=False)
        self.assertNotIn("InvalidSignatureException", ok.stderr)  # positive control
        env = self.srv.env()
        env["AWS_SECRET_ACCESS_KEY"] = "not-the-secret"
        p = subprocess.run(["aws", "sagemaker", "list-feature-groups"], env=env,
                           capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("InvalidSignatureException", p.stderr)
        self.assertIn("signature we calculated does not match", p.stderr)

    def test_hand_signed_request_twenty_minutes_old_is_expired(self):
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        fresh = signed_request(self.srv.endpoint, "POST", "/", b"{}", self.cp_headers(),
                               access_key=self.srv.access_key, secret_key=self.srv.secret_key,
                               when=now)
        status, _, _ = send(self.srv.port, "POST", "/", b"{}", fresh)
        self.assertNotEqual(status, 403)  # the same signing at the current time passes

        old = now - datetime.timedelta(minutes=20)
        stale = signed_request(self.srv.endpoint, "POST", "/", b"{}", self.cp_headers(),
                               access_key=self.srv.access_key, secret_key=self.srv.secret_key,
                               when=old)
        status, headers, body = send(self.srv.port, "POST", "/", b"{}", stale)
        self.assertEqual(status, 403)
        err = json.loads(body)
        self.assertEqual(err["__type"], "InvalidSignatureException")
        self.assertEqual(headers["x-amzn-errortype"], "InvalidSignatureException")
        self.assertTrue(err["message"].startswith(
            "Signature expired: %s is now earlier than " % old.strftime("%Y%m%dT%H%M%SZ")),
            err["message"])
        self.assertTrue(err["message"].endswith(" - 15 min.)"), err["message"])

    def test_missing_authorization(self):
        status, _, body = send(self.srv.port, "POST", "/", b"{}", self.cp_headers())
        self.assertEqual(status, 403)
        self.assertEqual(json.loads(body), {"__type": "MissingAuthenticationTokenException",
                                            "message": "Missing Authentication Token"})
        status, headers, body = send(self.srv.port, "GET",
                                     "/FeatureGroup/g?RecordIdentifierValueAsString=1")
        self.assertEqual(status, 403)
        self.assertEqual(headers["x-amzn-errortype"], "AccessForbidden")
        self.assertEqual(json.loads(body)["message"], "Missing Authentication Token")

    def test_malformed_authorization_names_the_missing_part(self):
        headers = dict(self.cp_headers())
        headers["X-Amz-Date"] = datetime.datetime.utcnow().strftime("%Y%m%dT%H%M%SZ")
        headers["Authorization"] = ("AWS4-HMAC-SHA256 Credential=%s/20240101/us-east-1/"
                                    "sagemaker/aws4_request, SignedHeaders=host;x-amz-date"
                                    % self.srv.access_key)
        status, _, body = send(self.srv.port, "POST", "/", b"{}", headers)
        self.assertEqual(status, 400)
        err = json.loads(body)
        self.assertEqual(err["__type"], "IncompleteSignatureException")
        self.assertIn("requires 'Signature' parameter", err["message"])

    def test_unknown_target_after_auth(self):
        headers = signed_request(self.srv.endpoint, "POST", "/", b"{}",
                                 {"X-Amz-Target": "DynamoDB_20120810.ListTables",
                                  "Content-Type": "application/x-amz-json-1.0"},
                                 access_key=self.srv.access_key, secret_key=self.srv.secret_key)
        status, _, body = send(self.srv.port, "POST", "/", b"{}", headers)
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(body)["__type"], "UnknownOperationException")

    # ---- limits ----

    def test_body_over_the_limit_is_413(self):
        status, headers, body = send(self.srv.port, "PUT", "/FeatureGroup/g",
                                     b"x" * (MAX_BODY + 1),
                                     {"Content-Type": "application/json"})
        self.assertEqual(status, 413)
        err = json.loads(body)
        self.assertEqual(err["__type"], "RequestEntityTooLarge")
        self.assertIn(str(MAX_BODY + 1), err["message"])
        self.assertIn(str(MAX_BODY), err["message"])
        self.assertIn("x-amzn-requestid", headers)
        # boto3 sees the same as a ClientError with the code.
        rt = self.srv.client("sagemaker-featurestore-runtime")
        with self.assertRaises(ClientError) as ctx:
            rt.put_record(FeatureGroupName="g",
                          Record=[{"FeatureName": "f", "ValueAsString": "v" * (MAX_BODY + 10)}])
        self.assertEqual(error_of(ctx.exception), ("RequestEntityTooLarge", 413))

    def test_oversized_headers_are_431(self):
        status, _, body = send(self.srv.port, "GET", "/healthz",
                               headers={"X-Padding": "p" * (20 * 1024)})
        self.assertEqual(status, 431)
        err = json.loads(body)
        self.assertEqual(err["__type"], "RequestHeaderFieldsTooLarge")
        self.assertIn("16384", err["message"])

    def test_keep_alive_serves_several_requests_on_one_connection(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=30)
        try:
            conn.request("GET", "/healthz")
            resp = conn.getresponse()
            resp.read()
            self.assertEqual(resp.status, 200)
            sock, local = conn.sock, conn.sock.getsockname()
            for i in range(5):
                headers = signed_request(self.srv.endpoint, "POST", "/", b"{}", self.cp_headers(),
                                         access_key=self.srv.access_key,
                                         secret_key=self.srv.secret_key)
                conn.request("POST", "/", body=b"{}", headers=headers)
                resp = conn.getresponse()
                resp.read()
                self.assertNotEqual(resp.status, 403)
                self.assertIs(conn.sock, sock, f"reconnected before request {i}")
                self.assertEqual(conn.sock.getsockname(), local)
        finally:
            conn.close()


class ServeLifecycleTest(unittest.TestCase):
    """`larder serve` started by hand: no key flags, env keys, lock, signals."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="larder-e2e-serve-")
        self.binary = LarderServer().binary
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()
            p.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def env(self, **extra):
        e = dict(os.environ)
        e.pop("LARDER_ACCESS_KEY_ID", None)
        e.pop("LARDER_SECRET_ACCESS_KEY", None)
        e.update(extra)
        return e

    def serve(self, *args, env=None):
        """Starts `larder serve`; returns (process, the printed export lines as a dict)."""
        p = subprocess.Popen([self.binary, "serve", "--data-dir", os.path.join(self.dir, "d"),
                              "--listen", "127.0.0.1:0", *args],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=env or self.env())
        self.procs.append(p)
        exports = {}
        # stdout is flushed after the last export line, so reading it needs no timing.
        for line in p.stdout:
            m = re.match(r"^export (\w+)=(.*)$", line.strip())
            if m:
                exports[m.group(1)] = m.group(2)
            if "AWS_ENDPOINT_URL" in exports:
                break
        self.assertIn("AWS_ENDPOINT_URL", exports, p.stderr.read() if p.poll() is not None else "")
        return p, exports

    def stop(self, p):
        p.send_signal(signal.SIGTERM)
        return p.wait(timeout=30)

    def test_generated_credentials_are_private_printed_and_reused(self):
        p, exports = self.serve()
        self.assertEqual(set(exports), {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                        "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL"})
        self.assertRegex(exports["AWS_ACCESS_KEY_ID"], r"^AKIA[A-Z0-9]{16}$")
        self.assertRegex(exports["AWS_SECRET_ACCESS_KEY"], r"^[A-Za-z0-9]{40}$")
        self.assertEqual(exports["AWS_DEFAULT_REGION"], "us-east-1")
        self.assertRegex(exports["AWS_ENDPOINT_URL"], r"^http://127\.0\.0\.1:\d+$")
        self.assertNotRegex(exports["AWS_ENDPOINT_URL"], r":0$")  # the real port, not 0
        cred_file = os.path.join(self.dir, "d", "credentials")
        self.assertEqual(stat.S_IMODE(os.stat(cred_file).st_mode), 0o600)
        with open(cred_file) as f:
            text = f.read()
        self.assertIn(exports["AWS_SECRET_ACCESS_KEY"], text)

        # The printed lines work as printed: the AWS CLI with exactly that environment.
        env = self.env(**exports)
        env["AWS_MAX_ATTEMPTS"] = "1"
        env.pop("AWS_PROFILE", None)
        cli = subprocess.run(["aws", "sagemaker", "list-feature-groups"], env=env,
                             capture_output=True, text=True, timeout=60)
        self.assertNotIn("InvalidSignatureException", cli.stderr)
        self.assertNotIn("UnrecognizedClientException", cli.stderr)
        self.assertEqual(self.stop(p), 0)

        p2, exports2 = self.serve()
        self.assertEqual(exports2["AWS_ACCESS_KEY_ID"], exports["AWS_ACCESS_KEY_ID"])
        self.assertEqual(exports2["AWS_SECRET_ACCESS_KEY"], exports["AWS_SECRET_ACCESS_KEY"])
        self.assertEqual(self.stop(p2), 0)

    def test_keys_from_the_environment(self):
        p, exports = self.serve(env=self.env(LARDER_ACCESS_KEY_ID="AKIAFROMENV0000000001",
                                             LARDER_SECRET_ACCESS_KEY="env-secret"))
        self.assertEqual(exports["AWS_ACCESS_KEY_ID"], "AKIAFROMENV0000000001")
        self.assertEqual(exports["AWS_SECRET_ACCESS_KEY"], "env-secret")
        self.assertFalse(os.path.exists(os.path.join(self.dir, "d", "credentials")))
        self.assertEqual(self.stop(p), 0)

    def test_sigterm_and_sigint_exit_zero(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            p, exports = self.serve()
            port = int(exports["AWS_ENDPOINT_URL"].rsplit(":", 1)[1])
            self.assertEqual(send(port, "GET", "/healthz")[0], 200)
            p.send_signal(sig)
            self.assertEqual(p.wait(timeout=30), 0, p.stderr.read())
            with self.assertRaises(OSError):
                send(port, "GET", "/healthz")

    def test_second_server_on_the_same_data_dir_is_refused(self):
        p, _ = self.serve()
        second = subprocess.run([self.binary, "serve", "--data-dir", os.path.join(self.dir, "d"),
                                 "--listen", "127.0.0.1:0"], capture_output=True, text=True,
                                env=self.env(), timeout=30)
        self.assertEqual(second.returncode, 1)
        self.assertIn("is in use by another larder process (pid %d)" % p.pid, second.stderr)
        self.assertEqual(self.stop(p), 0)

    def test_bad_flags_are_reported(self):
        for args, needle in ((["--account-id", "12345"], "'12345'"),
                             (["--listen", "nohost"], "'nohost'"),
                             (["--region", "US_EAST"], "'US_EAST'")):
            r = subprocess.run([self.binary, "serve", "--data-dir", os.path.join(self.dir, "d"),
                                *args], capture_output=True, text=True, env=self.env(),
                               timeout=30)
            self.assertEqual(r.returncode, 1, args)
            self.assertIn(needle, r.stderr)

    def test_port_in_use_is_reported(self):
        with __import__("socket").socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            r = subprocess.run([self.binary, "serve", "--data-dir", os.path.join(self.dir, "d"),
                                "--listen", f"127.0.0.1:{port}"], capture_output=True, text=True,
                               env=self.env(), timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn(str(port), r.stderr)

    def test_version_and_help(self):
        v = subprocess.run([self.binary, "--version"], capture_output=True, text=True)
        self.assertEqual(v.returncode, 0)
        self.assertRegex(v.stdout.strip(), r"^larder \d+\.\d+\.\d+$")
        h = subprocess.run([self.binary, "serve", "--help"], capture_output=True, text=True)
        self.assertEqual(h.returncode, 0)
        for flag in ("--data-dir", "--listen", "--region", "--account-id", "--access-key-id",
                     "--secret-access-key", "--threads", "--max-body-bytes",
                     "--max-header-bytes", "--max-connections", "--read-timeout-ms"):
            self.assertIn(flag, h.stdout)


if __name__ == "__main__":
    unittest.main()
