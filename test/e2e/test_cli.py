"""End-to-end tests of the `larder` client subcommands against a real `larder serve`.

Each test runs the CLI as a subprocess with the server's endpoint and keys in the environment
(as a user would), and checks what it printed and what the server then holds (through boto3).
"""
import csv
import json
import os
import random
import socket
import subprocess
import tempfile
import unittest

from larder_harness import LarderServer, free_port


class CliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = LarderServer()
        cls.srv.start()
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name
        cls.sm = cls.srv.client("sagemaker")
        cls.rt = cls.srv.client("sagemaker-featurestore-runtime")

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()
        cls.tmp.cleanup()

    def larder(self, *args, env=None, expect=0, timeout=300):
        e = self.srv.env()
        e.update(env or {})
        p = subprocess.run([self.srv.binary, *args], env=e, capture_output=True, text=True,
                           timeout=timeout, cwd=self.dir)
        if expect is not None and p.returncode != expect:
            self.fail(f"larder {' '.join(args)}: exit {p.returncode}, wanted {expect}\n"
                      f"stdout: {p.stdout[-3000:]}\nstderr: {p.stderr[-3000:]}")
        return p

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def create(self, name, path, *extra):
        self.larder("create-feature-group", name, "--from", path, "--record-id", "id",
                    "--event-time", "ts", *extra)

    def table_of(self, name):
        d = self.sm.describe_feature_group(FeatureGroupName=name)
        return d["OfflineStoreConfig"]["DataCatalogConfig"]["TableName"]

    def query_json(self, sql):
        return json.loads(self.larder("query", sql, "--format", "json").stdout)

    # ---- connection and credentials ----

    def test_server_down_keys_wrong_keys_missing(self):
        port = free_port()
        p = self.larder("list", "--endpoint", f"http://127.0.0.1:{port}", expect=1)
        self.assertEqual(p.stderr.strip(),
                         f"larder list: cannot connect to http://127.0.0.1:{port}: connection "
                         "refused — is `larder serve` running?")
        p = self.larder("list", env={"AWS_SECRET_ACCESS_KEY": "wrong"}, expect=1)
        self.assertIn("larder list: InvalidSignatureException: The request signature we "
                      "calculated does not match", p.stderr)
        p = self.larder("list", env={"AWS_ACCESS_KEY_ID": "AKIAUNKNOWNKEY000000"}, expect=1)
        self.assertIn("UnrecognizedClientException", p.stderr)
        e = {"AWS_ACCESS_KEY_ID": ""}
        p = self.larder("describe", "x", env=e, expect=1)
        self.assertIn("no AWS credentials: AWS_ACCESS_KEY_ID is not set", p.stderr)

    # ---- create-feature-group ----

    def test_create_infers_types_from_parquet_and_ingest_converts_them(self):
        # A typed file: a TIMESTAMP event time, BIGINT, DOUBLE, BOOLEAN and DATE columns.
        src = self.write("typed.csv",
                         "id,ts,n,x,flag,dt\n"
                         "a,2024-05-01 12:00:00,3,0.25,true,2024-05-01\n"
                         "b,2024-05-01 12:00:01.5,4,1.5,false,2024-05-02\n")
        parquet = os.path.join(self.dir, "typed.parquet")
        # `larder query` cannot write local files from SQL; use the CLI's own Parquet writer.
        self.larder("query", "SELECT 'a' AS id, TIMESTAMP '2024-05-01 12:00:00' AS ts, "
                    "CAST(3 AS BIGINT) AS n, 0.25 AS x, true AS flag, DATE '2024-05-01' AS dt "
                    "UNION ALL SELECT 'b', TIMESTAMP '2024-05-01 12:00:01.500', 4, 1.5, false, "
                    "DATE '2024-05-02'", "--format", "parquet", "--out", parquet)
        p = self.larder("create-feature-group", "typed", "--from", parquet, "--record-id", "id",
                        "--event-time", "ts", "--dry-run", "--format", "json")
        req = json.loads(p.stdout)
        types = {d["FeatureName"]: d["FeatureType"] for d in req["FeatureDefinitions"]}
        self.assertEqual(types, {"id": "String", "ts": "String", "n": "Integral",
                                 "x": "Fractional", "flag": "String", "dt": "String"})
        self.assertEqual(req["OnlineStoreConfig"], {"EnableOnlineStore": True})
        self.assertEqual(req["OfflineStoreConfig"]["S3StorageConfig"]["S3Uri"], "s3://larder/typed")
        with self.assertRaises(Exception):
            self.sm.describe_feature_group(FeatureGroupName="typed")  # dry run created nothing

        p = self.larder("create-feature-group", "typed", "--from", parquet, "--record-id", "id",
                        "--event-time", "ts", "--description", "typed columns")
        self.assertIn("timestamp as String, ISO-8601 UTC", p.stdout)
        d = self.sm.describe_feature_group(FeatureGroupName="typed")
        self.assertEqual(d["FeatureGroupStatus"], "Created")
        self.assertEqual(d["Description"], "typed columns")
        self.assertNotIn("TtlDuration", d["OnlineStoreConfig"])
        # --ttl sets the group's default TTL (online store only).
        self.larder("create-feature-group", "typed-ttl", "--from", parquet, "--record-id", "id",
                    "--event-time", "ts", "--online", "--ttl", "7d")
        d = self.sm.describe_feature_group(FeatureGroupName="typed-ttl")
        self.assertEqual(d["OnlineStoreConfig"]["TtlDuration"], {"Unit": "Days", "Value": 7})
        self.assertNotIn("OfflineStoreConfig", d)

        self.larder("ingest", parquet, "--feature-group", "typed")
        rec = {f["FeatureName"]: f["ValueAsString"] for f in self.rt.get_record(
            FeatureGroupName="typed", RecordIdentifierValueAsString="b")["Record"]}
        self.assertEqual(rec, {"id": "b", "ts": "2024-05-01T12:00:01.5Z", "n": "4", "x": "1.5",
                               "flag": "false", "dt": "2024-05-02"})
        # The CSV twin: text event times DuckDB reads as timestamps become ISO-8601 too.
        self.create("typedcsv", src, "--type", "n=Integral")
        self.larder("ingest", src, "--feature-group", "typedcsv")
        rec = {f["FeatureName"]: f["ValueAsString"] for f in self.rt.get_record(
            FeatureGroupName="typedcsv", RecordIdentifierValueAsString="a")["Record"]}
        self.assertEqual(rec["ts"], "2024-05-01T12:00:00Z")
        self.assertEqual(rec["n"], "3")

    def test_create_errors_name_the_column(self):
        path = self.write("bad.csv", "id,ts,write_time\n1,1,2\n")
        p = self.larder("create-feature-group", "bad", "--from", path, "--record-id", "id",
                        "--event-time", "ts", expect=1)
        self.assertIn("column 'write_time' uses a reserved name", p.stderr)
        p = self.larder("create-feature-group", "bad", "--from", path, "--record-id", "nope",
                        "--event-time", "ts", expect=1)
        self.assertIn("--record-id 'nope' is not a column of the file; its columns are: id, ts, "
                      "write_time", p.stderr)
        p = self.larder("create-feature-group", "bad", "--from",
                        os.path.join(self.dir, "missing.csv"), "--record-id", "id",
                        "--event-time", "ts", expect=1)
        self.assertIn("no such file", p.stderr)

    # ---- ingest ----

    def test_ingest_rejects_go_to_the_rejects_file_and_exit_3(self):
        lines = ["id,ts,score,count"]
        for i in range(1, 501):
            lines.append(f"r{i},{1700000000 + i},{i / 10},{i}")
        lines[100] = "r100,1700000100,not-a-number,100"       # data row 100
        lines[250] = "r250,last tuesday,25.0,250"               # data row 250
        lines[400] = ",1700000400,40.0,400"                     # data row 400: no identifier
        path = self.write("rejects.csv", "\n".join(lines) + "\n")
        self.create("rejects", self.write("rejects_schema.csv", "\n".join(lines[:3]) + "\n"),
                    "--type", "ts=String")
        rejects = os.path.join(self.dir, "rej.jsonl")
        p = self.larder("ingest", path, "--feature-group", "rejects", "--rejects", rejects,
                        "--format", "json", "--workers", "3", "--batch-size", "10", expect=3)
        summary = json.loads(p.stdout)
        self.assertEqual(summary["rows_read"], 500)
        self.assertEqual(summary["rows_written"], 497)
        self.assertEqual(summary["rows_rejected"], 3)
        self.assertEqual(summary["rejects_file"], rejects)
        with open(rejects) as f:
            got = {r["row"]: r for r in map(json.loads, f)}
        self.assertEqual(sorted(got), [100, 250, 400])
        self.assertIn("'score' is Fractional", got[100]["reason"])
        self.assertEqual(got[100]["values"]["score"], "not-a-number")
        self.assertIn("last tuesday", got[250]["reason"])
        self.assertEqual(got[400]["reason"], "the record identifier 'id' is null")
        # Everything else is online with its file values.
        rec = {f["FeatureName"]: f["ValueAsString"] for f in self.rt.get_record(
            FeatureGroupName="rejects", RecordIdentifierValueAsString="r499")["Record"]}
        self.assertEqual(rec, {"id": "r499", "ts": "1700000499", "score": "49.9", "count": "499"})
        self.assertNotIn("Record", self.rt.get_record(FeatureGroupName="rejects",
                                                      RecordIdentifierValueAsString="r100"))

    def test_ingest_unknown_columns(self):
        path = self.write("extra.csv", "id,ts,score\na,1700000000,1.5\n")
        self.create("extra", self.write("extra_schema.csv", "id,ts\na,1700000000\n"),
                    "--type", "ts=String")
        p = self.larder("ingest", path, "--feature-group", "extra", expect=1)
        self.assertIn("the file has 1 column that is not a feature of 'extra': score (its "
                      "features: id, ts)", p.stderr)
        p = self.larder("ingest", path, "--feature-group", "extra", "--ignore-extra-columns")
        self.assertIn("ignoring score", p.stderr)
        rec = self.rt.get_record(FeatureGroupName="extra", RecordIdentifierValueAsString="a")
        self.assertEqual(len(rec["Record"]), 2)

    def test_ingest_many_rows_then_rerun_is_idempotent_online(self):
        n = 20000
        rnd = random.Random(5)
        path = os.path.join(self.dir, "many.csv")
        expected = {}
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["id", "ts", "amount", "visits", "city"])
            for i in range(n):
                row = [f"u{i}", str(1700000000 + i), f"{rnd.uniform(0, 1000):.4f}",
                       str(rnd.randrange(100)), rnd.choice(["Paris", "Lyon, FR", 'A "B"'])]
                w.writerow(row)
                expected[row[0]] = row
        self.create("many", path, "--type", "ts=String")
        p = self.larder("ingest", path, "--feature-group", "many", "--workers", "4",
                        "--format", "json")
        s = json.loads(p.stdout)
        self.assertEqual((s["rows_read"], s["rows_written"], s["rows_rejected"]), (n, n, 0))
        self.assertNotIn("\r", p.stderr)  # no progress bar when stderr is not a terminal
        for uid in ["u0", "u777", f"u{n - 1}"]:
            rec = {f["FeatureName"]: f["ValueAsString"] for f in self.rt.get_record(
                FeatureGroupName="many", RecordIdentifierValueAsString=uid)["Record"]}
            e = expected[uid]
            self.assertEqual(rec, {"id": e[0], "ts": e[1], "amount": e[2], "visits": e[3],
                                   "city": e[4]})
        table = self.table_of("many")
        self.assertEqual(self.query_json(f'SELECT count(*) AS n FROM "{table}"')[0]["n"], n)
        # Re-running the same load: the online store is unchanged; the offline store keeps
        # every accepted write, so each row is there twice (the dataset dedup keeps one).
        self.larder("ingest", path, "--feature-group", "many", "--workers", "2")
        rows = self.query_json(f'SELECT count(*) AS n, count(DISTINCT id) AS ids FROM "{table}"')
        self.assertEqual(rows[0], {"n": 2 * n, "ids": n})
        rec = {f["FeatureName"]: f["ValueAsString"] for f in self.rt.get_record(
            FeatureGroupName="many", RecordIdentifierValueAsString="u777")["Record"]}
        self.assertEqual(rec["amount"], expected["u777"][2])

    def test_ingest_json_lines(self):
        path = self.write("events.jsonl",
                          '{"id": "j1", "ts": 1700000000.5, "score": 0.1, "n": 7}\n'
                          '{"id": "j2", "ts": 1700000001.25, "score": 1e-7, "n": 8}\n')
        self.create("jsonl", path)
        d = self.sm.describe_feature_group(FeatureGroupName="jsonl")
        types = {f["FeatureName"]: f["FeatureType"] for f in d["FeatureDefinitions"]}
        self.assertEqual(types, {"id": "String", "ts": "Fractional", "score": "Fractional",
                                 "n": "Integral"})
        self.larder("ingest", path, "--feature-group", "jsonl")
        rec = {f["FeatureName"]: f["ValueAsString"] for f in self.rt.get_record(
            FeatureGroupName="jsonl", RecordIdentifierValueAsString="j2")["Record"]}
        self.assertEqual(rec, {"id": "j2", "ts": "1700000001.25", "score": "1e-07", "n": "8"})

    # ---- list, describe, get, put, delete-record, delete-feature-group ----

    def test_record_commands(self):
        path = self.write("rec.csv", "id,ts,score,label\nk1,1700000000,0.5,x\n")
        self.create("records", path, "--type", "ts=String")
        self.larder("put", "records", "--record", "id=k2", "--record", "score=2.5",
                    "--record", "label=hello, world")
        got = json.loads(self.larder("get", "records", "k2", "--format", "json").stdout)
        self.assertEqual(got["score"], "2.5")
        self.assertEqual(got["label"], "hello, world")
        self.assertRegex(got["ts"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")  # filled in: now
        self.larder("put", "records", "--json",
                    '{"id": "k3", "ts": "1700000003", "score": 1.25e2, "label": null}')
        got = json.loads(self.larder("get", "records", "k3", "--format", "json").stdout)
        self.assertEqual(got, {"id": "k3", "ts": "1700000003", "score": "1.25e2"})
        only = self.larder("get", "records", "k3", "--feature", "score", "--format", "csv")
        self.assertEqual(only.stdout, "FEATURE,VALUE\nscore,1.25e2\n")
        table = self.larder("get", "records", "k3").stdout
        self.assertIn("score", table)
        self.assertIn("1.25e2", table)
        p = self.larder("get", "records", "nobody", expect=1)
        self.assertIn("has no record 'nobody'", p.stderr)
        p = self.larder("put", "records", "--record", "id=k4", "--record", "score=abc", expect=1)
        self.assertIn("ValidationError", p.stderr)

        self.larder("delete-record", "records", "k3", "--hard")
        self.larder("get", "records", "k3", expect=1)
        self.larder("delete-record", "records", "k2")
        self.larder("get", "records", "k2", expect=1)

        listed = json.loads(self.larder("list", "--format", "json").stdout)
        self.assertIn("records", [g["FeatureGroupName"] for g in listed])
        times = [g["CreationTime"] for g in listed]
        self.assertEqual(times, sorted(times, reverse=True))
        only = json.loads(self.larder("list", "--name-contains", "record", "--format",
                                      "json").stdout)
        self.assertEqual([g["FeatureGroupName"] for g in only], ["records"])
        text = self.larder("list", "--format", "csv").stdout.splitlines()
        self.assertEqual(text[0], "NAME,STATUS,OFFLINE,CREATED")
        desc = self.larder("describe", "records").stdout
        self.assertIn("Record identifier:  id", desc)
        self.assertRegex(desc, r"\nscore +Fractional\n")
        feats = self.larder("describe", "records", "--format", "csv").stdout.splitlines()
        self.assertEqual(feats[0], "FEATURE,TYPE,COLLECTION,ROLE")
        self.assertEqual(len(feats), 5)

        self.larder("delete-feature-group", "records")
        p = self.larder("describe", "records", expect=1)
        self.assertIn("ResourceNotFound", p.stderr)

    def test_list_pages_through_every_group(self):
        path = self.write("page.csv", "id,ts\na,1\n")
        for i in range(3):
            self.larder("create-feature-group", f"page-{i}", "--from", path, "--record-id", "id",
                        "--event-time", "ts", "--offline", "--no-wait")
        listed = json.loads(self.larder("list", "--name-contains", "page-", "--format",
                                        "json").stdout)
        self.assertEqual(sorted(g["FeatureGroupName"] for g in listed),
                         ["page-0", "page-1", "page-2"])
        limited = json.loads(self.larder("list", "--name-contains", "page-", "--limit", "2",
                                         "--format", "json").stdout)
        self.assertEqual(len(limited), 2)

    # ---- query ----

    def test_query_formats(self):
        path = self.write("q.csv", "id,ts,score,note\n"
                          "q1,1700000000,0.5,\"a,b\"\nq2,1700000001,1.5,plain\n")
        self.create("queries", path, "--type", "ts=String")
        self.larder("ingest", path, "--feature-group", "queries")
        table = self.table_of("queries")
        sql = f'SELECT id, score, note, is_deleted FROM "{table}" ORDER BY id'
        rows = self.query_json(sql)
        self.assertEqual(rows, [{"id": "q1", "score": 0.5, "note": "a,b", "is_deleted": False},
                                {"id": "q2", "score": 1.5, "note": "plain", "is_deleted": False}])
        out = self.larder("query", sql, "--format", "csv").stdout
        self.assertEqual(out, 'id,score,note,is_deleted\nq1,0.5,"a,b",false\n'
                              "q2,1.5,plain,false\n")
        text = self.larder("query", sql).stdout
        self.assertIn("q2  1.5", text)
        pq = os.path.join(self.dir, "q.parquet")
        p = self.larder("query", f'SELECT id, score, note, is_deleted AS deleted FROM "{table}"',
                        "--format", "parquet", "--out", pq)
        self.assertIn("wrote 2 rows", p.stderr)
        # The Parquet file's schema, read back through schema inference.
        req = json.loads(self.larder("create-feature-group", "qcheck", "--from", pq,
                                     "--record-id", "id", "--event-time", "score",
                                     "--dry-run", "--format", "json").stdout)
        types = {d["FeatureName"]: d["FeatureType"] for d in req["FeatureDefinitions"]}
        self.assertEqual(types, {"id": "String", "score": "Fractional", "note": "String",
                                 "deleted": "String"})  # a BOOLEAN column
        p = self.larder("query", "SELECT * FROM no_such_table", expect=1)
        self.assertIn("FAILED", p.stderr)
        p = self.larder("query", "SELECT 1", "--format", "parquet", expect=1)
        self.assertIn("--format parquet needs --out FILE", p.stderr)

    def test_dataset(self):
        path = self.write("ds.csv", "id,ts,score\nd1,1700000000,0.5\nd2,1700000100,1.5\n"
                                    "d1,1700000200,2.5\n")
        self.create("datasets", path, "--type", "ts=String")
        self.larder("ingest", path, "--feature-group", "datasets")
        out = os.path.join(self.dir, "ds.csv.out")
        p = self.larder("dataset", "--base-feature-group", "datasets:id,score", "--format", "csv",
                        "--recent", "1", "--out", out, "--json")
        reply = json.loads(p.stdout)
        self.assertEqual(reply["RowCount"], 2)  # the latest row per identifier
        self.assertEqual(reply["Columns"], ["id", "score"])
        with open(out) as f:
            self.assertEqual(sorted(f.read().splitlines()), ["d1,2.5", "d2,1.5", "id,score"])
        p = self.larder("dataset", "--format", "csv", expect=1)
        self.assertIn("give exactly one of --base FILE and --base-feature-group NAME", p.stderr)
        p = self.larder("dataset", "--base-feature-group", "no-such-group", expect=1)
        self.assertIn("no-such-group", p.stderr)

    def test_help_for_every_subcommand(self):
        for cmd in ["list", "describe", "create-feature-group", "delete-feature-group", "ingest",
                    "get", "put", "delete-record", "query", "dataset"]:
            p = self.larder(cmd, "--help")
            self.assertIn("Example", p.stdout, cmd)
            self.assertIn("--endpoint", p.stdout, cmd)


if __name__ == "__main__":
    unittest.main()
