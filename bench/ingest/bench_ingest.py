#!/usr/bin/env python3
"""Ingest benchmark: `larder ingest` of N rows x 10 features into a feature group with online and
offline stores, timed end to end until every row is in Parquet, beside the raw engines doing the
same two jobs in the same run:
  * Redis:  `redis-cli --pipe` mass insertion of the same rows as hashes (HSET per row) into a
            redis-server started here with appendonly yes + appendfsync everysec (the RESP file
            is generated before timing);
  * DuckDB: COPY of the same CSV to one Parquet file (bench/ingest/duckdb_copy.cc, through
            Larder's DuckDB adapter).
Larder's time is compared with Redis + DuckDB (both jobs, one after the other).

It also times the walkthrough's batch step: 1000 single PutRecord calls from 4 boto3 threads, one
client per thread, as the SageMaker SDK's ingest(max_workers=4) sends them.

Larder runs with its defaults (durability "process": acknowledged writes survive kill -9).
"Until the rows are in Parquet": after `larder ingest` returns, a `SELECT count(*)` through the
Athena API, which flushes every acknowledged write to Parquet before it reads (the query engine's
freshness barrier) and must return N.

Usage: bench/ingest/run.sh [--rows N] [--workers W] [--perf] [--keep]
"""
import argparse
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
KEY, SECRET = "AKIALARDERBENCH00001", "larder-bench-secret"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load():
    return open("/proc/loadavg").read().split()[:3]


def cpu_seconds(pid):
    """utime + stime of a process (all its threads), in seconds."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick


class Larder:
    def __init__(self, binary, workdir):
        self.binary = binary
        self.data = os.path.join(workdir, "larder-data")
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(workdir, "larder.log"), "wb")
        self.proc = subprocess.Popen(
            [binary, "serve", "--data-dir", self.data, "--listen", f"127.0.0.1:{self.port}",
             "--access-key-id", KEY, "--secret-access-key", SECRET, "--log-level", "warn"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.endpoint + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.05)  # readiness polling
        raise SystemExit("larder serve did not become healthy")

    def env(self):
        e = dict(os.environ)
        e.update(AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET, AWS_DEFAULT_REGION="us-east-1",
                 AWS_ENDPOINT_URL=self.endpoint)
        return e

    def cli(self, *args, check=True):
        p = subprocess.run([self.binary, *args], env=self.env(), capture_output=True, text=True)
        if check and p.returncode != 0:
            raise SystemExit(f"larder {' '.join(args)} failed ({p.returncode}): {p.stderr}")
        return p

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)


def bench_larder(binary, csv_path, workdir, rows, workers, perf, rerun):
    srv = Larder(binary, workdir)
    try:
        sample = os.path.join(workdir, "sample.csv")
        with open(csv_path) as src, open(sample, "w") as dst:
            for _ in range(11):
                dst.write(src.readline())
        srv.cli("create-feature-group", "bench", "--from", sample, "--record-id", "customer_id",
                "--event-time", "event_time", "--type", "event_time=String")
        table = json.loads(srv.cli("describe", "bench", "--format", "json").stdout)[
            "OfflineStoreConfig"]["DataCatalogConfig"]["TableName"]
        perf_proc = None
        if perf:
            perf_proc = subprocess.Popen(
                ["perf", "record", "-F", "499", "-g", "-p", str(srv.proc.pid), "-o",
                 os.path.join(workdir, "perf.data")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)  # let perf attach before the timed run
        server_cpu0 = cpu_seconds(srv.proc.pid)
        children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        ingest = subprocess.run(
            [binary, "ingest", csv_path, "--feature-group", "bench", "--workers", str(workers),
             "--format", "json", "--no-progress"],
            env=srv.env(), capture_output=True, text=True)
        t_ingest = time.perf_counter() - t0
        children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        if ingest.returncode != 0:
            raise SystemExit(f"larder ingest failed: {ingest.stderr}")
        summary = json.loads(ingest.stdout)
        counted = json.loads(srv.cli("query", f'SELECT count(*) AS n FROM "{table}"',
                                     "--format", "json").stdout)[0]["n"]
        t_total = time.perf_counter() - t0
        server_cpu = cpu_seconds(srv.proc.pid) - server_cpu0
        if perf_proc:
            perf_proc.send_signal(signal.SIGINT)
            perf_proc.wait()
        if summary["rows_written"] != rows or counted != rows:
            raise SystemExit(f"larder: wrote {summary['rows_written']}, Parquet has {counted}, "
                             f"wanted {rows}")
        parquet_files = sum(len([f for f in fs if f.endswith(".parquet")])
                            for _, _, fs in os.walk(os.path.join(srv.data, "offline")))
        result = {"seconds": t_total, "ingest_seconds": t_ingest,
                  "flush_query_seconds": t_total - t_ingest,
                  "server_cpu_seconds": server_cpu,
                  "client_cpu_seconds": (children1.ru_utime + children1.ru_stime)
                                        - (children0.ru_utime + children0.ru_stime),
                  "requests": summary["requests"], "parquet_files": parquet_files}
        if perf:
            rep = subprocess.run(["perf", "report", "-i", os.path.join(workdir, "perf.data"),
                                  "--no-children", "--sort", "dso", "--stdio", "-g", "none"],
                                 capture_output=True, text=True)
            result["perf_by_dso"] = [l.strip() for l in rep.stdout.splitlines()
                                     if "%" in l and not l.startswith("#")][:12]
            rep = subprocess.run(["perf", "report", "-i", os.path.join(workdir, "perf.data"),
                                  "--no-children", "--sort", "symbol", "--stdio", "-g", "none"],
                                 capture_output=True, text=True)
            result["perf_top_symbols"] = [" ".join(l.split())[:110] for l in rep.stdout.splitlines()
                                          if "%" in l and not l.startswith("#")][:20]
        if rerun:
            # The same file again: every record exists, same event times (the re-run after a
            # crash). Online latest-wins makes it a no-op there; offline gets every row twice.
            t1 = time.perf_counter()
            again = subprocess.run(
                [binary, "ingest", csv_path, "--feature-group", "bench", "--workers",
                 str(workers), "--format", "json", "--no-progress"],
                env=srv.env(), capture_output=True, text=True)
            if again.returncode != 0:
                raise SystemExit(f"larder ingest (re-run) failed: {again.stderr}")
            result["rerun_ingest_seconds"] = time.perf_counter() - t1
        # The walkthrough's batch: 1000 PutRecord calls from 4 boto3 threads.
        result["walkthrough_puts"] = bench_walkthrough_puts(srv)
        return result
    finally:
        srv.stop()


def bench_walkthrough_puts(srv):
    sys.path.insert(0, os.path.join(ROOT, "examples"))
    saved = dict(os.environ)
    os.environ.update(srv.env())
    try:
        import boto3  # noqa: F401  (the walkthrough module needs it)
        import walkthrough
        sm = walkthrough.sdk_client("sagemaker")
        walkthrough.create_feature_group(sm, "walkthrough-puts")
        rows = walkthrough.batch_rows()
        failed, seconds = walkthrough.ingest("walkthrough-puts", rows, max_workers=4)
        if failed:
            raise SystemExit(f"walkthrough puts: {len(failed)} failed")
        return {"puts": len(rows), "seconds": seconds, "puts_per_second": len(rows) / seconds}
    finally:
        os.environ.clear()
        os.environ.update(saved)


def bench_redis(resp_path, workdir, rows):
    port = free_port()
    rdir = os.path.join(workdir, "redis")
    os.makedirs(rdir)
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", rdir,
         "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""],
        stdout=open(os.path.join(workdir, "redis.log"), "wb"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True,
                             text=True).stdout.strip() != "PONG":
            if time.monotonic() > deadline:
                raise SystemExit("redis-server did not start")
            time.sleep(0.05)  # readiness polling
        t0 = time.perf_counter()
        with open(resp_path, "rb") as f:
            p = subprocess.run(["redis-cli", "-p", str(port), "--pipe"], stdin=f,
                               capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        if p.returncode != 0 or "errors: 0" not in p.stdout:
            raise SystemExit(f"redis-cli --pipe failed: {p.stdout} {p.stderr}")
        n = int(subprocess.run(["redis-cli", "-p", str(port), "dbsize"], capture_output=True,
                               text=True).stdout)
        if n != rows:
            raise SystemExit(f"redis has {n} keys, wanted {rows}")
        return {"seconds": seconds}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)


def bench_duckdb(tool, csv_path, workdir, rows):
    out = os.path.join(workdir, "copy.parquet")
    t0 = time.perf_counter()
    p = subprocess.run([tool, csv_path, out], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"duckdb copy failed: {p.stderr}")
    r = json.loads(p.stdout)
    if r["rows"] != rows:
        raise SystemExit(f"duckdb copied {r['rows']} rows, wanted {rows}")
    return {"seconds": wall, "copy_seconds": r["seconds"]}


def main():
    ap = argparse.ArgumentParser(description="larder ingest vs redis-cli --pipe + DuckDB COPY")
    ap.add_argument("--larder", required=True)
    ap.add_argument("--duckdb-copy", required=True)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--perf", action="store_true", help="profile the server during the ingest")
    ap.add_argument("--rerun", action="store_true",
                    help="also time ingesting the same file a second time (records exist)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--json", help="also write the results here")
    a = ap.parse_args()

    work = tempfile.mkdtemp(prefix="larder-bench-ingest-")
    try:
        csv_path = os.path.join(work, "rows.csv")
        resp_path = os.path.join(work, "rows.resp")
        print(f"generating {a.rows:,} rows x 10 features (CSV and Redis protocol; not timed)...",
              flush=True)
        subprocess.run([sys.executable, os.path.join(HERE, "gen_data.py"), "--rows", str(a.rows),
                        "--csv", csv_path, "--resp", resp_path], check=True)
        load_before = load()
        print(f"load average before: {' '.join(load_before)}  (cores: {os.cpu_count()})", flush=True)
        res = {"rows": a.rows, "workers": a.workers, "csv_bytes": os.path.getsize(csv_path)}
        res["larder"] = bench_larder(a.larder, csv_path, work, a.rows, a.workers, a.perf, a.rerun)
        res["redis"] = bench_redis(resp_path, work, a.rows)
        res["duckdb"] = bench_duckdb(a.duckdb_copy, csv_path, work, a.rows)
        res["load_before"] = load_before
        res["load_after"] = load()

        n = a.rows
        lar, red, duck = res["larder"], res["redis"], res["duckdb"]
        peers = red["seconds"] + duck["seconds"]
        print()
        print(f"{'workload':44} {'seconds':>9} {'rows/s':>12}")
        for label, sec in [
            (f"larder ingest + flush to Parquet ({a.workers} workers)", lar["seconds"]),
            ("  of which larder ingest (acknowledged)", lar["ingest_seconds"]),
            ("  of which count(*) query (flush barrier)", lar["flush_query_seconds"]),
            ("redis-cli --pipe (AOF everysec)", red["seconds"]),
            ("duckdb COPY csv -> parquet", duck["seconds"]),
            ("redis + duckdb (the same two jobs)", peers),
        ]:
            print(f"{label:44} {sec:9.2f} {n / sec:12,.0f}")
        print(f"\nratio larder / (redis + duckdb): {lar['seconds'] / peers:.2f}x the time")
        print(f"ratio larder / redis alone:      {lar['seconds'] / red['seconds']:.2f}x the time")
        print(f"larder server CPU: {lar['server_cpu_seconds']:.1f} s "
              f"({lar['server_cpu_seconds'] / n * 1e6:.1f} us/row); ingest client CPU: "
              f"{lar['client_cpu_seconds']:.1f} s ({lar['client_cpu_seconds'] / n * 1e6:.1f} us/row); "
              f"{lar['requests']:,} BatchWriteRecord requests; {lar['parquet_files']} Parquet files")
        if "rerun_ingest_seconds" in lar:
            r = lar["rerun_ingest_seconds"]
            print(f"re-run of the same file (records exist): {r:.2f} s = {n / r:,.0f} rows/s")
        w = lar["walkthrough_puts"]
        print(f"walkthrough batch: {w['puts']} PutRecord from 4 boto3 threads in "
              f"{w['seconds']:.2f} s = {w['puts_per_second']:,.0f} puts/s")
        print(f"load average after: {' '.join(res['load_after'])}")
        if a.perf:
            print("\nserver profile by DSO (perf, during the ingest):")
            for line in lar["perf_by_dso"]:
                print("  " + line)
            print("top symbols:")
            for line in lar["perf_top_symbols"]:
                print("  " + line)
        if a.json:
            with open(a.json, "w") as f:
                json.dump(res, f, indent=2)
    finally:
        if a.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
