"""Offline write throughput: outbox -> Parquet while the online path is under load.

1. Starts `larder serve` with flushing on demand only (huge --flush-interval-ms/--flush-rows), so
   the N rows written next all wait in the outbox.
2. Writes N rows (10 features: the walkthrough's shape) with BatchWriteRecord (25 per call, the model's maximum).
3. Starts GetRecord load threads (the online path under load), then runs one Athena
   `SELECT count(*)`: its freshness barrier flushes the whole outbox to Parquet first, and Athena
   reports that time as Statistics.ServicePreProcessingTimeInMillis. rows/s = N / that time.
   The count must equal N (nothing lost, nothing twice).
4. Peer, same run: DuckDB COPY of N rows of the same shape to one zstd Parquet file
   (bench_offline_raw_parquet). Prints both and the ratio.
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "test", "e2e"))
from larder_harness import LarderServer  # noqa: E402

FEATURES = ["total_purchases", "avg_order_value", "days_since_last_purchase", "total_orders",
            "return_rate", "account_age_days", "loyalty_score", "basket_size"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--readers", type=int, default=2, help="GetRecord load threads")
    ap.add_argument("--raw-bin", required=True)
    args = ap.parse_args()

    srv = LarderServer(extra_args=["--flush-interval-ms", "3600000", "--flush-rows", "1000000000"])
    srv.start()
    try:
        sm, rt, ath = srv.client("sagemaker"), srv.client("sagemaker-featurestore-runtime"), srv.client("athena")
        defs = [{"FeatureName": "customer_id", "FeatureType": "String"},
                {"FeatureName": "event_time", "FeatureType": "String"}] + \
               [{"FeatureName": f, "FeatureType": "Fractional"} for f in FEATURES]
        sm.create_feature_group(
            FeatureGroupName="offline-bench", RecordIdentifierFeatureName="customer_id",
            EventTimeFeatureName="event_time", FeatureDefinitions=defs,
            OnlineStoreConfig={"EnableOnlineStore": True},
            OfflineStoreConfig={"S3StorageConfig": {"S3Uri": "s3://bench/offline"}},
            RoleArn="arn:aws:iam::123456789012:role/bench")
        deadline = time.monotonic() + 30
        while sm.describe_feature_group(FeatureGroupName="offline-bench")["FeatureGroupStatus"] != "Created":
            if time.monotonic() > deadline:
                raise SystemExit("group not Created in 30 s")
            time.sleep(0.05)
        table = sm.describe_feature_group(FeatureGroupName="offline-bench")[
            "OfflineStoreConfig"]["DataCatalogConfig"]["TableName"]

        rng = random.Random(7)
        t0 = time.monotonic()
        batch = []
        for i in range(args.rows):
            rec = [{"FeatureName": "customer_id", "ValueAsString": f"C{i:08d}"},
                   {"FeatureName": "event_time", "ValueAsString": str(1700000000 + i % 86400)}]
            rec += [{"FeatureName": f, "ValueAsString": repr(round(rng.random() * 1000, 3))} for f in FEATURES]
            batch.append({"FeatureGroupName": "offline-bench", "Record": rec})
            if len(batch) == 25 or i == args.rows - 1:
                r = rt.batch_write_record(Entries=batch)
                if r.get("Errors") or r.get("UnprocessedEntries"):
                    raise SystemExit(f"batch_write_record failed: {r}")
                batch = []
        load_s = time.monotonic() - t0

        stop = threading.Event()
        counts = [0] * args.readers

        def reader(k):
            c = srv.client("sagemaker-featurestore-runtime")
            r = random.Random(k)
            while not stop.is_set():
                c.get_record(FeatureGroupName="offline-bench",
                             RecordIdentifierValueAsString=f"C{r.randrange(args.rows):08d}")
                counts[k] += 1

        threads = [threading.Thread(target=reader, args=(k,)) for k in range(args.readers)]
        for t in threads:
            t.start()
        time.sleep(1.0)  # let the readers reach steady state before the flush starts
        q0 = time.monotonic()
        before = sum(counts)
        qid = ath.start_query_execution(
            QueryString=f'SELECT count(*) FROM "{table}"',
            QueryExecutionContext={"Database": "sagemaker_featurestore"})["QueryExecutionId"]
        while True:
            ex = ath.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
            if ex["Status"]["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
                break
            time.sleep(0.01)
        q1 = time.monotonic()
        reads_during = sum(counts) - before
        stop.set()
        for t in threads:
            t.join()
        if ex["Status"]["State"] != "SUCCEEDED":
            raise SystemExit(f"query failed: {ex['Status']}")
        rows = ath.get_query_results(QueryExecutionId=qid)["ResultSet"]["Rows"]
        count = int(rows[1]["Data"][0]["VarCharValue"])
        if count != args.rows:
            raise SystemExit(f"offline store holds {count} rows, expected {args.rows}")
        flush_s = ex["Statistics"]["ServicePreProcessingTimeInMillis"] / 1000.0
    finally:
        srv.close()

    with tempfile.TemporaryDirectory() as d:
        out = subprocess.run([args.raw_bin, str(args.rows), d], capture_output=True, text=True, check=True)
        raw_s = float(out.stdout.split()[1])

    larder_rps = args.rows / flush_s
    raw_rps = args.rows / raw_s
    print(f"rows                       {args.rows}")
    print(f"BatchWriteRecord load      {load_s:.2f} s (boto3, one client; not part of the ratio)")
    print(f"Larder outbox->Parquet     {flush_s:.3f} s  {larder_rps:,.0f} rows/s "
          f"(while {args.readers} GetRecord threads ran {reads_during / (q1 - q0):,.0f} reads/s)")
    print(f"DuckDB raw COPY to Parquet {raw_s:.3f} s  {raw_rps:,.0f} rows/s")
    print(f"ratio Larder/raw (throughput) {larder_rps / raw_rps:.2f}x")
    print(f"offline row count check    {count} == {args.rows}: OK")


if __name__ == "__main__":
    main()
