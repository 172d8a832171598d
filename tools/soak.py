#!/usr/bin/env python3
"""Soak test: N minutes of mixed load against one `larder serve`, sampling its memory and the
request latencies every few seconds into a CSV, then a PNG plot of both over time.

    python3 tools/soak.py [--minutes 30] [--threads 4] [--interval 5] [--out DIR]

The server is $LARDER_BIN (default build/larder) on a temporary data directory. The load:
PutRecord (60%), GetRecord (20%), BatchGetRecord and BatchWriteRecord (5% each), DeleteRecord
(5%, soft and hard), ListRecords and DescribeFeatureGroup (rest), over a bounded key space (so
the online store stops growing while the offline store keeps every write), plus one Athena
aggregate query every 20 s.

Every --interval seconds a row goes to DIR/soak.csv:
  t_s, rss_mib (VmRSS of the server), hwm_mib (VmHWM), threads, open_fds,
  ops, errors (answers other than the expected 2xx), ops_per_s,
  client_p50_ms, client_p99_ms (boto3 round trips, Python overhead included),
  server_p50_ms, server_p99_ms (from the server's own /metrics histogram, bucket-interpolated),
  offline_mib (size of DATA_DIR/offline)
then tools/soak_plot.py (Debian's /usr/bin/python3 with python3-matplotlib) draws DIR/soak.png.
The verdict line at the end compares the RSS of the last quarter of the run with the second
quarter (after warm-up) and counts errors.
"""
import argparse
import bisect
import csv
import os
import random
import re
import subprocess
import sys
import threading
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "test", "e2e"))

from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

from larder_harness import LarderServer  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/larder-soak"
GROUP = "soak"
KEYS = 20000


def rss_of(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    kib = lambda k: int(out[k].split()[0]) if k in out else 0  # noqa: E731
    return kib("VmRSS") / 1024, kib("VmHWM") / 1024, int(out.get("Threads", "0"))


def dir_mib(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total / (1 << 20)


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, int(round(p * (len(sorted_values) - 1)))))
    return sorted_values[i]


BUCKET = re.compile(r'^larder_request_duration_seconds_bucket\{(?P<labels>[^}]*)\} (?P<v>[0-9.e+]+)$')


def server_histogram(endpoint):
    """le -> cumulative count over every operation, from /metrics."""
    with urllib.request.urlopen(endpoint + "/metrics", timeout=10) as r:
        text = r.read().decode()
    buckets = {}
    for line in text.splitlines():
        m = BUCKET.match(line)
        if not m:
            continue
        le = re.search(r'le="([^"]+)"', m["labels"]).group(1)
        le = float("inf") if le == "+Inf" else float(le)
        buckets[le] = buckets.get(le, 0) + float(m["v"])
    return buckets


def histogram_quantile(q, before, after):
    """Prometheus-style quantile of the observations between two cumulative snapshots."""
    les = sorted(after)
    counts = [after[le] - before.get(le, 0) for le in les]
    total = counts[-1] if counts else 0
    if total <= 0:
        return float("nan")
    rank = q * total
    i = bisect.bisect_left(counts, rank)
    i = min(i, len(les) - 1)
    hi = les[i]
    lo = les[i - 1] if i > 0 else 0.0
    below = counts[i - 1] if i > 0 else 0
    if hi == float("inf"):
        return lo * 1000
    in_bucket = counts[i] - below
    frac = (rank - below) / in_bucket if in_bucket > 0 else 1.0
    return (lo + (hi - lo) * frac) * 1000


class Load:
    def __init__(self, srv, threads, seed):
        self.srv = srv
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.lat = []        # client latencies (s) since the last sample
        self.ops = 0
        self.errors = 0
        self.error_samples = []
        cfg = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=120)
        # One client per thread, made here: boto3's default session is not thread-safe.
        self.clients = [srv.client("sagemaker-featurestore-runtime", config=cfg)
                        for _ in range(threads)]
        self.sm = srv.client("sagemaker", config=cfg)
        self.ath = srv.client("athena", config=cfg)
        self.seed = seed

    def record(self, t0, ok, what=None):
        dt = time.monotonic() - t0
        with self.lock:
            self.lat.append(dt)
            self.ops += 1
            if not ok:
                self.errors += 1
                if len(self.error_samples) < 20:
                    self.error_samples.append(what)

    def worker(self, i):
        rt = self.clients[i]
        rng = random.Random(self.seed * 100 + i)
        while not self.stop.is_set():
            key = f"k{rng.randrange(KEYS):05d}"
            et = time.time() - rng.uniform(0, 86400)
            rec = [{"FeatureName": "id", "ValueAsString": key},
                   {"FeatureName": "et", "ValueAsString": f"{et:.3f}"},
                   {"FeatureName": "score", "ValueAsString": f"{rng.random():.6f}"},
                   {"FeatureName": "visits", "ValueAsString": str(rng.randrange(1000))},
                   {"FeatureName": "note", "ValueAsString": "x" * rng.randrange(0, 400)}]
            r = rng.random()
            t0 = time.monotonic()
            try:
                if r < 0.60:
                    kw = {}
                    if rng.random() < 0.1:
                        kw["TtlDuration"] = {"Unit": "Minutes", "Value": rng.randrange(1, 30)}
                    rt.put_record(FeatureGroupName=GROUP, Record=rec, **kw)
                elif r < 0.80:
                    rt.get_record(FeatureGroupName=GROUP, RecordIdentifierValueAsString=key)
                elif r < 0.85:
                    ids = [f"k{rng.randrange(KEYS):05d}" for _ in range(20)]
                    rt.batch_get_record(Identifiers=[{"FeatureGroupName": GROUP,
                                                      "RecordIdentifiersValueAsString": ids}])
                elif r < 0.90:
                    rt.batch_write_record(Entries=[{"FeatureGroupName": GROUP, "Record": rec}] * 1 + [
                        {"FeatureGroupName": GROUP, "Record": [
                            {"FeatureName": "id", "ValueAsString": f"k{rng.randrange(KEYS):05d}"},
                            {"FeatureName": "et", "ValueAsString": f"{et:.3f}"}]}
                        for _ in range(9)])
                elif r < 0.95:
                    mode = "SoftDelete" if rng.random() < 0.7 else "HardDelete"
                    try:
                        rt.delete_record(FeatureGroupName=GROUP, RecordIdentifierValueAsString=key,
                                         EventTime=f"{time.time():.3f}", DeletionMode=mode)
                    except ClientError as e:
                        # A hard delete not newer than the record is refused by design.
                        if e.response["Error"]["Code"] != "ValidationError":
                            raise
                elif r < 0.98:
                    rt.list_records(FeatureGroupName=GROUP, MaxResults=50)
                else:
                    self.sm.describe_feature_group(FeatureGroupName=GROUP)
                self.record(t0, True)
            except Exception as e:  # noqa: BLE001 -- every failure is counted and sampled
                self.record(t0, False, repr(e)[:300])

    def athena(self):
        table = self.sm.describe_feature_group(FeatureGroupName=GROUP)[
            "OfflineStoreConfig"]["DataCatalogConfig"]["TableName"]
        while not self.stop.wait(20):
            t0 = time.monotonic()
            try:
                qid = self.ath.start_query_execution(
                    QueryString=f'SELECT count(*), count(DISTINCT id), avg(score) FROM "{table}"',
                    ResultConfiguration={"OutputLocation": "s3://soak/results/"})["QueryExecutionId"]
                deadline = time.monotonic() + 120
                state = "QUEUED"
                while state in ("QUEUED", "RUNNING") and time.monotonic() < deadline:
                    time.sleep(0.1)  # Athena clients poll
                    state = self.ath.get_query_execution(QueryExecutionId=qid)[
                        "QueryExecution"]["Status"]["State"]
                self.record(t0, state == "SUCCEEDED", f"athena query {state}")
            except Exception as e:  # noqa: BLE001
                self.record(t0, False, repr(e)[:300])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=30)
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--interval", type=float, default=5)
    p.add_argument("--out", default=os.path.join(REPO, "build-soak", time.strftime("%Y%m%dT%H%M%S")))
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-plot", action="store_true")
    # Diagnosis: take the offline store or the Athena queries out of the picture.
    p.add_argument("--online-only", action="store_true", help="the group has no offline store")
    p.add_argument("--no-queries", action="store_true", help="no Athena queries")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    srv = LarderServer(extra_args=["--log-level", "warn"])
    srv.start()
    try:
        srv.client("sagemaker").create_feature_group(
            FeatureGroupName=GROUP, RecordIdentifierFeatureName="id", EventTimeFeatureName="et",
            FeatureDefinitions=[{"FeatureName": "id", "FeatureType": "String"},
                                {"FeatureName": "et", "FeatureType": "Fractional"},
                                {"FeatureName": "score", "FeatureType": "Fractional"},
                                {"FeatureName": "visits", "FeatureType": "Integral"},
                                {"FeatureName": "note", "FeatureType": "String"}],
            OnlineStoreConfig={"EnableOnlineStore": True}, RoleArn=ROLE,
            **({} if a.online_only else
               {"OfflineStoreConfig": {"S3StorageConfig": {"S3Uri": "s3://soak/fs"}}}))
        sm = srv.client("sagemaker")
        deadline = time.monotonic() + 60
        while sm.describe_feature_group(FeatureGroupName=GROUP)["FeatureGroupStatus"] != "Created":
            if time.monotonic() > deadline:
                raise RuntimeError("the soak group was not created")
            time.sleep(0.05)  # clients poll Describe
        load = Load(srv, a.threads, a.seed)
        threads = [threading.Thread(target=load.worker, args=(i,)) for i in range(a.threads)]
        if not (a.no_queries or a.online_only):
            threads.append(threading.Thread(target=load.athena))
        for t in threads:
            t.start()
        csv_path = os.path.join(a.out, "soak.csv")
        start = time.monotonic()
        end = start + a.minutes * 60
        hist_before = server_histogram(srv.endpoint)
        with open(csv_path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["t_s", "rss_mib", "hwm_mib", "threads", "open_fds", "ops", "errors",
                        "ops_per_s", "client_p50_ms", "client_p99_ms", "server_p50_ms",
                        "server_p99_ms", "offline_mib"])
            last = start
            while time.monotonic() < end:
                load.stop.wait(max(0.0, min(a.interval, end - time.monotonic())))
                now = time.monotonic()
                if srv.proc.poll() is not None:
                    raise RuntimeError(f"the server died: {srv.log()[-3000:]}")
                with load.lock:
                    lat, load.lat = sorted(load.lat), []
                    ops, errors = load.ops, load.errors
                rss, hwm, nthreads = rss_of(srv.proc.pid)
                fds = len(os.listdir(f"/proc/{srv.proc.pid}/fd"))
                hist = server_histogram(srv.endpoint)
                row = [round(now - start, 1), round(rss, 1), round(hwm, 1), nthreads, fds, ops,
                       errors, round(len(lat) / (now - last), 1),
                       round(percentile(lat, 0.5) * 1000, 2), round(percentile(lat, 0.99) * 1000, 2),
                       round(histogram_quantile(0.5, hist_before, hist), 3),
                       round(histogram_quantile(0.99, hist_before, hist), 3),
                       round(dir_mib(os.path.join(srv.data_dir, "offline")), 1)]
                hist_before, last = hist, now
                w.writerow(row)
                f.flush()
                print(",".join(map(str, row)), flush=True)
        load.stop.set()
        for t in threads:
            t.join(180)
        exit_code = srv.stop()
        print(f"server exit code after SIGTERM: {exit_code}")
        if load.error_samples:
            print("error samples:\n  " + "\n  ".join(load.error_samples))
        with open(csv_path) as f:
            rows = list(csv.DictReader(f))
        n = len(rows)
        if n >= 4:
            q2 = [float(r["rss_mib"]) for r in rows[n // 4:n // 2]]
            q4 = [float(r["rss_mib"]) for r in rows[3 * n // 4:]]
            growth = (sum(q4) / len(q4)) / (sum(q2) / len(q2)) - 1
            print(f"VERDICT: {n} samples over {a.minutes} min; RSS mean {sum(q2) / len(q2):.1f} MiB "
                  f"(2nd quarter) -> {sum(q4) / len(q4):.1f} MiB (last quarter), {growth:+.1%}; "
                  f"max RSS {max(float(r['rss_mib']) for r in rows):.1f} MiB; "
                  f"{rows[-1]['ops']} requests, {rows[-1]['errors']} errors; "
                  f"server exit {exit_code}")
        if not a.no_plot:
            subprocess.run(["/usr/bin/python3", os.path.join(REPO, "tools", "soak_plot.py"),
                            csv_path, os.path.join(a.out, "soak.png")], check=True)
            print(f"plot: {os.path.join(a.out, 'soak.png')}")
    finally:
        srv.close()


if __name__ == "__main__":
    main()
