"""Crash-safety harness for `larder serve`: concurrent mixed load, kill -9 at random moments,
restart, and a check of everything the server acknowledged against a reference model.

Used by test/e2e/test_crash.py (a few cycles in CI) and tools/crash_soak.py (long runs).

One cycle:
  1. start the server (sometimes crash it once more during its recovery first);
  2. verify the state the previous crash left (below);
  3. run writer threads and a group-creating thread for a random time, then SIGKILL the server
     while they are still sending; note whether a flush or compaction was caught in progress.

The load. Two feature groups with an online and an offline store, one with an ISO-8601 string
event time and one with a Fractional one. Every record identifier belongs to exactly one writer
thread, so the operations on one record are sequential and their order is known; event times are
unique per record and drawn at random, so latest-wins has real work to do. Operations:
PutRecord (sometimes TargetStores OnlineStore or OfflineStore only, sometimes a per-record
TtlDuration, far enough in the future never to expire during the run), BatchWriteRecord (2-4
records), DeleteRecord SoftDelete and HardDelete, and CreateFeatureGroup. The flusher runs with a
tiny --flush-interval-ms and --flush-rows, so kills land in the middle of flushes.

The reference model replays each record's operations in order with the online store's rules
(spec 3.3-3.5 and 7): a put replaces the row when its event time is >= the row's; a soft delete
newer than the row leaves a tombstone, and always appends a marker; a hard delete newer than the
row (or of an absent row) removes it and appends a marker, otherwise it is refused with 400 and
does nothing. Each acknowledged answer is checked against the model's prediction as it arrives.
When the server dies, each writer has at most one operation in flight; its fate is unknown.

Verification after a restart:
  * offline store (read through Athena: the query's CSV output): every acknowledged put and
    every marker it implies appears exactly once, with exactly the values sent; no row appears
    twice (per record identifier, event time and is_deleted); every row belongs to an operation
    that was sent; api_invocation_time lies within the operation's send/answer window;
  * the in-flight operations are resolved from what the offline store shows, and the online
    store must agree: a put or delete that landed offline landed online too (one atomic commit),
    and a BatchWriteRecord landed whole or not at all;
  * online store (GetRecord with ExpirationTimeResponse=Enabled): every record reads exactly as
    the model says, values and ExpiresAt included;
  * every acknowledged CreateFeatureGroup reaches Created; an in-flight one either does or the
    group does not exist.

Any violation stops the run; the data directory is kept for post-mortem.
"""
import collections
import csv
import datetime
import os
import random
import sys
import threading
import time
import traceback

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "test", "e2e"))

from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

from larder_harness import LarderServer  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/larder-crash"
ISO_BASE = datetime.datetime(2024, 3, 1, tzinfo=datetime.timezone.utc)
EPOCH_BASE = int(ISO_BASE.timestamp())
ET_SPAN_MS = 6 * 3600 * 1000  # event times fall in 6 hourly partitions
TTL_UNITS = {"Hours": 3600, "Days": 86400, "Weeks": 604800}

GROUPS = {
    # name: (event-time type, extra features)
    "crash-iso": ("String", [("score", "Fractional")]),
    "crash-epoch": ("Fractional", []),
}


class Violation(Exception):
    pass


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def iso_millis(micros):
    t = datetime.datetime.fromtimestamp(micros // 1_000_000, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{micros // 1000 % 1000:03d}Z"


class Op:
    """One operation on one record (a BatchWriteRecord makes one Op per entry)."""
    __slots__ = ("kind", "group", "rid", "et_ms", "et_text", "values", "online", "offline",
                 "ttl", "expires_micros", "batch", "state", "t_send", "t_done", "predicted",
                 "applied")

    def __init__(self, kind, group, rid, et_ms, et_text):
        self.kind = kind            # put | soft | hard
        self.group, self.rid = group, rid
        self.et_ms, self.et_text = et_ms, et_text
        self.values = None          # put: feature name -> text sent
        self.online = self.offline = True
        self.ttl = None             # put: {"Unit", "Value"}
        self.expires_micros = None
        self.batch = None           # batch id for BatchWriteRecord entries
        self.state = "sending"      # sending | ok | rejected | unknown
        self.t_send = self.t_done = None
        self.predicted = None       # hard: True if the model says it is applied (else 400)
        self.applied = None         # resolved fate: True/False (None while unknown)


class RecordModel:
    """The ordered operations of one record and the replay of the online store's rules."""

    def __init__(self):
        self.ops = []
        self.used_et = set()

    def state(self):
        """Online state after replaying the applied operations:
        None | ("live", et_ms, op) | ("tomb", et_ms)."""
        return self.replay()[1]

    def replay(self):
        """(the state before each operation, the final state), replaying applied operations."""
        st, before = None, []
        for op in self.ops:
            before.append(st)
            if op.applied:
                st = apply(st, op)
        return before, st


def apply(st, op):
    if not op.online:
        return st
    cur_et = None if st is None else st[1]
    if op.kind == "put":
        if cur_et is not None and op.et_ms < cur_et:
            return st
        return ("live", op.et_ms, op)
    if op.kind == "soft":
        if cur_et is not None and op.et_ms <= cur_et:
            return st
        return ("tomb", op.et_ms)
    # hard
    if cur_et is not None and op.et_ms <= cur_et:
        return st
    return None


def hard_is_applied(st, op):
    return st is None or op.et_ms > st[1]


def offline_row_of(op, st_before):
    """What `op` adds to the offline store if it lands: "row", "marker" or None."""
    if not op.offline:
        return None
    if op.kind == "put":
        return "row"
    if op.kind == "soft":
        return "marker"
    return "marker" if hard_is_applied(st_before, op) else None


class Stats:
    def __init__(self):
        self.cycles = 0
        self.acked_writes = 0         # acknowledged put entries and deletes, all verified
        self.acked_rejections = 0     # 400s the model predicted (hard deletes not newer)
        self.unknown_ops = 0          # in flight at a kill
        self.unknown_applied = 0
        self.offline_rows_checked = 0
        self.online_records_checked = 0
        self.groups_created = 0
        self.kills_mid_flush = 0      # a flush intent or tmp file was on disk after the kill
        self.kills_mid_compaction = 0
        self.recovery_kills = 0       # extra kills during start-up recovery
        self.lost = 0
        self.duplicated = 0
        self.half_written = 0
        self.server_errors = 0        # 5xx answers (each also ends its writer's cycle)

    def line(self):
        return (f"cycles={self.cycles} acked_writes={self.acked_writes} "
                f"acked_rejections={self.acked_rejections} in_flight={self.unknown_ops} "
                f"(landed {self.unknown_applied}) offline_rows_checked={self.offline_rows_checked} "
                f"online_checks={self.online_records_checked} groups_created={self.groups_created} "
                f"kills_mid_flush={self.kills_mid_flush} kills_mid_compaction={self.kills_mid_compaction} "
                f"recovery_kills={self.recovery_kills} lost={self.lost} duplicated={self.duplicated} "
                f"half_written={self.half_written} server_errors={self.server_errors}")


class CrashHarness:
    def __init__(self, durability="process", seed=None, writers=4, keys_per_writer=6,
                 load_seconds=(0.3, 2.5), recovery_kill_p=0.15, flush_interval_ms=5,
                 flush_rows=16, extra_args=(), log=print, data_dir=None):
        self.durability = durability
        self.seed = seed if seed is not None else random.randrange(1 << 30)
        self.rng = random.Random(self.seed)
        self.writers = writers
        self.keys_per_writer = keys_per_writer
        self.load_seconds = load_seconds
        self.recovery_kill_p = recovery_kill_p
        self.log = log
        self.stats = Stats()
        self.srv = LarderServer(data_dir=data_dir, extra_args=[
            "--durability", durability, "--flush-interval-ms", str(flush_interval_ms),
            "--flush-rows", str(flush_rows), "--log-level", "warn", *extra_args])
        self.records = collections.defaultdict(RecordModel)  # (group, rid) -> model
        self.tables = {}                                     # group -> offline table
        self.created = {}                                    # group name -> "ok" | "unknown"
        self.batch_seq = 0
        self.cycle = 0
        self.lock = threading.Lock()
        self.cfg = Config(retries={"max_attempts": 1, "mode": "standard"},
                          connect_timeout=10, read_timeout=120)

    # ---------------------------------------------------------------- lifecycle

    def run(self, cycles):
        """Runs `cycles` crash cycles, then a final verification after a graceful restart.
        Raises Violation on the first cycle that finds a problem (the data dir is kept)."""
        self.log(f"crash harness: durability={self.durability} seed={self.seed} "
                 f"data_dir={self.srv.data_dir}")
        try:
            self.start()
            self.setup_groups()
            for _ in range(cycles):
                self.cycle += 1
                self.load_and_kill()
                self.start_after_crash()
                self.verify()
                self.stats.cycles += 1
                self.log(f"cycle {self.cycle}: {self.stats.line()}")
            # Graceful stop and restart: the final flush must not duplicate anything either.
            self.srv.stop()
            self.start()
            self.verify()
            self.srv.stop()
        except Violation:
            self.log(f"VIOLATION after {self.stats.cycles} good cycles; data kept in "
                     f"{self.srv.data_dir}\nserver log tail:\n{self.srv.log()[-3000:]}")
            self.srv.kill9()
            raise
        except BaseException:
            self.srv.kill9()
            raise
        return self.stats

    def close(self, keep=False):
        if keep:
            self.srv.kill9()
        else:
            self.srv.close()

    def start(self):
        self.srv.start(timeout=120)
        self.sm = self.srv.client("sagemaker", config=self.cfg)
        self.rt = self.srv.client("sagemaker-featurestore-runtime", config=self.cfg)
        self.ath = self.srv.client("athena", config=self.cfg)

    def start_after_crash(self):
        if self.rng.random() < self.recovery_kill_p:
            # Crash again while the server recovers (before or just after it is healthy).
            delay = self.rng.uniform(0.0, 0.6)
            errors = []
            t = threading.Thread(target=lambda: self._try_start(errors))
            t.start()
            deadline = time.monotonic() + 60
            # Wait for the other thread's Popen (srv.proc is still the killed process until then).
            while time.monotonic() < deadline and t.is_alive() and \
                    (self.srv.proc is None or self.srv.proc.poll() is not None):
                time.sleep(0.005)
            time.sleep(delay)  # the random moment of the kill, not a synchronization
            self.srv.kill9()
            t.join(120)
            self.stats.recovery_kills += 1
        self.start()

    def _try_start(self, errors):
        try:
            self.srv.start(timeout=120)
        except Exception as e:  # killed on purpose
            errors.append(e)

    def setup_groups(self):
        for name, (et_type, extra) in GROUPS.items():
            defs = [{"FeatureName": "rid", "FeatureType": "String"},
                    {"FeatureName": "et", "FeatureType": et_type},
                    {"FeatureName": "payload", "FeatureType": "String"},
                    {"FeatureName": "n", "FeatureType": "Integral"}]
            defs += [{"FeatureName": f, "FeatureType": t} for f, t in extra]
            self.sm.create_feature_group(
                FeatureGroupName=name, RecordIdentifierFeatureName="rid",
                EventTimeFeatureName="et", FeatureDefinitions=defs,
                OnlineStoreConfig={"EnableOnlineStore": True},
                OfflineStoreConfig={"S3StorageConfig": {"S3Uri": "s3://larder-crash/fs"}},
                RoleArn=ROLE)
        for name in GROUPS:
            d = self.wait_created(name)
            self.tables[name] = d["OfflineStoreConfig"]["DataCatalogConfig"]["TableName"]

    def wait_created(self, name, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            d = self.sm.describe_feature_group(FeatureGroupName=name)
            if d["FeatureGroupStatus"] == "Created":
                return d
            if d["FeatureGroupStatus"] != "Creating":
                raise Violation(f"group {name} is {d['FeatureGroupStatus']}: {d.get('FailureReason')}")
            time.sleep(0.05)  # clients poll Describe
        raise Violation(f"group {name} still Creating after {timeout}s")

    # ---------------------------------------------------------------- load

    def new_et(self, group, model, rng):
        while True:
            ms = rng.randrange(ET_SPAN_MS)
            if ms not in model.used_et:
                model.used_et.add(ms)
                break
        if GROUPS[group][0] == "String":
            return ms, iso_millis((EPOCH_BASE * 1000 + ms) * 1000)
        total = EPOCH_BASE * 1000 + ms
        return ms, f"{total // 1000}.{total % 1000:03d}"

    def make_put(self, group, rid, model, rng):
        et_ms, et_text = self.new_et(group, model, rng)
        op = Op("put", group, rid, et_ms, et_text)
        op.values = {"rid": rid, "et": et_text,
                     "payload": f"c{self.cycle}-{rid}-{et_ms}-{rng.randrange(1 << 20):x}",
                     "n": str(rng.randrange(-10**12, 10**12))}
        if group == "crash-iso":
            op.values["score"] = f"{rng.randrange(10**6) / 1000:.3f}"
        r = rng.random()
        if r < 0.1:
            op.offline = False  # TargetStores: OnlineStore
        elif r < 0.2:
            op.online = False   # TargetStores: OfflineStore
        if rng.random() < 0.25:
            unit = rng.choice(list(TTL_UNITS))
            # At least ~20 years past the 2024 event times: never expires during a run.
            value = rng.randrange(20 * 365 * 86400 // TTL_UNITS[unit],
                                  40 * 365 * 86400 // TTL_UNITS[unit])
            op.ttl = {"Unit": unit, "Value": value}
            op.expires_micros = (EPOCH_BASE * 1000 + et_ms) * 1000 + value * TTL_UNITS[unit] * 10**6
        return op

    def put_request(self, op):
        req = {"FeatureGroupName": op.group,
               "Record": [{"FeatureName": k, "ValueAsString": v} for k, v in op.values.items()]}
        if not op.offline:
            req["TargetStores"] = ["OnlineStore"]
        elif not op.online:
            req["TargetStores"] = ["OfflineStore"]
        if op.ttl:
            req["TtlDuration"] = op.ttl
        return req

    def writer(self, w, rt, stop, rng):
        keys = [(g, f"w{w}-k{k}") for g in GROUPS for k in range(self.keys_per_writer)]
        while not stop.is_set():
            r = rng.random()
            if r < 0.5:
                g, rid = rng.choice(keys)
                ops = [self.make_put(g, rid, self.records[(g, rid)], rng)]
                call = lambda: rt.put_record(**self.put_request(ops[0]))  # noqa: E731
            elif r < 0.65:
                chosen = rng.sample(keys, rng.randrange(2, 5))
                ops = [self.make_put(g, rid, self.records[(g, rid)], rng) for g, rid in chosen]
                with self.lock:
                    self.batch_seq += 1
                    batch = self.batch_seq
                for op in ops:
                    op.batch = batch
                entries = []
                for op in ops:
                    e = self.put_request(op)
                    entries.append(e)
                call = lambda: rt.batch_write_record(Entries=entries)  # noqa: E731
            else:
                g, rid = rng.choice(keys)
                model = self.records[(g, rid)]
                et_ms, et_text = self.new_et(g, model, rng)
                kind = "soft" if r < 0.85 else "hard"
                ops = [Op(kind, g, rid, et_ms, et_text)]
                mode = "SoftDelete" if kind == "soft" else "HardDelete"
                call = lambda: rt.delete_record(  # noqa: E731
                    FeatureGroupName=g, RecordIdentifierValueAsString=rid,
                    EventTime=et_text, DeletionMode=mode)
            for op in ops:
                model = self.records[(op.group, op.rid)]
                if op.kind == "hard":
                    op.predicted = hard_is_applied(model.state(), op)
                op.t_send = time.time()
                model.ops.append(op)
            outcome = self.send(call)
            t_done = time.time()
            for op in ops:
                op.t_done = t_done
            if outcome == "ok" and ops[0].kind == "hard" and not ops[0].predicted:
                raise_later = f"hard delete {ops[0].rid}@{ops[0].et_text} succeeded; the model " \
                              f"says the row is newer and it must be refused"
                self.fail_async(raise_later)
            if outcome == "rejected":
                if not (ops[0].kind == "hard" and not ops[0].predicted):
                    self.fail_async(f"{ops[0].kind} {ops[0].group}/{ops[0].rid}@{ops[0].et_text} "
                                    f"refused: {self.last_error.get(f'w{w}')}")
            for op in ops:
                op.state = outcome
                op.applied = {"ok": True, "rejected": False}.get(outcome)
            if outcome == "unknown":
                return

    def send(self, call):
        try:
            out = call()
        except ClientError as e:
            status = e.response["ResponseMetadata"].get("HTTPStatusCode", 0)
            self.last_error[threading.current_thread().name] = str(e)
            if status >= 500:
                with self.lock:
                    self.stats.server_errors += 1
                return "unknown"
            if e.response["Error"]["Code"] == "ValidationError":
                return "rejected"
            self.fail_async(f"unexpected error: {e}")
            return "unknown"
        except Exception:  # connection refused / reset / closed: the server is gone
            return "unknown"
        if out.get("Errors") or out.get("UnprocessedEntries"):
            self.fail_async(f"BatchWriteRecord answered {out}")
        return "ok"

    def fail_async(self, message):
        with self.lock:
            self.async_failures.append(message)

    def creator(self, sm, stop, rng):
        # At most 2 groups a cycle and 60 in all: the catalog's group quota is 100.
        for i in range(2):
            if stop.is_set() or len(self.created) >= 60:
                return
            stop.wait(rng.uniform(0.0, 0.5))  # creation pace
            name = f"crash-new-{self.cycle}-{i}"
            kwargs = dict(
                FeatureGroupName=name, RecordIdentifierFeatureName="id",
                EventTimeFeatureName="t",
                FeatureDefinitions=[{"FeatureName": "id", "FeatureType": "String"},
                                    {"FeatureName": "t", "FeatureType": "Fractional"}],
                OnlineStoreConfig={"EnableOnlineStore": True}, RoleArn=ROLE)
            if rng.random() < 0.5:
                kwargs["OfflineStoreConfig"] = {"S3StorageConfig": {"S3Uri": "s3://larder-crash/new"}}
            self.created[name] = "sending"
            try:
                sm.create_feature_group(**kwargs)
            except ClientError as e:
                status = e.response["ResponseMetadata"].get("HTTPStatusCode", 0)
                if e.response["Error"]["Code"] == "ResourceLimitExceeded":
                    self.created[name] = "refused"  # too many Creating at once: not created
                    continue
                if status < 500:
                    self.fail_async(f"CreateFeatureGroup {name} failed: {e}")
                self.created[name] = "unknown"
                return
            except Exception:  # the server is gone
                self.created[name] = "unknown"
                return
            self.created[name] = "ok"

    def load_and_kill(self):
        self.async_failures = []
        self.last_error = {}
        stop = threading.Event()
        # boto3 clients are created here, on one thread: boto3's default session is not
        # thread-safe.
        rts = [self.srv.client("sagemaker-featurestore-runtime", config=self.cfg)
               for _ in range(self.writers)]
        sm = self.srv.client("sagemaker", config=self.cfg)
        threads = [threading.Thread(target=self.writer, name=f"w{w}",
                                    args=(w, rts[w], stop, random.Random(self.rng.random())))
                   for w in range(self.writers)]
        threads.append(threading.Thread(target=self.creator, name="creator",
                                        args=(sm, stop, random.Random(self.rng.random()))))
        for t in threads:
            t.start()
        # The kill comes at a random moment while every thread is still sending.
        time.sleep(self.rng.uniform(*self.load_seconds))  # the random moment, not a sync
        self.srv.kill9()
        stop.set()
        self.note_flush_state()
        for t in threads:
            t.join(120)
            if t.is_alive():
                raise Violation(f"thread {t.name} did not finish after the kill")
        if self.async_failures:
            raise Violation("; ".join(self.async_failures[:10]))

    def note_flush_state(self):
        flush_dir = os.path.join(self.srv.data_dir, "offline", "_flush")
        intents = os.listdir(flush_dir) if os.path.isdir(flush_dir) else []
        tmp = False
        for root, _, files in os.walk(os.path.join(self.srv.data_dir, "offline")):
            if any(f.endswith(".tmp") for f in files):
                tmp = True
                break
        if tmp or any(f.startswith("flush-") for f in intents):
            self.stats.kills_mid_flush += 1
        if any(f.startswith("compact-") for f in intents):
            self.stats.kills_mid_compaction += 1

    # ---------------------------------------------------------------- verification

    def query_csv(self, sql):
        qid = self.ath.start_query_execution(
            QueryString=sql, QueryExecutionContext={"Database": "sagemaker_featurestore"},
            ResultConfiguration={"OutputLocation": "s3://larder-crash/results/"})["QueryExecutionId"]
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            ex = self.ath.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
            state = ex["Status"]["State"]
            if state not in ("QUEUED", "RUNNING"):
                break
            time.sleep(0.02)  # Athena clients poll
        if state != "SUCCEEDED":
            raise Violation(f"query {sql!r} ended {state}: {ex['Status'].get('StateChangeReason')}")
        path = os.path.join(self.srv.data_dir, "query-results", qid + ".csv")
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
        return rows[0], rows[1:]

    def offline_rows(self, group):
        """(rid, et_ms, is_deleted) -> list of row dicts."""
        header, rows = self.query_csv(
            f'SELECT rid, CAST(et AS VARCHAR) AS et, payload, n, is_deleted, '
            f'strftime(api_invocation_time, \'%Y-%m-%d %H:%M:%S.%f\') AS api '
            f'FROM "{self.tables[group]}"')
        out = collections.defaultdict(list)
        for r in rows:
            d = dict(zip(header, r))
            if GROUPS[group][0] == "String":
                t = datetime.datetime.strptime(d["et"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                    tzinfo=datetime.timezone.utc)
                et_ms = round(t.timestamp() * 1000) - EPOCH_BASE * 1000
            else:
                et_ms = round(float(d["et"]) * 1000) - EPOCH_BASE * 1000
            out[(d["rid"], et_ms, d["is_deleted"] == "true")].append(d)
        self.stats.offline_rows_checked += len(rows)
        return out

    def verify(self):
        problems = []
        offline = {}
        for g in GROUPS:
            offline.update({(g,) + k: v for k, v in self.offline_rows(g).items()})
        # Duplicates: no (record, event time, is_deleted) twice.
        for key, rows in offline.items():
            if len(rows) > 1:
                self.stats.duplicated += len(rows) - 1
                problems.append(f"offline row {key} appears {len(rows)} times: {rows}")
        # Resolve the in-flight operations from the offline store, batch by batch. Only the last
        # operation of a record can be in flight, so everything before it is resolved.
        batches = collections.defaultdict(list)
        for model in self.records.values():
            if model.ops and model.ops[-1].applied is None:
                op = model.ops[-1]
                batches[op.batch or id(op)].append((model, op))
        resolved_now = set()
        for entries in batches.values():
            fates = []
            for model, op in entries:
                before = model.replay()[0][-1]
                key = (op.group, op.rid, op.et_ms, op.kind != "put")
                fates.append(key in offline if offline_row_of(op, before) else None)
            known = {f for f in fates if f is not None}
            if len(known) > 1:
                self.stats.half_written += 1
                problems.append("BatchWriteRecord landed partly in the offline store: " + str(
                    [(op.rid, op.et_text, f) for (_, op), f in zip(entries, fates)]))
            for (model, op), fate in zip(entries, fates):
                # No offline trace (online-only put, refused hard delete): the online store
                # decides below, or the rest of its batch (batches commit whole).
                op.applied = fate if fate is not None else (next(iter(known)) if known else None)
                resolved_now.add(id(op))
                self.stats.unknown_ops += 1
        # Online: GetRecord for every record. An in-flight op still unresolved is tried both ways;
        # one resolved from the offline store must show online too (one atomic commit).
        for (g, rid), model in sorted(self.records.items()):
            got = self.get(g, rid)
            self.stats.online_records_checked += 1
            last = model.ops[-1] if model.ops else None
            if last is not None and last.applied is None:
                for fate in (False, True):
                    last.applied = fate
                    if self.online_matches(model.state(), got):
                        break
                else:
                    last.applied = None
            if last is not None and last.applied is None or not self.online_matches(model.state(), got):
                if last is not None and id(last) in resolved_now:
                    self.stats.half_written += 1
                    what = "in-flight op found offline but not online (or the reverse)"
                else:
                    self.stats.lost += 1
                    what = "acknowledged state lost"
                problems.append(f"online {g}/{rid}: {what}: got {got}, model says "
                                f"{describe(model.state())} (last ops: "
                                f"{[(o.kind, o.et_text, o.state, o.applied) for o in model.ops[-5:]]})")
                if last is not None and last.applied is None:
                    last.applied = False
        for model in self.records.values():
            for op in model.ops:
                if op.state == "unknown":
                    self.stats.unknown_applied += bool(op.applied)
                    op.state = "resolved"
        # Every expected offline row exactly once, with the values sent; nothing else.
        seen = set()
        for (g, rid), model in self.records.items():
            before, _ = model.replay()
            for op, st in zip(model.ops, before):
                if not op.applied:
                    continue
                kind = offline_row_of(op, st)
                if kind is None:
                    continue
                key = (g, rid, op.et_ms, op.kind != "put")
                seen.add(key)
                rows = offline.get(key, [])
                if not rows:
                    self.stats.lost += 1
                    problems.append(
                        f"offline: {op.kind} {g}/{rid}@{op.et_text} ({op.state}, "
                        f"{(op.values or {}).get('payload', 'marker')}, batch {op.batch}, sent "
                        f"{datetime.datetime.fromtimestamp(op.t_send, datetime.timezone.utc):%H:%M:%S.%f}"
                        f", answered {op.t_done - op.t_send:.3f}s later) is missing")
                    continue
                row = rows[0]
                if kind == "row":
                    want = (op.values["payload"], op.values["n"])
                    if (row["payload"], row["n"]) != want:
                        self.stats.half_written += 1
                        problems.append(f"offline: {g}/{rid}@{op.et_text} holds {row}, sent {want}")
                elif row["payload"] or row["n"]:
                    problems.append(f"offline: marker {g}/{rid}@{op.et_text} carries values {row}")
                api = datetime.datetime.strptime(row["api"], "%Y-%m-%d %H:%M:%S.%f").replace(
                    tzinfo=datetime.timezone.utc).timestamp()
                if not op.t_send - 2 <= api <= op.t_done + 2:
                    problems.append(f"offline: {g}/{rid}@{op.et_text} api_invocation_time "
                                    f"{row['api']} lies outside its request's time window")
        for key, rows in offline.items():
            if key not in seen:
                problems.append(f"offline row {key} belongs to no operation that landed: {rows}")
        # Groups: acknowledged creates exist and reach Created; in-flight ones exist or not.
        for name in GROUPS:
            self.wait_created(name)
        listed = set()
        for page in self.sm.get_paginator("list_feature_groups").paginate():
            listed |= {s["FeatureGroupName"] for s in page["FeatureGroupSummaries"]}
        for name, state in list(self.created.items()):
            if state == "ok":
                if name not in listed:
                    self.stats.lost += 1
                    problems.append(f"acknowledged CreateFeatureGroup {name} is gone")
                    continue
                self.wait_created(name)
                self.stats.groups_created += 1
                self.created[name] = "checked"
            elif state in ("unknown", "sending"):
                if name in listed:
                    self.wait_created(name)
                self.created[name] = "checked" if name in listed else "absent"
            elif state == "checked" and name not in listed:
                self.stats.lost += 1
                problems.append(f"group {name} existed and is gone")
        self.stats.acked_writes = sum(1 for m in self.records.values() for op in m.ops
                                      if op.state == "ok")
        self.stats.acked_rejections = sum(1 for m in self.records.values() for op in m.ops
                                          if op.state == "rejected")
        if problems:
            raise Violation(f"{len(problems)} problem(s):\n  " + "\n  ".join(problems[:30]))

    def get(self, g, rid):
        r = self.rt.get_record(FeatureGroupName=g, RecordIdentifierValueAsString=rid,
                               ExpirationTimeResponse="Enabled")
        r.pop("ResponseMetadata", None)
        return r

    def online_matches(self, st, got):
        if st is None or st[0] == "tomb":
            return got == {}
        op = st[2]
        want = {"Record": [{"FeatureName": k, "ValueAsString": v} for k, v in op.values.items()]}
        if op.expires_micros is not None:
            want["ExpiresAt"] = iso_millis(op.expires_micros)
        return sorted(got.get("Record", []), key=lambda f: f["FeatureName"]) == \
            sorted(want["Record"], key=lambda f: f["FeatureName"]) and \
            got.get("ExpiresAt") == want.get("ExpiresAt")


def concurrent_puts_and_queries(srv, writers=16, puts_each=100, group="concurrent"):
    """Many writer threads put distinct records while one thread runs Athena queries (each
    query first flushes what was acknowledged); then reads the offline store. Returns
    {"acked": n, "missing": [ids acknowledged but absent], "duplicated": [ids seen twice]}."""
    cfg = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=120)
    sm = srv.client("sagemaker", config=cfg)
    sm.create_feature_group(
        FeatureGroupName=group, RecordIdentifierFeatureName="id", EventTimeFeatureName="t",
        FeatureDefinitions=[{"FeatureName": "id", "FeatureType": "String"},
                            {"FeatureName": "t", "FeatureType": "String"}],
        OnlineStoreConfig={"EnableOnlineStore": True},
        OfflineStoreConfig={"S3StorageConfig": {"S3Uri": "s3://larder-crash/concurrent"}},
        RoleArn=ROLE)
    deadline = time.monotonic() + 120
    while True:
        d = sm.describe_feature_group(FeatureGroupName=group)
        if d["FeatureGroupStatus"] == "Created":
            break
        if time.monotonic() > deadline:
            raise Violation(f"group {group} was not created")
        time.sleep(0.05)  # clients poll Describe
    table = d["OfflineStoreConfig"]["DataCatalogConfig"]["TableName"]
    clients = [srv.client("sagemaker-featurestore-runtime", config=cfg) for _ in range(writers)]
    ath = srv.client("athena", config=cfg)
    acked, lock, done = [], threading.Lock(), threading.Event()

    def query(sql):
        qid = ath.start_query_execution(
            QueryString=sql, ResultConfiguration={"OutputLocation": "s3://larder-crash/q/"})[
            "QueryExecutionId"]
        while True:
            ex = ath.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
            if ex["Status"]["State"] not in ("QUEUED", "RUNNING"):
                break
            time.sleep(0.01)  # Athena clients poll
        if ex["Status"]["State"] != "SUCCEEDED":
            raise Violation(f"query {sql!r}: {ex['Status']}")
        with open(os.path.join(srv.data_dir, "query-results", qid + ".csv"), newline="") as f:
            return list(csv.reader(f))[1:]

    def writer(i):
        for j in range(puts_each):
            rid = f"w{i}-{j}"
            clients[i].put_record(FeatureGroupName=group, Record=[
                {"FeatureName": "id", "ValueAsString": rid},
                {"FeatureName": "t", "ValueAsString": "2024-03-01T10:00:00Z"}])
            with lock:
                acked.append(rid)

    def querier():
        while not done.is_set():
            query(f'SELECT count(*) FROM "{table}"')

    q = threading.Thread(target=querier)
    q.start()
    threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    q.join()
    ids = [r[0] for r in query(f'SELECT id FROM "{table}"')]
    counts = collections.Counter(ids)
    return {"acked": len(acked), "missing": sorted(set(acked) - set(counts)),
            "duplicated": sorted(i for i, n in counts.items() if n > 1)}


def describe(st):
    if st is None:
        return "absent"
    if st[0] == "tomb":
        return f"tombstone@{st[1]}"
    return f"live {st[2].values} expires {st[2].expires_micros}"


def run_cli(argv=None):
    import argparse
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cycles", type=int, default=100)
    p.add_argument("--durability", choices=["process", "fsync"], default="process")
    p.add_argument("--seed", type=int)
    p.add_argument("--writers", type=int, default=4)
    p.add_argument("--keep", action="store_true", help="keep the data directory")
    a = p.parse_args(argv)
    h = CrashHarness(durability=a.durability, seed=a.seed, writers=a.writers,
                     log=lambda m: print(m, flush=True))
    ok = False
    try:
        stats = h.run(a.cycles)
        ok = True
        print(f"RESULT durability={a.durability} seed={h.seed} {stats.line()}", flush=True)
    except Violation as v:
        print(f"RESULT durability={a.durability} seed={h.seed} FAILED {h.stats.line()}\n{v}",
              flush=True)
    except Exception:
        traceback.print_exc()
    finally:
        h.close(keep=a.keep or not ok)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(run_cli())
