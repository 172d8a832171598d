#!/usr/bin/env python3
"""Online store benchmarks: Larder (`larder serve`, SigV4 over HTTP) beside Redis, same run.

Every workload starts its own `larder serve` and its own `redis-server` (temp dirs, free ports,
127.0.0.1 only), loads the same records into both, drives both at the same concurrency and
prints one line: Larder ops/s, Redis ops/s, the ratio, and p50/p99 latency. A summary table
follows. Workloads:

  get         GetRecord of one 10-feature record (botocore-signed requests replayed by
              larder_loadgen) vs HGETALL of the same hash (redis-benchmark); then Larder again,
              open loop at half its peak rate, for p99 at half peak.
  batch_get   BatchGetRecord of 100 identifiers vs HGETALL pipelined x100 (-P 100); both
              counted in records/s; then Larder at half its peak rate.
  put         PutRecord of 10 features, --durability=process vs HSET with appendonly yes +
              appendfsync everysec.
  put_fsync   the same with --durability=fsync vs appendfsync always.
  put_fsync_mt  put_fsync with larder --threads 4 (--fsync-threads), still on one CPU: a synced
              write blocks the I/O thread that serves it, so one thread cannot share an fsync.
  rss         idle RSS of both servers right after start; then 1M records loaded (Larder:
              BatchWriteRecord x25 through larder_loadgen; Redis: redis-cli --pipe), the load
              rate and the RSS after.

With two or more CPUs the servers run on CPU 1 and every load generator on CPU 0 (taskset),
the same for both sides, and Larder gets one I/O thread (--larder-threads), as Redis has one.
"""
import argparse
import datetime
import json
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import presign  # noqa: E402

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

REPO = presign.REPO
ACCESS_KEY = "AKIALARDERBENCH00001"
SECRET_KEY = "larder-bench-secret-key-0123456789abcdef"
REGION = "us-east-1"
GROUP = "bench-online"

# The record: 10 features. (name, SageMaker type); the identifier and event time come first.
FEATURES = [
    ("record_id", "String"),
    ("event_time", "Fractional"),
    ("customer_age", "Integral"),
    ("total_orders", "Integral"),
    ("days_since_last_order", "Integral"),
    ("avg_order_value", "Fractional"),
    ("loyalty_score", "Fractional"),
    ("country", "String"),
    ("segment", "String"),
    ("last_category", "String"),
]
COUNTRIES = ["DE", "US", "FR", "GB", "JP", "BR", "IN", "ES"]
SEGMENTS = ["premium", "standard", "basic", "churn-risk"]
CATEGORIES = ["electronics", "books", "garden", "groceries", "fashion", "toys"]
BASE_EVENT_TIME = 1_700_000_000


def record_id(i):
    # redis-benchmark's __rand_int__ is the 12-digit zero-padded form of a number in [0, -r).
    return f"{i:012d}"


def record_values(i, event_time=None):
    """The 10 feature values (strings) of record i, deterministic."""
    r = random.Random(i)
    return [
        record_id(i),
        f"{event_time if event_time is not None else BASE_EVENT_TIME + i / 1000:.3f}",
        str(r.randint(18, 90)),
        str(r.randint(0, 5000)),
        str(r.randint(0, 365)),
        f"{r.uniform(5, 500):.2f}",
        f"{r.random():.4f}",
        r.choice(COUNTRIES),
        r.choice(SEGMENTS),
        r.choice(CATEGORIES),
    ]


def as_record(values):
    return [{"FeatureName": n, "ValueAsString": v} for (n, _), v in zip(FEATURES, values)]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def cpu_seconds(pid):
    """utime + stime of the whole process (all threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu():
    """CPU seconds used by finished child processes (the load generators) so far."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class Pinning:
    """CPU sets for servers and clients: servers on CPU 1, clients on CPU 0 (if >= 2 CPUs)."""

    def __init__(self, enabled):
        self.enabled = enabled and os.cpu_count() >= 2 and shutil.which("taskset")

    def server(self, cmd):
        return ["taskset", "-c", "1", *cmd] if self.enabled else cmd

    def client(self, cmd):
        return ["taskset", "-c", "0", *cmd] if self.enabled else cmd


class LarderProc:
    def __init__(self, args, pin, durability="process", threads=None):
        self.args, self.pin, self.durability = args, pin, durability
        threads = args.larder_threads if threads is None else threads
        self.dir = tempfile.mkdtemp(prefix="larder-bench-", dir=args.tmp)
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        cmd = [args.larder, "serve", "--data-dir", os.path.join(self.dir, "data"),
               "--listen", f"127.0.0.1:{self.port}", "--access-key-id", ACCESS_KEY,
               "--secret-access-key", SECRET_KEY, "--region", REGION,
               "--durability", durability, "--log-level", "warn"]
        if threads > 0:
            cmd += ["--threads", str(threads)]
        cmd += args.larder_arg
        self.log = open(os.path.join(self.dir, "server.log"), "wb")
        self.proc = subprocess.Popen(pin.server(cmd), stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"larder exited with {self.proc.returncode}: {self.tail()}")
            try:
                with urllib.request.urlopen(self.endpoint + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("larder did not become healthy in 30 s: " + self.tail())
            time.sleep(0.02)  # readiness polling

    @property
    def pid(self):
        return self.proc.pid  # taskset execs the server, so this is the server's pid

    def tail(self):
        with open(os.path.join(self.dir, "server.log"), "rb") as f:
            return f.read().decode(errors="replace")[-4000:]

    def client(self, service):
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                            config=Config(retries={"max_attempts": 1, "mode": "standard"}))

    def create_group(self):
        sm = self.client("sagemaker")
        sm.create_feature_group(
            FeatureGroupName=GROUP, RecordIdentifierFeatureName="record_id",
            EventTimeFeatureName="event_time",
            FeatureDefinitions=[{"FeatureName": n, "FeatureType": t} for n, t in FEATURES],
            OnlineStoreConfig={"EnableOnlineStore": True})
        deadline = time.monotonic() + 30
        while sm.describe_feature_group(FeatureGroupName=GROUP)["FeatureGroupStatus"] != "Created":
            if time.monotonic() > deadline:
                raise RuntimeError("feature group not Created within 30 s")
            time.sleep(0.05)  # readiness polling

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisProc:
    def __init__(self, args, pin, appendfsync=None):
        self.args = args
        self.dir = tempfile.mkdtemp(prefix="redis-bench-", dir=args.tmp)
        self.port = free_port()
        conf = [f"port {self.port}", "bind 127.0.0.1", f"dir {self.dir}", 'save ""',
                "daemonize no", "io-threads 1", f"logfile {self.dir}/redis.log"]
        if appendfsync:
            conf += ["appendonly yes", f"appendfsync {appendfsync}"]
        else:
            conf += ["appendonly no"]
        path = os.path.join(self.dir, "redis.conf")
        with open(path, "w") as f:
            f.write("\n".join(conf) + "\n")
        self.proc = subprocess.Popen(pin.server([args.redis_server, path]),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while self.cli("PING", check=False).strip() != "PONG":
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)  # readiness polling

    @property
    def pid(self):
        return self.proc.pid

    def cli(self, *cmd, check=True):
        p = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(self.port), *cmd],
                           capture_output=True, text=True, timeout=60)
        if check and p.returncode != 0:
            raise RuntimeError(f"redis-cli {cmd}: {p.stderr}")
        return p.stdout

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Loading the same records into both.

def write_batch_write_requests(larder, ids, path):
    """BatchWriteRecord requests of 25 records each (the model's maximum)."""
    signer = presign.RawSigner(larder.endpoint, ACCESS_KEY, SECRET_KEY, REGION)
    w = presign.RequestWriter(path)
    for start in range(0, len(ids), 25):
        entries = [{"FeatureGroupName": GROUP, "Record": as_record(record_values(i))}
                   for i in ids[start:start + 25]]
        w.add(signer.sign("POST", "/BatchWriteRecord", {"Entries": entries}))
    w.close()
    return w.count


def load_larder(args, pin, larder, n, tag):
    """Loads records 0..n-1; returns the loadgen result (with --once, 'seconds' is the load time)."""
    path = os.path.join(larder.dir, f"load-{tag}.req")
    t = time.monotonic()
    count = write_batch_write_requests(larder, list(range(n)), path)
    sign_s = time.monotonic() - t
    res = run_loadgen(args, pin, larder, path, once=True, connections=args.connections,
                      expect='"Errors":[]')
    os.unlink(path)
    res["sign_seconds"] = sign_s
    res["batches"] = count
    if res["errors"]:
        raise RuntimeError(f"loading Larder failed: {res}")
    return res


def resp_command(*parts):
    out = [b"*%d\r\n" % len(parts)]
    for p in parts:
        b = p.encode() if isinstance(p, str) else p
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


def load_redis(pin, redis, n):
    """HSET of records 0..n-1 through redis-cli --pipe; returns the load time in seconds."""
    path = os.path.join(redis.dir, "load.resp")
    names = [name for name, _ in FEATURES]
    with open(path, "wb") as f:
        for i in range(n):
            vals = record_values(i)
            args = ["HSET", record_id(i)]
            for name, v in zip(names, vals):
                args += [name, v]
            f.write(resp_command(*args))
    t = time.monotonic()
    with open(path, "rb") as f:
        p = subprocess.run(pin.client(["redis-cli", "-h", "127.0.0.1", "-p", str(redis.port),
                                       "--pipe"]), stdin=f, capture_output=True, text=True,
                           timeout=1800)
    seconds = time.monotonic() - t
    os.unlink(path)
    if p.returncode != 0 or "errors: 0" not in p.stdout:
        raise RuntimeError(f"redis-cli --pipe failed: {p.stdout} {p.stderr}")
    return seconds


def page_cache_mb(directory):
    """MB of the files under `directory` resident in the OS page cache (fincore), or NaN."""
    files = [os.path.join(d, f) for d, _, fs in os.walk(directory) for f in fs]
    if not files or not shutil.which("fincore"):
        return float("nan")
    p = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES", *files],
                       capture_output=True, text=True)
    return sum(int(x) for x in p.stdout.split() if x.isdigit()) / 2**20


def check_same_data(larder, redis, ids):
    """Spot check: GetRecord and HGETALL return the same 10 values for some ids."""
    rt = larder.client("sagemaker-featurestore-runtime")
    for i in ids:
        rec = rt.get_record(FeatureGroupName=GROUP, RecordIdentifierValueAsString=record_id(i))
        got = {f["FeatureName"]: f["ValueAsString"] for f in rec.get("Record", [])}
        out = redis.cli("HGETALL", record_id(i)).split("\n")
        redis_got = dict(zip(out[0:-1:2], out[1:-1:2]))
        if len(got) != len(FEATURES) or got != redis_got:
            raise RuntimeError(f"record {i}: Larder {got} != Redis {redis_got}")


# ---------------------------------------------------------------------------------------------
# Drivers.

def run_loadgen(args, pin, larder, req_path, once=False, rate=0, connections=None,
                expect=None, duration=None, profile=None):
    cmd = [args.loadgen, "--port", str(larder.port), "--requests", req_path,
           "--connections", str(connections or args.connections), "--threads", "1"]
    if once:
        cmd += ["--once"]
    else:
        cmd += ["--duration", str(duration or args.duration), "--warmup", str(args.warmup)]
    if rate:
        cmd += ["--rate", f"{rate:.1f}"]
    if expect:
        cmd += ["--expect-substr", expect]
    perf = None
    if profile and args.perf_dir:
        # Samples the server only (-p), with DWARF call graphs (no frame pointers in the build).
        out = os.path.join(args.perf_dir, f"{profile}.perf.data")
        perf = subprocess.Popen(["perf", "record", "-q", "-F", "1999", "--call-graph", "dwarf,16384",
                                 "-p", str(larder.pid), "-o", out],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cpu0, ccpu0, t0 = cpu_seconds(larder.pid), children_cpu(), time.monotonic()
    p = subprocess.run(pin.client(cmd), capture_output=True, text=True, timeout=3600)
    wall = time.monotonic() - t0
    cpu, ccpu = cpu_seconds(larder.pid) - cpu0, children_cpu() - ccpu0
    if perf is not None:
        perf.send_signal(signal.SIGINT)
        perf.wait(120)
        print(f"# perf profile of the server: perf report -i {out} --no-children", flush=True)
    if not p.stdout.strip():
        raise RuntimeError(f"larder_loadgen failed ({p.returncode}): {p.stderr}")
    res = json.loads(p.stdout)
    res["server_cpu"] = cpu / wall
    res["client_cpu"] = ccpu / wall
    if p.stderr.strip():
        sys.stderr.write(p.stderr)
    return res


def run_redis_benchmark(args, pin, redis, command, keyspace, pipeline=1):
    """redis-benchmark at args.connections; a short calibration run first (also a warm-up),
    then a run sized to last about args.duration seconds. Returns ops/s and latency (ms)."""
    def one(n):
        cmd = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(redis.port),
               "-c", str(args.connections), "-n", str(n), "-r", str(keyspace),
               "-P", str(pipeline), "--csv", *command]
        cpu0, ccpu0, t0 = cpu_seconds(redis.pid), children_cpu(), time.monotonic()
        p = subprocess.run(pin.client(cmd), capture_output=True, text=True, timeout=3600)
        wall = time.monotonic() - t0
        cpu, ccpu = cpu_seconds(redis.pid) - cpu0, children_cpu() - ccpu0
        lines = [ln for ln in p.stdout.strip().splitlines() if ln.startswith('"')]
        if p.returncode != 0 or len(lines) < 2:
            raise RuntimeError(f"redis-benchmark failed: {p.stdout} {p.stderr}")
        row = [c.strip('"') for c in lines[-1].split('","')]
        return {"rps": float(row[1]), "mean_ms": float(row[2]), "p50_ms": float(row[4]),
                "p99_ms": float(row[6]), "max_ms": float(row[7]), "requests": n,
                "server_cpu": cpu / wall, "client_cpu": ccpu / wall}

    calib = one(max(args.connections * pipeline * 200, 20000))
    n = int(calib["rps"] * args.duration)
    n = max(n - n % (args.connections * pipeline), args.connections * pipeline)
    return one(n)


RESULTS = []


def report(name, unit, larder, redis, larder_label, redis_label, extra=""):
    """One line per workload; `larder`/`redis` hold ops (in `unit`) per second and latency."""
    ratio = larder["ops"] / redis["ops"] if redis["ops"] else float("nan")
    # Ops per second of server CPU: robust when other processes share the machine.
    for side in (larder, redis):
        side["ops_per_cpu_s"] = side["ops"] / side["cpu"] if side["cpu"] > 0 else float("nan")
    cpu_ratio = larder["ops_per_cpu_s"] / redis["ops_per_cpu_s"]
    line = (f"{name:<12} Larder {larder_label}: {larder['ops']:>10,.0f} {unit}/s "
            f"p50 {larder['p50_ms']:.3f} ms p99 {larder['p99_ms']:.3f} ms "
            f"cpu srv {larder['cpu']:.0%} cli {larder['client_cpu']:.0%} | "
            f"Redis {redis_label}: {redis['ops']:>10,.0f} {unit}/s "
            f"p50 {redis['p50_ms']:.3f} ms p99 {redis['p99_ms']:.3f} ms "
            f"cpu srv {redis['cpu']:.0%} cli {redis['client_cpu']:.0%} | "
            f"ratio {ratio:.2f}x (per server CPU-second: {larder['ops_per_cpu_s']:,.0f} vs "
            f"{redis['ops_per_cpu_s']:,.0f}, {cpu_ratio:.2f}x){extra}")
    print(line, flush=True)
    RESULTS.append({"workload": name, "unit": unit, "larder": larder, "redis": redis,
                    "ratio": ratio, "cpu_ratio": cpu_ratio, "extra": extra.strip(" |")})


def larder_side(res, scale=1):
    return {"ops": res["rps"] * scale, "p50_ms": res["p50_us"] / 1000, "p99_ms": res["p99_us"] / 1000,
            "p999_ms": res["p999_us"] / 1000, "cpu": res["server_cpu"],
            "client_cpu": res["client_cpu"], "requests": res["requests"]}


def redis_side(res):
    return {"ops": res["rps"], "p50_ms": res["p50_ms"], "p99_ms": res["p99_ms"],
            "cpu": res["server_cpu"], "client_cpu": res["client_cpu"], "requests": res["requests"]}


def half_peak(args, pin, larder, path, peak_rps, expect, goal_ms):
    res = run_loadgen(args, pin, larder, path, rate=peak_rps / 2, expect=expect)
    ok = "met" if res["p99_us"] / 1000 <= goal_ms else "MISSED"
    return res, (f" | half-peak {res['rps']:,.0f} req/s (target {peak_rps / 2:,.0f}): "
                 f"p50 {res['p50_us'] / 1000:.3f} ms p99 {res['p99_us'] / 1000:.3f} ms "
                 f"p99.9 {res['p999_us'] / 1000:.3f} ms (goal p99 <= {goal_ms} ms: {ok})")


def workload_get(args, pin):
    larder, redis = LarderProc(args, pin), RedisProc(args, pin)
    try:
        larder.create_group()
        load_larder(args, pin, larder, args.keys, "get")
        load_redis(pin, redis, args.keys)
        rng = random.Random(1)
        check_same_data(larder, redis, rng.sample(range(args.keys), 20))
        path = os.path.join(larder.dir, "get.req")
        w = presign.RequestWriter(path)
        presign.capture_client_requests(
            larder.client("sagemaker-featurestore-runtime"),
            [("get_record", {"FeatureGroupName": GROUP,
                             "RecordIdentifierValueAsString": record_id(rng.randrange(args.keys))})
             for _ in range(args.presigned)], w)
        w.close()
        lres = run_loadgen(args, pin, larder, path, expect='"Record"', profile="get")
        rres = run_redis_benchmark(args, pin, redis, ["HGETALL", "__rand_int__"], args.keys)
        hres, extra = half_peak(args, pin, larder, path, lres["rps"], '"Record"', 1.0)
        report("get", "ops", larder_side(lres), redis_side(rres), "GetRecord", "HGETALL",
               extra)
        RESULTS[-1]["larder_half_peak"] = larder_side(hres)
    finally:
        larder.close()
        redis.close()


def workload_batch_get(args, pin):
    larder, redis = LarderProc(args, pin), RedisProc(args, pin)
    try:
        larder.create_group()
        load_larder(args, pin, larder, args.keys, "batch")
        load_redis(pin, redis, args.keys)
        rng = random.Random(2)
        check_same_data(larder, redis, rng.sample(range(args.keys), 5))
        rt = larder.client("sagemaker-featurestore-runtime")
        sample = rt.batch_get_record(Identifiers=[{
            "FeatureGroupName": GROUP,
            "RecordIdentifiersValueAsString": [record_id(i) for i in rng.sample(range(args.keys), 100)]}])
        if len(sample["Records"]) != 100 or sample["Errors"]:
            raise RuntimeError(f"BatchGetRecord returned {len(sample['Records'])} records")
        path = os.path.join(larder.dir, "batch.req")
        w = presign.RequestWriter(path)
        presign.capture_client_requests(rt, [
            ("batch_get_record", {"Identifiers": [{
                "FeatureGroupName": GROUP,
                "RecordIdentifiersValueAsString": [record_id(rng.randrange(args.keys))
                                                   for _ in range(100)]}]})
            for _ in range(max(args.presigned // 10, 100))], w)
        w.close()
        expect = '"Errors":[]'
        lres = run_loadgen(args, pin, larder, path, expect=expect, profile="batch_get")
        rres = run_redis_benchmark(args, pin, redis, ["HGETALL", "__rand_int__"], args.keys,
                                   pipeline=100)
        hres, extra = half_peak(args, pin, larder, path, lres["rps"], expect, 2.0)
        report("batch_get", "records", larder_side(lres, 100), redis_side(rres),
               "BatchGetRecord x100", "HGETALL -P 100", extra)
        RESULTS[-1]["larder_half_peak"] = larder_side(hres, 100)
    finally:
        larder.close()
        redis.close()


def workload_put(args, pin, durability, appendfsync, name, threads=None):
    larder = LarderProc(args, pin, durability=durability, threads=threads)
    redis = RedisProc(args, pin, appendfsync=appendfsync)
    try:
        larder.create_group()
        # One request per distinct id, event times increasing through the file. Cycling replays
        # a request with the same event time, which replaces the row (ties: the later arrival
        # wins, spec 7), so every replayed put is a real write, never a no-op "historic" one.
        n = args.put_keys
        ids = list(range(n))
        random.Random(3).shuffle(ids)
        path = os.path.join(larder.dir, "put.req")
        w = presign.RequestWriter(path)
        presign.capture_client_requests(
            larder.client("sagemaker-featurestore-runtime"),
            [("put_record", {"FeatureGroupName": GROUP,
                             "Record": as_record(record_values(i, BASE_EVENT_TIME + k / 1000))})
             for k, i in enumerate(ids)], w)
        w.close()
        lres = run_loadgen(args, pin, larder, path, profile=name)
        names = [nm for nm, _ in FEATURES]
        vals = record_values(0)
        cmd = ["HSET", "__rand_int__"]
        for nm, v in zip(names, vals):
            cmd += [nm, "__rand_int__" if nm == "record_id" else v]
        rres = run_redis_benchmark(args, pin, redis, cmd, n)
        label = f"PutRecord --durability={durability}"
        if threads is not None:
            label += f" --threads {threads}"
        report(name, "ops", larder_side(lres), redis_side(rres), label,
               f"HSET appendfsync {appendfsync}")
    finally:
        larder.close()
        redis.close()


def workload_rss(args, pin):
    larder, redis = LarderProc(args, pin), RedisProc(args, pin)
    try:
        time.sleep(1)  # let start-up settle (background threads started) before reading RSS
        idle_l, idle_r = rss_mb(larder.pid), rss_mb(redis.pid)
        print(f"rss          idle: Larder {idle_l:.1f} MB (goal <= 40 MB: "
              f"{'met' if idle_l <= 40 else 'MISSED'}) | Redis {idle_r:.1f} MB", flush=True)
        larder.create_group()
        lres = load_larder(args, pin, larder, args.rss_records, "rss")
        rsec = load_redis(pin, redis, args.rss_records)
        time.sleep(1)
        full_l, full_r = rss_mb(larder.pid), rss_mb(redis.pid)
        lrate = args.rss_records / lres["seconds"]
        rrate = args.rss_records / rsec
        disk = subprocess.run(["du", "-sm", os.path.join(larder.dir, "data")],
                              capture_output=True, text=True).stdout.split()[0]
        cached = page_cache_mb(os.path.join(larder.dir, "data"))
        print(f"rss          {args.rss_records:,} records: Larder {full_l:.1f} MB RSS, loaded at "
              f"{lrate:,.0f} records/s (BatchWriteRecord x25, {args.connections} conns, "
              f"p99 {lres['p99_us'] / 1000:.1f} ms/batch; {disk} MB on disk, {cached:.0f} MB of it in "
              f"the page cache, not counted in RSS) | Redis "
              f"{full_r:.1f} MB RSS, loaded at {rrate:,.0f} records/s (redis-cli --pipe) | "
              f"RSS ratio {full_l / full_r:.2f}x, load-rate ratio {lrate / rrate:.2f}x",
              flush=True)
        RESULTS.append({"workload": "rss", "idle_mb": {"larder": idle_l, "redis": idle_r},
                        "loaded_mb": {"larder": full_l, "redis": full_r},
                        "records": args.rss_records, "load_rate": {"larder": lrate, "redis": rrate},
                        "larder_disk_mb": int(disk), "larder_page_cache_mb": cached})
    finally:
        larder.close()
        redis.close()


def summary(args):
    print()
    print(f"Summary ({datetime.datetime.now().isoformat(timespec='seconds')}, load {loadavg()}, "
          f"{os.cpu_count()} CPUs, pinned: {bool(args.pin_enabled)}, {args.connections} connections)")
    print(f"{'workload':<12} {'unit':<8} {'Larder/s':>12} {'Redis/s':>12} {'ratio':>6} {'/cpu':>6} "
          f"{'L p50 ms':>9} {'L p99 ms':>9} {'R p50 ms':>9} {'R p99 ms':>9} {'half-peak L p99 ms':>19}")
    for r in RESULTS:
        if r["workload"] == "rss":
            continue
        hp = r.get("larder_half_peak")
        print(f"{r['workload']:<12} {r['unit']:<8} {r['larder']['ops']:>12,.0f} "
              f"{r['redis']['ops']:>12,.0f} {r['ratio']:>5.2f}x {r['cpu_ratio']:>5.2f}x "
              f"{r['larder']['p50_ms']:>9.3f} "
              f"{r['larder']['p99_ms']:>9.3f} {r['redis']['p50_ms']:>9.3f} "
              f"{r['redis']['p99_ms']:>9.3f} {hp['p99_ms'] if hp else float('nan'):>19.3f}")
    for r in RESULTS:
        if r["workload"] == "rss":
            print(f"{'rss':<12} idle Larder {r['idle_mb']['larder']:.1f} MB / Redis "
                  f"{r['idle_mb']['redis']:.1f} MB; {r['records']:,} records: Larder "
                  f"{r['loaded_mb']['larder']:.1f} MB / Redis {r['loaded_mb']['redis']:.1f} MB; "
                  f"load {r['load_rate']['larder']:,.0f} / {r['load_rate']['redis']:,.0f} records/s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"date": datetime.datetime.now().isoformat(timespec="seconds"),
                       "load": loadavg(), "cpus": os.cpu_count(), "pinned": bool(args.pin_enabled),
                       "connections": args.connections, "results": RESULTS}, f, indent=1)


WORKLOADS = ["get", "batch_get", "put", "put_fsync", "put_fsync_mt", "rss"]


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workloads", nargs="*", default=WORKLOADS, help=f"subset of {WORKLOADS}")
    ap.add_argument("--larder", default=os.path.join(REPO, "build", "larder"))
    ap.add_argument("--loadgen", default=os.path.join(REPO, "build", "bench", "online",
                                                      "larder_loadgen"))
    ap.add_argument("--redis-server", default=shutil.which("redis-server") or "redis-server")
    ap.add_argument("--connections", type=int, default=32, help="both sides")
    ap.add_argument("--duration", type=float, default=10, help="seconds per measured run")
    ap.add_argument("--warmup", type=float, default=2, help="seconds before measuring (Larder)")
    ap.add_argument("--keys", type=int, default=100_000, help="records loaded for the reads")
    ap.add_argument("--put-keys", type=int, default=20_000, help="distinct ids the puts cycle over")
    ap.add_argument("--presigned", type=int, default=20_000, help="distinct GetRecord requests")
    ap.add_argument("--rss-records", type=int, default=1_000_000)
    ap.add_argument("--larder-threads", type=int, default=-1,
                    help="--threads for larder serve; default 1 when pinned, else its own default")
    ap.add_argument("--fsync-threads", type=int, default=4,
                    help="larder --threads for put_fsync_mt (a synced write blocks its I/O thread, "
                         "so more threads on the same CPU let writes share an fsync)")
    ap.add_argument("--larder-arg", action="append", default=[],
                    help="extra argument for larder serve (repeatable)")
    ap.add_argument("--no-pin", action="store_true", help="do not taskset servers and clients")
    ap.add_argument("--tmp", default=None, help="directory for data dirs (same disk for both)")
    ap.add_argument("--json", default=None, help="also write the results here")
    ap.add_argument("--perf-dir", default=None,
                    help="perf-record the Larder server during each peak run (WORKLOAD.perf.data "
                         "here); the numbers of a profiled run are lower than an unprofiled one's")
    args = ap.parse_args()
    for w in args.workloads:
        if w not in WORKLOADS:
            ap.error(f"unknown workload {w!r}; choose from {WORKLOADS}")
    for tool in (args.larder, args.loadgen):
        if not os.access(tool, os.X_OK):
            ap.error(f"{tool} not found; build it (bench/online/run.sh does)")
    pin = Pinning(not args.no_pin)
    args.pin_enabled = pin.enabled
    if args.larder_threads < 0:
        args.larder_threads = 1 if pin.enabled else 0
    print(f"# online benchmarks: {datetime.datetime.now().isoformat(timespec='seconds')}, "
          f"load {loadavg()}, {os.cpu_count()} CPUs, servers pinned to CPU 1 and clients to "
          f"CPU 0: {bool(pin.enabled)}, larder --threads {args.larder_threads or 'default'}, "
          f"{args.connections} connections, {args.duration:g} s per run", flush=True)
    for w in args.workloads:
        if w == "get":
            workload_get(args, pin)
        elif w == "batch_get":
            workload_batch_get(args, pin)
        elif w == "put":
            workload_put(args, pin, "process", "everysec", "put")
        elif w == "put_fsync":
            workload_put(args, pin, "fsync", "always", "put_fsync")
        elif w == "put_fsync_mt":
            workload_put(args, pin, "fsync", "always", "put_fsync_mt", threads=args.fsync_threads)
        elif w == "rss":
            workload_rss(args, pin)
    summary(args)


if __name__ == "__main__":
    main()
