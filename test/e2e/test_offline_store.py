"""The offline store's files and durability, through a real server: the Glue layout on disk,
the final flush on SIGTERM, exactly-once across kill -9, and delete markers."""
import glob
import os
import re
import threading
import time
import unittest

from larder_harness import LarderServer

ROLE = "arn:aws:iam::123456789012:role/larder-test"
STORE = os.path.join("offline", "123456789012", "sagemaker", "us-east-1", "offline-store")


def create_group(sm, name):
    sm.create_feature_group(
        FeatureGroupName=name, RecordIdentifierFeatureName="customer_id",
        EventTimeFeatureName="event_time",
        FeatureDefinitions=[{"FeatureName": "customer_id", "FeatureType": "String"},
                            {"FeatureName": "event_time", "FeatureType": "String"},
                            {"FeatureName": "score", "FeatureType": "Fractional"},
                            {"FeatureName": "visits", "FeatureType": "Integral"}],
        OnlineStoreConfig={"EnableOnlineStore": True},
        OfflineStoreConfig={"S3StorageConfig": {"S3Uri": "s3://bucket/fs"}}, RoleArn=ROLE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        d = sm.describe_feature_group(FeatureGroupName=name)
        if d["FeatureGroupStatus"] == "Created":
            return d
        time.sleep(0.05)  # clients poll Describe
    raise AssertionError(f"{name} was not created")


def put(rt, group, cid, event_time, score=1.5, visits=3):
    rt.put_record(FeatureGroupName=group, Record=[
        {"FeatureName": "customer_id", "ValueAsString": cid},
        {"FeatureName": "event_time", "ValueAsString": event_time},
        {"FeatureName": "score", "ValueAsString": str(score)},
        {"FeatureName": "visits", "ValueAsString": str(visits)}])


class OfflineStoreTest(unittest.TestCase):
    def setUp(self):
        self.srv = None

    def tearDown(self):
        if self.srv:
            self.srv.close()

    def start(self, *args):
        self.srv = LarderServer(extra_args=list(args))
        self.srv.start()
        self.clients()

    def clients(self):
        self.sm = self.srv.client("sagemaker")
        self.rt = self.srv.client("sagemaker-featurestore-runtime")
        self.ath = self.srv.client("athena")

    def query(self, sql):
        qid = self.ath.start_query_execution(
            QueryString=sql, QueryExecutionContext={"Database": "sagemaker_featurestore"},
            ResultConfiguration={"OutputLocation": "s3://bucket/results/"})["QueryExecutionId"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ex = self.ath.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
            if ex["Status"]["State"] not in ("QUEUED", "RUNNING"):
                break
            time.sleep(0.05)  # Athena clients poll
        self.assertEqual(ex["Status"]["State"], "SUCCEEDED", ex["Status"])
        rows = []
        for page in self.ath.get_paginator("get_query_results").paginate(QueryExecutionId=qid):
            rows += [[d.get("VarCharValue") for d in r["Data"]] for r in page["ResultSet"]["Rows"]]
        return rows[1:]

    def test_glue_layout_and_final_flush_on_sigterm(self):
        # Nothing flushes in the background: only the shutdown does.
        self.start("--flush-interval-ms", "3600000", "--flush-rows", "1000000")
        d = create_group(self.sm, "layout-test")
        root_name = d["OfflineStoreConfig"]["S3StorageConfig"]["ResolvedOutputS3Uri"].split("/")[-2]
        self.assertRegex(root_name, r"^layout-test-\d+$")
        put(self.rt, "layout-test", "C1", "2024-03-01T08:15:00Z")
        put(self.rt, "layout-test", "C2", "2024-03-01T08:45:30Z")
        put(self.rt, "layout-test", "C1", "2024-03-01T09:00:00Z")
        data = os.path.join(self.srv.data_dir, STORE, root_name, "data")
        self.assertEqual(glob.glob(os.path.join(data, "**", "*.parquet"), recursive=True), [])
        self.assertEqual(self.srv.stop(), 0)

        files = sorted(os.path.relpath(p, data)
                       for p in glob.glob(os.path.join(data, "**", "*"), recursive=True)
                       if os.path.isfile(p))
        self.assertEqual(len(files), 2, files)
        self.assertRegex(files[0], r"^year=2024/month=03/day=01/hour=08/20240301T084530Z_[A-Za-z0-9]{16}\.parquet$")
        self.assertRegex(files[1], r"^year=2024/month=03/day=01/hour=09/20240301T090000Z_[A-Za-z0-9]{16}\.parquet$")
        self.assertEqual(os.listdir(os.path.join(self.srv.data_dir, "offline", "_flush")), [])

        self.srv.start()
        self.clients()
        rows = self.query(f'SELECT customer_id, event_time, score, visits, hour FROM "layout-test_{root_name.split("-")[-1]}" '
                          f"ORDER BY event_time")
        self.assertEqual(rows, [["C1", "2024-03-01T08:15:00Z", "1.5", "3", "08"],
                                ["C2", "2024-03-01T08:45:30Z", "1.5", "3", "08"],
                                ["C1", "2024-03-01T09:00:00Z", "1.5", "3", "09"]])

    def test_kill9_loses_no_acknowledged_write_and_duplicates_none(self):
        # Flush continuously so the kill lands in the middle of flushes.
        self.start("--flush-interval-ms", "2", "--flush-rows", "5")
        d = create_group(self.sm, "crash-test")
        table = d["OfflineStoreConfig"]["DataCatalogConfig"]["TableName"]
        acked, enough, stop = [], threading.Event(), threading.Event()

        def writer():
            rt = self.srv.client("sagemaker-featurestore-runtime")
            i = 0
            while not stop.is_set():
                cid = f"K{i:05d}"
                try:
                    put(rt, "crash-test", cid, f"2024-03-01T10:{i // 60 % 60:02d}:{i % 60:02d}Z", visits=i)
                except Exception:  # the server died under us: this write was not acknowledged
                    return
                acked.append(cid)
                if len(acked) >= 150:
                    enough.set()
                i += 1

        t = threading.Thread(target=writer)
        t.start()
        self.assertTrue(enough.wait(120), "the writer made no progress")
        self.srv.kill9()
        stop.set()
        t.join()

        self.srv.start()
        self.clients()
        rows = self.query(f'SELECT customer_id, count(*) FROM "{table}" GROUP BY customer_id')
        counts = {cid: int(n) for cid, n in rows}
        missing = [c for c in acked if c not in counts]
        self.assertEqual(missing, [], "acknowledged writes lost")
        self.assertEqual({c: n for c, n in counts.items() if n != 1}, {}, "rows duplicated")

        # Once more: writes, a query (which flushes them), then kill -9 right away.
        for i in range(20):
            put(self.rt, "crash-test", f"L{i:05d}", "2024-03-01T11:00:00Z")
        self.assertEqual(len(self.query(f"SELECT 1 FROM \"{table}\" WHERE customer_id LIKE 'L%'")), 20)
        self.srv.kill9()
        self.srv.start()
        self.clients()
        rows = self.query(f'SELECT count(*), count(DISTINCT customer_id) FROM "{table}"')
        self.assertEqual(rows[0][0], rows[0][1])
        self.assertEqual(int(rows[0][0]), len(counts) + 20)

    def test_delete_record_writes_a_marker_row(self):
        self.start()
        d = create_group(self.sm, "delete-test")
        table = d["OfflineStoreConfig"]["DataCatalogConfig"]["TableName"]
        put(self.rt, "delete-test", "C1", "2024-03-01T08:00:00Z", score=2.5, visits=7)
        self.rt.delete_record(FeatureGroupName="delete-test", RecordIdentifierValueAsString="C1",
                              EventTime="2024-03-01T09:00:00Z")
        rows = self.query(f'SELECT customer_id, event_time, score, visits, is_deleted FROM "{table}" '
                          f"ORDER BY event_time")
        self.assertEqual(rows, [["C1", "2024-03-01T08:00:00Z", "2.5", "7", "false"],
                                ["C1", "2024-03-01T09:00:00Z", None, None, "true"]])


if __name__ == "__main__":
    unittest.main()
