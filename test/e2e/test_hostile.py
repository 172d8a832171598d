"""Hostile input: the corpus in test/hostile/ against a real `larder serve`, plus slow clients
and the connection limit.

Every corpus case (one JSON file each; test/hostile/README.md describes the format) is a
malformed or malicious request: broken HTTP framing, oversized headers and bodies, deeply nested
or ill-typed JSON, invalid UTF-8, path-like names, SQL that tries to leave the DuckDB sandbox or
exhaust the machine, and bad or replayed signatures. Each must get a 4xx (or, for SQL, a query
that ends FAILED with a clear reason). After every case the server must still be up (its
process alive, /healthz 200) and a known group and record must read back unchanged; at the end
the offline store must still hold exactly what it held before, and no file the SQL cases tried to
write may exist.

The slow-client tests start the server with a short --read-timeout-ms: a connection that sends a
byte per second (slowloris), or nothing at all, must be cut by the read deadline while other
clients are served.
"""
import datetime
import glob
import json
import os
import socket
import time
import unittest
from unittest import mock

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from larder_harness import REGION, REPO, LarderServer

CORPUS = os.path.join(REPO, "test", "hostile")
SANITIZED = bool(os.environ.get("LARDER_SANITIZED"))
SLOW = 4 if SANITIZED else 1  # sanitized binaries answer several times slower
VERBOSE = bool(os.environ.get("HOSTILE_VERBOSE"))  # print every case's answer

MAX_BODY = 2 << 20       # --max-body-bytes: the 1 MB nesting bombs fit, 3 MB does not
READ_TIMEOUT_MS = 2000   # --read-timeout-ms: the slowloris deadline
QUERY_TIMEOUT_MS = 3000  # --query-timeout-ms
QUERY_MEMORY_MB = 128    # --query-memory-limit-mb
MAX_CONNECTIONS = 64     # --max-connections of the main server

ROLE = "arn:aws:iam::123456789012:role/larder-hostile"
KNOWN_GROUP = "hostile-known"
KNOWN_ID = "K1"
KNOWN_RECORD = [
    {"FeatureName": "customer_id", "ValueAsString": KNOWN_ID},
    {"FeatureName": "event_time", "ValueAsString": "2024-06-01T12:00:00Z"},
    {"FeatureName": "score", "ValueAsString": "0.25"},
    {"FeatureName": "visits", "ValueAsString": "7"},
    {"FeatureName": "label", "ValueAsString": "known"},
]
# Files SQL cases try to create; none may exist afterwards.
ESCAPE_FILES = ["/tmp/larder-hostile-copy.csv", "/tmp/larder-hostile-export",
                "/tmp/larder-hostile.db", "/tmp/larder-hostile-multi.csv"]

API = {  # api -> (content type, X-Amz-Target prefix, signing service)
    "sagemaker": ("application/x-amz-json-1.1", "SageMaker.", "sagemaker"),
    "athena": ("application/x-amz-json-1.1", "AmazonAthena.", "athena"),
    "runtime": ("application/json", None, "sagemaker"),
}


def load_corpus():
    cases = []
    for path in sorted(glob.glob(os.path.join(CORPUS, "*", "*.json"))):
        with open(path) as f:
            case = json.load(f)
        case["name"] = os.path.relpath(path, CORPUS)[:-len(".json")]
        cases.append(case)
    return cases


def assemble(text, parts):
    """`text` followed by each [string, count] of `parts` repeated count times."""
    out = [text or ""]
    for s, n in parts or []:
        out.append(s * n)
    return "".join(out)


def encode(text, encoding):
    # latin1: each character U+0000..U+00FF is one byte, so a case can carry invalid UTF-8.
    return text.encode("latin-1" if encoding == "latin1" else "utf-8")


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return {}

    @property
    def code(self):
        return self.headers.get("x-amzn-errortype") or self.json().get("__type")

    def __repr__(self):
        return f"HTTP {self.status} {self.code}: {self.body[:300]!r}"


def exchange(port, data, timeout=30 * SLOW):
    """Sends `data` on a fresh connection and reads one response. A send the server cuts short
    (it answers 413/431 and closes while we still write) is fine: the answer is what counts.
    Returns a Response, or None if the server closed without answering."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except OSError:
            pass  # the server answered early and stopped reading
        buf = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            head_end = buf.find(b"\r\n\r\n")
            if head_end >= 0:
                head = buf[:head_end].decode("latin-1").split("\r\n")
                headers = {}
                for line in head[1:]:
                    k, _, v = line.partition(":")
                    headers[k.strip().lower()] = v.strip()
                length = int(headers.get("content-length", "0"))
                if len(buf) >= head_end + 4 + length:
                    status = int(head[0].split(" ")[1])
                    return Response(status, headers, buf[head_end + 4:head_end + 4 + length])
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                return None
            except socket.timeout:
                return None
            if not chunk:
                return None
            buf += chunk
        return None


def sign_headers(srv, method, path, headers, body, sign):
    """botocore's SigV4Auth over (method, path, headers, body), with the overrides in `sign`."""
    req = AWSRequest(method=method, url=f"http://127.0.0.1:{srv.port}{path}", data=body,
                     headers=dict(headers))
    creds = Credentials(sign.get("access_key", srv.access_key),
                        sign.get("secret_key", srv.secret_key))
    auth = botocore.auth.SigV4Auth(creds, sign["service"], sign.get("region", REGION))
    when = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) + \
        datetime.timedelta(seconds=sign.get("offset_s", 0))
    with mock.patch.object(botocore.auth, "get_current_datetime", lambda *a, **k: when):
        auth.add_auth(req)
    return list(req.headers.items())


class HostileServer:
    """The server under attack, a known group/record, and the checks that it is unharmed."""

    def __init__(self):
        self.srv = LarderServer(extra_args=[
            "--max-body-bytes", str(MAX_BODY), "--read-timeout-ms", str(READ_TIMEOUT_MS),
            "--query-timeout-ms", str(QUERY_TIMEOUT_MS),
            "--query-memory-limit-mb", str(QUERY_MEMORY_MB),
            "--max-connections", str(MAX_CONNECTIONS), "--flush-interval-ms", "100"])

    def start(self):
        self.srv.start()
        self.sm = self.srv.client("sagemaker")
        self.rt = self.srv.client("sagemaker-featurestore-runtime")
        self.ath = self.srv.client("athena")

    def seed(self):
        self.sm.create_feature_group(
            FeatureGroupName=KNOWN_GROUP, RecordIdentifierFeatureName="customer_id",
            EventTimeFeatureName="event_time",
            FeatureDefinitions=[{"FeatureName": "customer_id", "FeatureType": "String"},
                                {"FeatureName": "event_time", "FeatureType": "String"},
                                {"FeatureName": "score", "FeatureType": "Fractional"},
                                {"FeatureName": "visits", "FeatureType": "Integral"},
                                {"FeatureName": "label", "FeatureType": "String"}],
            OnlineStoreConfig={"EnableOnlineStore": True},
            OfflineStoreConfig={"S3StorageConfig": {"S3Uri": "s3://larder-hostile/fs"}},
            RoleArn=ROLE, Description="the group hostile requests must not change")
        deadline = time.monotonic() + 30 * SLOW
        while time.monotonic() < deadline:
            d = self.sm.describe_feature_group(FeatureGroupName=KNOWN_GROUP)
            if d["FeatureGroupStatus"] == "Created":
                break
            time.sleep(0.05)  # clients poll Describe
        self.table = d["OfflineStoreConfig"]["DataCatalogConfig"]["TableName"]
        self.rt.put_record(FeatureGroupName=KNOWN_GROUP, Record=KNOWN_RECORD)
        self.snapshot = self.state()
        self.offline_rows = self.query_rows(f'SELECT * FROM "{self.table}" ORDER BY write_time')

    def state(self):
        d = self.sm.describe_feature_group(FeatureGroupName=KNOWN_GROUP)
        for k in ("ResponseMetadata", "OnlineStoreTotalSizeBytes"):
            d.pop(k, None)
        meta = self.sm.describe_feature_metadata(FeatureGroupName=KNOWN_GROUP, FeatureName="score")
        meta.pop("ResponseMetadata")
        rec = self.rt.get_record(FeatureGroupName=KNOWN_GROUP, RecordIdentifierValueAsString=KNOWN_ID)
        rec.pop("ResponseMetadata")
        tags = self.sm.list_tags(ResourceArn=d["FeatureGroupArn"])["Tags"]
        names = sorted(g["FeatureGroupName"] for g in
                       self.sm.list_feature_groups(MaxResults=100)["FeatureGroupSummaries"])
        return {"describe": d, "metadata": meta, "record": rec, "tags": tags, "groups": names}

    def healthy(self):
        if self.srv.proc.poll() is not None:
            return f"the server exited with {self.srv.proc.returncode}"
        r = exchange(self.srv.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        if r is None or r.status != 200:
            return f"/healthz answered {r!r}"
        return None

    def start_query(self, sql):
        return self.ath.start_query_execution(
            QueryString=sql, QueryExecutionContext={"Database": "sagemaker_featurestore"},
            ResultConfiguration={"OutputLocation": "s3://larder-hostile/results/"})["QueryExecutionId"]

    def wait_query(self, qid, timeout=120 * SLOW):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ex = self.ath.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
            if ex["Status"]["State"] not in ("QUEUED", "RUNNING"):
                return ex
            time.sleep(0.05)  # Athena clients poll
        raise AssertionError(f"query {qid} still running after {timeout}s")

    def query_rows(self, sql):
        ex = self.wait_query(self.start_query(sql))
        assert ex["Status"]["State"] == "SUCCEEDED", ex["Status"]
        rows = []
        for page in self.ath.get_paginator("get_query_results").paginate(
                QueryExecutionId=ex["QueryExecutionId"]):
            rows += [[d.get("VarCharValue") for d in r["Data"]] for r in page["ResultSet"]["Rows"]]
        return rows

    def fill(self, text):
        return (text.replace("{HOST}", f"127.0.0.1:{self.srv.port}")
                .replace("{KNOWN_GROUP}", KNOWN_GROUP)
                .replace("{KNOWN_TABLE}", getattr(self, "table", ""))
                .replace("{DATA_DIR}", self.srv.data_dir)
                .replace("{ACCESS_KEY}", self.srv.access_key))

    def request_bytes(self, case):
        """The exact bytes a 'raw' or 'request' case sends."""
        if case["kind"] == "raw":
            return encode(self.fill(assemble(case.get("raw"), case.get("raw_parts"))),
                          case.get("encoding"))
        api = case["api"]
        content_type, prefix, service = API[api]
        method = case.get("method", "POST")
        path = self.fill(case.get("path", "/"))
        body = case.get("body")
        if body is not None and not isinstance(body, str):
            body = json.dumps(body)
        body = encode(self.fill(assemble(body, case.get("body_parts"))), case.get("encoding"))
        now = datetime.datetime.now(datetime.timezone.utc)
        headers = [("Host", f"127.0.0.1:{self.srv.port}")]
        if method in ("POST", "PUT", "PATCH"):
            headers.append(("Content-Type", content_type))
        if prefix is not None:
            headers.append(("X-Amz-Target", prefix + case.get("target", "")))
        for k, v in case.get("headers", {}).items():
            headers.append((k, self.fill(v).replace("{AMZ_DATE}", now.strftime("%Y%m%dT%H%M%SZ"))
                            .replace("{DATE}", now.strftime("%Y%m%d"))))
        sign = case.get("sign", {})
        if sign is not False:
            sign = dict(sign)
            sign.setdefault("service", service)
            for k, v in sign.get("extra_headers", {}).items():
                headers.append((k, v))
            headers = sign_headers(self.srv, method, path, headers, body, sign)
            for k, v in sign.get("tamper_headers", {}).items():
                headers = [(hk, v if hk.lower() == k.lower() else hv) for hk, hv in headers]
            if "tamper_body" in sign:
                body = sign["tamper_body"].encode()
        headers = [(k, v) for k, v in headers if k.lower() not in ("content-length", "connection")]
        headers += [("Content-Length", str(len(body))), ("Connection", "close")]
        head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
        return head.encode("latin-1") + b"\r\n" + body


class HostileCorpusTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.h = HostileServer()
        cls.h.start()
        cls.h.seed()
        for f in ESCAPE_FILES:
            assert not os.path.exists(f), f"{f} exists before the test: remove it"

    @classmethod
    def tearDownClass(cls):
        cls.h.srv.close()

    def check_unharmed(self, name):
        problem = self.h.healthy()
        if problem is not None:
            log = self.h.srv.log()
            # Bring a fresh server up on the same data so the remaining cases still run.
            self.h.srv.kill9()
            self.h.start()
            self.fail(f"{name}: {problem}\nserver log:\n{log}")
        self.assertEqual(self.h.state(), self.h.snapshot, f"{name} changed stored data")

    def run_request(self, case):
        data = self.h.request_bytes(case)
        resp = exchange(self.h.srv.port, data)
        if VERBOSE:
            print(f"{case['name']}: {resp!r:.200}")
        expect = case["expect"]
        self.assertIsNotNone(resp, "the server closed the connection without answering")
        want = expect.get("status", "4xx")
        if want == "4xx":
            self.assertTrue(400 <= resp.status < 500, resp)
        else:
            self.assertIn(resp.status, want, resp)
        if resp.status >= 400:
            # Errors are AWS-shaped: a JSON body with __type and a message, plus the header.
            body = resp.json()
            self.assertIn("__type", body, resp)
            self.assertTrue(body.get("message") or body.get("Message"), resp)
            if "code" in expect:
                self.assertEqual(resp.code, expect["code"], resp)
            if "message" in expect:
                self.assertIn(expect["message"], body.get("message", ""), resp)

    def run_query(self, case):
        sql = self.h.fill(assemble(case.get("sql"), case.get("sql_parts")))
        ex = self.h.wait_query(self.h.start_query(sql))
        status = ex["Status"]
        if VERBOSE:
            print(f"{case['name']}: {status['State']} {status.get('StateChangeReason', '')[:150]!r}")
        self.assertEqual(status["State"], case["expect"]["state"], status)
        reason = status.get("StateChangeReason", "")
        self.assertTrue(any(r in reason for r in case["expect"]["reason"]),
                        f"reason {reason[:400]!r} names none of {case['expect']['reason']}")

    def test_corpus(self):
        cases = load_corpus()
        self.assertGreaterEqual(len(cases), 50, "the hostile corpus shrank")
        for case in cases:
            with self.subTest(case=case["name"]):
                try:
                    if case["kind"] == "query":
                        self.run_query(case)
                    else:
                        self.run_request(case)
                finally:
                    self.check_unharmed(case["name"])

    def test_zz_offline_store_and_file_system_unchanged(self):
        # Runs after test_corpus (unittest orders tests by name).
        for f in ESCAPE_FILES + [os.path.join(self.h.srv.data_dir, "tables", "hostile.csv")]:
            self.assertFalse(os.path.exists(f), f"a hostile query created {f}")
        self.assertEqual(self.h.query_rows(f'SELECT * FROM "{self.h.table}" ORDER BY write_time'),
                         self.h.offline_rows)
        # The offline store still takes writes: nothing hostile poisoned the flusher.
        self.h.rt.put_record(FeatureGroupName=KNOWN_GROUP, Record=[
            {"FeatureName": "customer_id", "ValueAsString": "after-corpus"},
            {"FeatureName": "event_time", "ValueAsString": "2024-06-02T00:00:00Z"}])
        rows = self.h.query_rows(f"SELECT customer_id FROM \"{self.h.table}\" "
                                 f"WHERE customer_id = 'after-corpus'")
        self.assertEqual(rows, [["customer_id"], ["after-corpus"]])


def wait_closed(sock, deadline):
    """True if the peer closes `sock` (EOF or reset) before `deadline` (monotonic)."""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, min(0.5, deadline - time.monotonic())))
        try:
            if sock.recv(4096) == b"":
                return True
        except socket.timeout:
            continue
        except OSError:
            return True
    return False


class SlowClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.h = HostileServer()
        cls.h.start()

    @classmethod
    def tearDownClass(cls):
        cls.h.srv.close()

    def slowloris(self, prefix, trickle):
        """Sends `prefix`, then one byte of `trickle` per second; returns the seconds until the
        server cut the connection (failing if it never does)."""
        start = time.monotonic()
        limit = start + READ_TIMEOUT_MS / 1000 + 10 * SLOW
        with socket.create_connection(("127.0.0.1", self.h.srv.port), timeout=5) as s:
            s.sendall(prefix)
            for i in range(len(trickle)):
                if time.monotonic() > limit:
                    break
                try:
                    s.send(trickle[i:i + 1])
                except OSError:
                    return time.monotonic() - start
                # Meanwhile other clients are served.
                self.assertIsNone(self.h.healthy())
                # One byte a second is the attack; the wait doubles as the close check.
                if wait_closed(s, time.monotonic() + 1.0):
                    return time.monotonic() - start
            self.fail(f"a client sending a byte per second was not cut off after "
                      f"{time.monotonic() - start:.1f}s (read timeout {READ_TIMEOUT_MS} ms)")

    def test_slowloris_headers_are_cut_by_the_read_deadline(self):
        took = self.slowloris(b"GET /healthz HTTP/1.1\r\n", b"X-Slow: " + b"a" * 200)
        self.assertGreaterEqual(took, READ_TIMEOUT_MS / 1000 * 0.9)

    def test_slow_body_is_cut_by_the_read_deadline(self):
        head = (f"PUT /FeatureGroup/{KNOWN_GROUP} HTTP/1.1\r\nHost: x\r\n"
                f"Content-Type: application/json\r\nContent-Length: 500\r\n\r\n").encode()
        took = self.slowloris(head, b"{" + b" " * 400)
        self.assertGreaterEqual(took, READ_TIMEOUT_MS / 1000 * 0.9)

    def test_idle_connection_is_cut(self):
        with socket.create_connection(("127.0.0.1", self.h.srv.port), timeout=5) as s:
            start = time.monotonic()
            self.assertTrue(wait_closed(s, start + READ_TIMEOUT_MS / 1000 + 10 * SLOW),
                            "an idle connection stayed open past the read deadline")
            self.assertGreaterEqual(time.monotonic() - start, READ_TIMEOUT_MS / 1000 * 0.9)

    def test_many_slow_clients_do_not_starve_others(self):
        socks = []
        try:
            for _ in range(MAX_CONNECTIONS // 2):
                s = socket.create_connection(("127.0.0.1", self.h.srv.port), timeout=5)
                s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")
                socks.append(s)
            start = time.monotonic()
            self.assertIsNone(self.h.healthy())
            self.assertLess(time.monotonic() - start, 5 * SLOW)
        finally:
            for s in socks:
                s.close()


class ConnectionLimitTest(unittest.TestCase):
    LIMIT = 4

    def test_connections_over_the_limit_get_503_and_the_server_recovers(self):
        srv = LarderServer(extra_args=["--max-connections", str(self.LIMIT),
                                       "--read-timeout-ms", "30000"])
        srv.start()
        socks = []
        try:
            for _ in range(self.LIMIT):
                socks.append(socket.create_connection(("127.0.0.1", srv.port), timeout=5))
            # Every slot holds an idle connection: the next one is refused with 503...
            r = exchange(srv.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertIsNotNone(r, "no answer past the connection limit")
            self.assertEqual(r.status, 503, r)
            self.assertIn("connections", r.json().get("message", ""), r)
            # ...and once they go, new clients are served again.
            for s in socks:
                s.close()
            socks = []
            deadline = time.monotonic() + 10 * SLOW
            status = None
            while time.monotonic() < deadline:
                r = exchange(srv.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                status = r.status if r else None
                if status == 200:
                    break
                time.sleep(0.05)  # the server notices the closes asynchronously
            self.assertEqual(status, 200)
        finally:
            for s in socks:
                s.close()
            srv.close()


if __name__ == "__main__":
    unittest.main()
