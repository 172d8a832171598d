"""The offline store through Athena, with boto3's athena client after boto3 puts.

Covers the user walkthrough (seeds/000_cf6a70014ef9b569.txt): its training query, run as
written, and its point-in-time join (labels from DATA_DIR/tables/labels_table.csv, or a CTE),
plus paging, failure reasons, the DuckDB sandbox, StopQueryExecution and time limits.
"""
import csv
import datetime
import io
import os
import re
import time
import unittest

from botocore.exceptions import ClientError

from larder_harness import LarderServer

ROLE = "arn:aws:iam::123456789012:role/larder-test"
QUERY_TIMEOUT_MS = 4000
CONTEXT = {"Database": "sagemaker_featurestore", "Catalog": "AwsDataCatalog"}
OUTPUT = {"OutputLocation": "s3://larder-test-bucket/query-results/"}

# The walkthrough's DataFrame, as load_feature_definitions() types it.
FEATURES = [
    ("customer_id", "String"), ("event_time", "String"), ("total_purchases", "Fractional"),
    ("avg_order_value", "Fractional"), ("days_since_last_purchase", "Fractional"),
    ("total_orders", "Fractional"), ("return_rate", "Fractional"), ("preferred_category", "String"),
    ("account_age_days", "Fractional"), ("loyalty_score", "Fractional"),
]


def create_group(sm, name):
    sm.create_feature_group(
        FeatureGroupName=name, RecordIdentifierFeatureName="customer_id",
        EventTimeFeatureName="event_time",
        FeatureDefinitions=[{"FeatureName": n, "FeatureType": t} for n, t in FEATURES],
        OnlineStoreConfig={"EnableOnlineStore": True},
        OfflineStoreConfig={"S3StorageConfig": {"S3Uri": "s3://larder-test-bucket/feature-store/"}},
        RoleArn=ROLE, Description="Customer behavioral features for recommendation models")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        d = sm.describe_feature_group(FeatureGroupName=name)
        if d["FeatureGroupStatus"] != "Creating":
            assert d["FeatureGroupStatus"] == "Created", d
            return d["OfflineStoreConfig"]["DataCatalogConfig"]["TableName"]
        time.sleep(0.05)  # the walkthrough polls Describe too
    raise AssertionError(f"{name} stayed Creating")


def put(rt, group, record):
    rt.put_record(FeatureGroupName=group,
                  Record=[{"FeatureName": k, "ValueAsString": str(v)} for k, v in record.items()])


def customer(i, event_time, **overrides):
    r = {
        "customer_id": f"C{str(i).zfill(4)}", "event_time": event_time,
        "total_purchases": round(10 + i * 1.25, 2), "avg_order_value": round(20 + i * 0.5, 2),
        "days_since_last_purchase": float(i % 30), "total_orders": float(i % 7 + 1),
        "return_rate": round((i % 10) / 100, 3),
        "preferred_category": ["electronics", "clothing", "books", "home", "sports"][i % 5],
        "account_age_days": float(30 + i), "loyalty_score": round((i % 100) / 100, 3),
    }
    r.update(overrides)
    return r


class AthenaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = LarderServer(extra_args=["--query-timeout-ms", str(QUERY_TIMEOUT_MS)])
        cls.srv.start()
        cls.sm = cls.srv.client("sagemaker")
        cls.rt = cls.srv.client("sagemaker-featurestore-runtime")
        cls.ath = cls.srv.client("athena")
        # The walkthrough: epoch-second event times written as strings.
        cls.table = create_group(cls.sm, "customer-features")
        now = int(time.time())
        cls.now = now
        cls.customers = 40
        for i in range(1, cls.customers + 1):
            put(cls.rt, "customer-features", customer(i, str(now - 3600)))
        # C0007 has no loyalty score yet: the training query's WHERE drops it.
        put(cls.rt, "customer-features",
            {k: v for k, v in customer(7, str(now - 3000)).items() if k != "loyalty_score"})
        # The walkthrough's update of C0042-like customer C0012: the offline store keeps both.
        put(cls.rt, "customer-features", customer(12, str(now), total_purchases=1500.00, loyalty_score=0.95))

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()

    # ---- helpers ----

    def start(self, sql, **kw):
        kw.setdefault("QueryExecutionContext", CONTEXT)
        kw.setdefault("ResultConfiguration", OUTPUT)
        return self.ath.start_query_execution(QueryString=sql, **kw)["QueryExecutionId"]

    def wait(self, qid, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ex = self.ath.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
            if ex["Status"]["State"] not in ("QUEUED", "RUNNING"):
                return ex
            time.sleep(0.05)  # the SDK's AthenaQuery.wait() polls the same way
        self.fail(f"query {qid} did not finish in {timeout}s")

    def rows(self, qid, page_size=None):
        """All rows (header first) as lists; a NULL is None."""
        cfg = {"PageSize": page_size} if page_size else {}
        out = []
        for page in self.ath.get_paginator("get_query_results").paginate(
                QueryExecutionId=qid, PaginationConfig=cfg):
            for row in page["ResultSet"]["Rows"]:
                out.append([d.get("VarCharValue") for d in row["Data"]])
        return out

    def run_ok(self, sql, **kw):
        qid = self.start(sql, **kw)
        ex = self.wait(qid)
        self.assertEqual(ex["Status"]["State"], "SUCCEEDED", ex["Status"])
        return qid, ex, self.rows(qid)

    def run_failed(self, sql):
        ex = self.wait(self.start(sql))
        self.assertEqual(ex["Status"]["State"], "FAILED", sql)
        return ex["Status"]["StateChangeReason"]

    # ---- the walkthrough ----

    def test_training_query_runs_as_written(self):
        query_string = f"""
SELECT customer_id,
       total_purchases,
       avg_order_value,
       days_since_last_purchase,
       total_orders,
       return_rate,
       account_age_days,
       loyalty_score
FROM "{self.table}"
WHERE loyalty_score IS NOT NULL
"""
        qid, ex, rows = self.run_ok(query_string)
        header, data = rows[0], rows[1:]
        self.assertEqual(header, ["customer_id", "total_purchases", "avg_order_value",
                                  "days_since_last_purchase", "total_orders", "return_rate",
                                  "account_age_days", "loyalty_score"])
        # 40 customers + the update of C0012; C0007's second row has no loyalty score. (Other
        # tests add customers numbered above 900.)
        walkthrough = [r for r in data if int(r[0][1:]) <= self.customers]
        self.assertEqual(len(walkthrough), self.customers + 1)
        self.assertEqual(sorted(r[0] for r in data).count("C0012"), 2)
        self.assertIn(["C0012", "1500.0", "26.0", "12.0", "6.0", "0.02", "42.0", "0.95"], data)
        self.assertIn(["C0003", "13.75", "21.5", "3.0", "4.0", "0.03", "33.0", "0.03"], data)
        meta = self.ath.get_query_results(QueryExecutionId=qid)["ResultSet"]["ResultSetMetadata"]
        self.assertEqual([c["Type"] for c in meta["ColumnInfo"]], ["varchar"] + ["double"] * 7)
        self.assertEqual(ex["ResultConfiguration"]["OutputLocation"],
                         f"s3://larder-test-bucket/query-results/{qid}.csv")
        self.assertGreater(ex["Statistics"]["DataScannedInBytes"], 0)
        self.assertIn("TotalExecutionTimeInMillis", ex["Statistics"])
        # The result CSV (header, every value quoted) is in DATA_DIR/query-results.
        with open(os.path.join(self.srv.data_dir, "query-results", f"{qid}.csv"), newline="") as f:
            text = f.read()
        self.assertTrue(text.startswith('"customer_id","total_purchases",'), text[:80])
        self.assertEqual(list(csv.reader(io.StringIO(text))), rows)

    def test_table_is_reachable_qualified_and_unqualified(self):
        for ref in (f'"{self.table}"', f'sagemaker_featurestore."{self.table}"',
                    f'AwsDataCatalog.sagemaker_featurestore."{self.table}"'):
            _, _, rows = self.run_ok(f"SELECT count(*) AS n FROM {ref} WHERE customer_id = 'C0012'")
            self.assertEqual(rows, [["n"], ["2"]], ref)
        # Without a QueryExecutionContext too (the AWS CLI's default).
        qid = self.ath.start_query_execution(
            QueryString=f'SELECT count(*) FROM "{self.table}"', ResultConfiguration=OUTPUT)["QueryExecutionId"]
        self.assertEqual(self.wait(qid)["Status"]["State"], "SUCCEEDED")

    def test_offline_columns_and_partitions(self):
        _, _, rows = self.run_ok(
            f"SELECT customer_id, event_time, is_deleted, year, month, day, hour, "
            f"api_invocation_time <= write_time AS ordered FROM \"{self.table}\" "
            f"WHERE customer_id = 'C0001'")
        self.assertEqual(rows[0], ["customer_id", "event_time", "is_deleted", "year", "month", "day",
                                   "hour", "ordered"])
        t = datetime.datetime.fromtimestamp(self.now - 3600, datetime.timezone.utc)
        self.assertEqual(rows[1], ["C0001", str(self.now - 3600), "false", f"{t.year:04d}",
                                   f"{t.month:02d}", f"{t.day:02d}", f"{t.hour:02d}", "true"])

    def test_a_put_is_visible_to_the_next_query(self):
        put(self.rt, "customer-features", customer(900, str(int(time.time())), loyalty_score=0.5))
        _, _, rows = self.run_ok(f"SELECT customer_id, loyalty_score FROM \"{self.table}\" "
                                 f"WHERE customer_id = 'C0900'")
        self.assertEqual(rows, [["customer_id", "loyalty_score"], ["C0900", "0.5"]])

    def test_point_in_time_join_with_a_labels_table_file(self):
        # A group with ISO-8601 event times, and labels in DATA_DIR/tables/labels_table.csv.
        table = create_group(self.sm, "customer-features-iso")
        for i, et in ((1, "2024-03-01T08:00:00Z"), (1, "2024-03-01T13:00:00Z"),
                      (1, "2024-02-27T00:00:00Z"), (2, "2024-03-01T01:00:00Z"),
                      (2, "2024-03-01T20:00:00Z")):
            put(self.rt, "customer-features-iso",
                customer(i, et, total_purchases=float(et[8:10] + et[11:13])))
        os.makedirs(os.path.join(self.srv.data_dir, "tables"), exist_ok=True)
        with open(os.path.join(self.srv.data_dir, "tables", "labels_table.csv"), "w") as f:
            f.write("customer_id,purchased,event_timestamp\n"
                    "C0001,1,2024-03-01 12:00:00\n"
                    "C0002,0,2024-03-02 00:00:00\n"
                    "C0003,1,2024-03-01 06:00:00\n")
        # The walkthrough's query, word for word.
        point_in_time_query = f"""
SELECT labels.customer_id,
       labels.purchased,
       labels.event_timestamp,
       features.total_purchases,
       features.avg_order_value,
       features.days_since_last_purchase,
       features.loyalty_score
FROM labels_table AS labels
LEFT JOIN "{table}" AS features
    ON labels.customer_id = features.customer_id
    AND features.event_time <= labels.event_timestamp
    AND features.event_time >= labels.event_timestamp - INTERVAL '24' HOUR
ORDER BY labels.event_timestamp DESC
"""
        _, _, rows = self.run_ok(point_in_time_query)
        self.assertEqual(rows[0], ["customer_id", "purchased", "event_timestamp", "total_purchases",
                                   "avg_order_value", "days_since_last_purchase", "loyalty_score"])
        got = sorted((r[0], r[1], r[2], r[3]) for r in rows[1:])
        self.assertEqual(got, [
            ("C0001", "1", "2024-03-01 12:00:00.000", "108.0"),   # 08:00 only: 13:00 is later, 02-27 too old
            ("C0002", "0", "2024-03-02 00:00:00.000", "101.0"),   # 23 h before
            ("C0002", "0", "2024-03-02 00:00:00.000", "120.0"),
            ("C0003", "1", "2024-03-01 06:00:00.000", None),      # no features: LEFT JOIN keeps it
        ])
        self.assertEqual([r[0] for r in rows[1:]][:2], ["C0002", "C0002"])  # DESC by label time

    def test_point_in_time_join_on_epoch_event_times_with_a_cte(self):
        # Epoch-second strings (the walkthrough's ingestion) compare as instants through
        # from_unixtime, as on Athena; the labels come in a CTE.
        label_time = datetime.datetime.fromtimestamp(self.now - 600, datetime.timezone.utc)
        ts = label_time.strftime("%Y-%m-%d %H:%M:%S")
        sql = f"""
WITH labels_table AS (
  SELECT * FROM (VALUES ('C0012', 1, TIMESTAMP '{ts}'), ('C0999', 0, TIMESTAMP '{ts}'))
         AS t(customer_id, purchased, event_timestamp))
SELECT labels.customer_id, labels.purchased, features.total_purchases, features.loyalty_score
FROM labels_table AS labels
LEFT JOIN "{self.table}" AS features
    ON labels.customer_id = features.customer_id
    AND from_unixtime(CAST(features.event_time AS double)) <= labels.event_timestamp
    AND from_unixtime(CAST(features.event_time AS double)) >= labels.event_timestamp - INTERVAL '24' HOUR
ORDER BY labels.customer_id
"""
        _, _, rows = self.run_ok(sql)
        # C0012's update (event time now) is after the label: only the older row joins.
        self.assertEqual(rows[1:], [["C0012", "1", "25.0", "0.12"], ["C0999", "0", None, None]])
        # Without from_unixtime an epoch string is not a timestamp; the reason quotes it.
        reason = self.run_failed(
            f"SELECT count(*) FROM \"{self.table}\" AS features "
            f"WHERE features.event_time <= TIMESTAMP '{ts}'")
        self.assertRegex(reason, r'Conversion Error.*"\d{10}"')

    # ---- Athena API behaviour ----

    def test_paging_returns_every_row_once(self):
        qid, _, rows = self.run_ok(f'SELECT customer_id FROM "{self.table}" ORDER BY customer_id')
        paged = self.rows(qid, page_size=7)
        self.assertEqual(paged, rows)
        self.assertEqual(paged[0], ["customer_id"])
        self.assertGreater(len(paged), 40)
        first = self.ath.get_query_results(QueryExecutionId=qid, MaxResults=3)
        self.assertEqual(len(first["ResultSet"]["Rows"]), 3)  # the header counts
        second = self.ath.get_query_results(QueryExecutionId=qid, MaxResults=3,
                                            NextToken=first["NextToken"])
        self.assertEqual([r["Data"][0]["VarCharValue"] for r in second["ResultSet"]["Rows"]],
                         [r[0] for r in rows[3:6]])

    def test_empty_table_before_any_file(self):
        table = create_group(self.sm, "brand-new-group")
        _, _, rows = self.run_ok(f'SELECT * FROM "{table}"')
        self.assertEqual(rows, [[n for n, _ in FEATURES] + [
            "api_invocation_time", "write_time", "is_deleted", "year", "month", "day", "hour"]])

    def test_failure_reasons(self):
        self.assertIn("nope", self.run_failed(f'SELECT nope FROM "{self.table}"'))
        self.assertIn("syntax error", self.run_failed("SELEC 1"))
        self.assertIn("no_such_table", self.run_failed("SELECT * FROM no_such_table"))
        ex = self.wait(self.start("SELECT 1", QueryExecutionContext={"Database": "nope"}))
        self.assertEqual(ex["Status"]["State"], "FAILED")
        self.assertIn("'nope'", ex["Status"]["StateChangeReason"])
        self.assertEqual(ex["Status"]["AthenaError"]["ErrorCategory"], 2)
        with self.assertRaises(ClientError) as cm:
            self.ath.get_query_results(QueryExecutionId=self.start("SELEC 1"))
        self.assertEqual(cm.exception.response["Error"]["Code"], "InvalidRequestException")
        with self.assertRaises(ClientError) as cm:
            self.ath.get_query_execution(QueryExecutionId="00000000-0000-0000-0000-000000000000")
        self.assertEqual(cm.exception.response["Error"]["Code"], "InvalidRequestException")

    def test_sandbox_escapes_fail_with_clear_reasons(self):
        data = self.srv.data_dir
        cases = [
            ("SELECT * FROM read_csv('/etc/passwd')", "Permission Error"),
            ("SELECT * FROM read_text('/proc/self/environ')", "Permission Error"),
            ("SELECT * FROM glob('/etc/*')", "Permission Error"),
            (f"SELECT * FROM read_parquet('{data}/offline/../catalog/x.parquet')", "Permission Error"),
            ("COPY (SELECT 1) TO '/tmp/larder-e2e-escape.csv'", "/tmp/larder-e2e-escape.csv"),
            (f"COPY (SELECT 1) TO '{data}/tables/escape.csv'", "only SELECT queries"),
            ("ATTACH '/tmp/larder-e2e-escape.db' AS x", "only SELECT queries"),
            ("INSTALL httpfs", "only SELECT queries"),
            ("LOAD httpfs", "only SELECT queries"),
            ("SET enable_external_access = true", "only SELECT queries"),
            ("RESET lock_configuration", "only SELECT queries"),
            ("PRAGMA enable_profiling", "only SELECT queries"),
            ("CREATE TABLE t AS SELECT 1", "only SELECT queries"),
            # Tables are read-only views: DuckDB refuses the INSERT while binding it.
            (f"INSERT INTO \"{self.table}\" (customer_id) VALUES ('x')", f"{self.table} is not an table"),
            ("SELECT 1; SELECT 2", "2 SQL statements"),
        ]
        for sql, says in cases:
            with self.subTest(sql=sql):
                self.assertIn(says, self.run_failed(sql))
        self.assertFalse(os.path.exists("/tmp/larder-e2e-escape.csv"))
        self.assertFalse(os.path.exists("/tmp/larder-e2e-escape.db"))
        self.assertFalse(os.path.exists(os.path.join(data, "tables", "escape.csv")))

    def test_stop_cancels_a_running_query(self):
        qid = self.start("SELECT sum(a.range * b.range) FROM range(100000000) a, range(100000000) b")
        self.ath.stop_query_execution(QueryExecutionId=qid)
        ex = self.wait(qid)
        self.assertEqual(ex["Status"]["State"], "CANCELLED")
        self.assertIn("CompletionDateTime", ex["Status"])

    def test_time_limit_fails_a_long_query(self):
        ex = self.wait(self.start(
            "SELECT sum(a.range * b.range) FROM range(100000000) a, range(100000000) b"))
        self.assertEqual(ex["Status"]["State"], "FAILED")
        self.assertIn(f"time limit of {QUERY_TIMEOUT_MS} ms", ex["Status"]["StateChangeReason"])

    def test_list_and_batch_get(self):
        a, _, _ = self.run_ok("SELECT 1")
        b, _, _ = self.run_ok("SELECT 2")
        ids = self.ath.list_query_executions(MaxResults=2)["QueryExecutionIds"]
        self.assertEqual(ids, [b, a])
        all_ids = [i for p in self.ath.get_paginator("list_query_executions").paginate(
            PaginationConfig={"PageSize": 3}) for i in p.get("QueryExecutionIds", [])]
        self.assertEqual(all_ids[:2], [b, a])
        self.assertEqual(len(all_ids), len(set(all_ids)))
        got = self.ath.batch_get_query_execution(QueryExecutionIds=[a, "missing-id"])
        self.assertEqual([e["QueryExecutionId"] for e in got["QueryExecutions"]], [a])
        self.assertEqual([u["QueryExecutionId"] for u in got["UnprocessedQueryExecutionIds"]],
                         ["missing-id"])

    def test_aws_cli(self):
        out = self.srv.aws("athena", "start-query-execution", "--query-string",
                           f'SELECT customer_id FROM "{self.table}" WHERE customer_id = \'C0001\'',
                           "--query-execution-context", "Database=sagemaker_featurestore",
                           "--result-configuration", "OutputLocation=s3://larder-test-bucket/cli/")
        ex = self.wait(out["QueryExecutionId"])
        self.assertEqual(ex["Status"]["State"], "SUCCEEDED")
        res = self.srv.aws("athena", "get-query-results", "--query-execution-id", out["QueryExecutionId"])
        self.assertEqual([r["Data"][0]["VarCharValue"] for r in res["ResultSet"]["Rows"]],
                         ["customer_id", "C0001"])


if __name__ == "__main__":
    unittest.main()
