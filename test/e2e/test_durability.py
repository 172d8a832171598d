"""Crash durability of the online store: concurrent writers, kill -9, restart, check.

Every write the server acknowledged must survive the crash, with latest-wins applied: for each
record identifier the surviving row carries an event time at least as new as the newest
acknowledged one, and its values are exactly those of the write with that event time (which may
be a write that was in flight when the server died: it may or may not have landed). Run once
per durability mode. (kill -9 cannot simulate power loss; --durability=fsync is exercised for
correctness of its write path here.)
"""
import itertools
import random
import threading
import unittest

from botocore.exceptions import ClientError

from larder_harness import LarderServer
from test_runtime import create_group, features, walkthrough_definitions

GROUP = "crash-test"
WRITERS = 6
KEYS = 8
ACKS_BEFORE_KILL = 300  # small for CI; the point is the crash in the middle of the load


class DurabilityTest(unittest.TestCase):
    def crash_and_check(self, mode):
        srv = LarderServer(extra_args=["--durability", mode])
        srv.start()
        try:
            create_group(srv.client("sagemaker"), GROUP, walkthrough_definitions())
            lock = threading.Lock()
            attempted = {}  # (identifier, event time) -> payload, recorded before sending
            acked = {}      # identifier -> event times the server acknowledged
            n_acked = [0]
            enough = threading.Event()
            seq = itertools.count()

            def writer(tid):
                client = srv.client("sagemaker-featurestore-runtime")
                rng = random.Random(tid)
                while not enough.is_set():
                    key = f"K{rng.randrange(KEYS)}"
                    # Unique event times in random order, so latest-wins has work to do.
                    event_time = 1_000_000_000 + rng.randrange(10_000) * 10_000 + next(seq)
                    payload = f"w{tid}-{event_time}"
                    with lock:
                        attempted[(key, event_time)] = payload
                    try:
                        client.put_record(FeatureGroupName=GROUP, Record=[
                            {"FeatureName": "customer_id", "ValueAsString": key},
                            {"FeatureName": "event_time", "ValueAsString": str(event_time)},
                            {"FeatureName": "preferred_category", "ValueAsString": payload}])
                    except Exception:  # the server is gone: this write's fate is unknown
                        return
                    with lock:
                        acked.setdefault(key, []).append(event_time)
                        n_acked[0] += 1
                        if n_acked[0] >= ACKS_BEFORE_KILL:
                            enough.set()

            threads = [threading.Thread(target=writer, args=(t,)) for t in range(WRITERS)]
            for t in threads:
                t.start()
            self.assertTrue(enough.wait(timeout=120), f"only {n_acked[0]} writes acknowledged")
            srv.kill9()  # writers are still sending: some writes are in flight
            for t in threads:
                t.join(timeout=60)

            srv.start()
            rt = srv.client("sagemaker-featurestore-runtime")
            with lock:
                snapshot_acked = {k: list(v) for k, v in acked.items()}
                snapshot_attempted = dict(attempted)
            self.assertGreaterEqual(sum(map(len, snapshot_acked.values())), ACKS_BEFORE_KILL)
            for key, times in snapshot_acked.items():
                got = rt.get_record(FeatureGroupName=GROUP, RecordIdentifierValueAsString=key)
                self.assertIn("Record", got, f"{key}: acknowledged writes lost after kill -9 ({mode})")
                f = features(got["Record"])
                event_time = int(f["event_time"])
                self.assertGreaterEqual(event_time, max(times),
                                        f"{key}: newest acknowledged write lost ({mode})")
                self.assertEqual(f["preferred_category"], snapshot_attempted[(key, event_time)],
                                 f"{key}: values do not belong to the write with event time {event_time}")
                # Latest-wins still holds after the restart: an older write is historic.
                rt.put_record(FeatureGroupName=GROUP, Record=[
                    {"FeatureName": "customer_id", "ValueAsString": key},
                    {"FeatureName": "event_time", "ValueAsString": str(max(times) - 1)},
                    {"FeatureName": "preferred_category", "ValueAsString": "stale"}])
                again = features(rt.get_record(FeatureGroupName=GROUP,
                                               RecordIdentifierValueAsString=key)["Record"])
                self.assertEqual(again["preferred_category"], f["preferred_category"])
            listed = rt.list_records(FeatureGroupName=GROUP, MaxResults=100)["RecordIdentifiers"]
            self.assertTrue(set(snapshot_acked) <= set(listed))
        finally:
            srv.close()

    def test_process_durability_survives_kill9(self):
        self.crash_and_check("process")

    def test_fsync_durability_survives_kill9(self):
        self.crash_and_check("fsync")

    def test_unknown_durability_mode_is_refused(self):
        srv = LarderServer(extra_args=["--durability", "sometimes"])
        try:
            with self.assertRaises(RuntimeError) as cm:
                srv.start(timeout=10)
            self.assertIn("sometimes", str(cm.exception))
        finally:
            srv.close()


if __name__ == "__main__":
    unittest.main()
