"""Runs the user walkthrough examples against a real `larder serve` and checks their results.

examples/walkthrough.py is the walkthrough with boto3 (the SDK's calls); examples/walkthrough.sh
is the same story with the `larder` CLI. Both check themselves and exit non-zero on a surprise;
this suite also checks what they report against the server and the sample data, so a script
that stopped checking would still be caught.
"""
import csv
import json
import os
import subprocess
import tempfile
import unittest

from larder_harness import REPO, LarderServer

EXAMPLES = os.path.join(REPO, "examples")


class WalkthroughTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = LarderServer()
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()

    def run_example(self, cmd, extra_env=None, timeout=600):
        env = self.srv.env()
        env.update(extra_env or {})
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        if p.returncode != 0:
            self.fail(f"{' '.join(cmd)} exited {p.returncode}\n--- stdout\n{p.stdout[-6000:]}\n"
                      f"--- stderr\n{p.stderr[-6000:]}\n--- server log\n{self.srv.log()[-3000:]}")
        return p

    def test_walkthrough_py(self):
        with tempfile.TemporaryDirectory() as tmp:
            summary_path = os.path.join(tmp, "summary.json")
            p = self.run_example(["python3", os.path.join(EXAMPLES, "walkthrough.py"),
                                  "--name", "customer-features", "--summary", summary_path])
            self.assertIn("walkthrough: every step checked", p.stdout)
            with open(summary_path) as f:
                s = json.load(f)
        types = {d["FeatureName"]: d["FeatureType"] for d in s["feature_definitions"]}
        self.assertEqual(types, {
            "customer_id": "String", "event_time": "String", "total_purchases": "Fractional",
            "avg_order_value": "Fractional", "days_since_last_purchase": "Fractional",
            "total_orders": "Fractional", "return_rate": "Fractional",
            "preferred_category": "String", "account_age_days": "Fractional",
            "loyalty_score": "Fractional"})
        self.assertEqual(s["batch"]["rows"], 1000)
        self.assertEqual(s["batch"]["failed"], 0)
        self.assertEqual(s["training"]["rows"], 1001)  # C001 and the batch
        self.assertEqual(len(s["training"]["columns"]), 8)
        self.assertEqual(s["offline_C0042_versions"], 2)
        self.assertEqual(s["point_in_time"]["rows"], 4)
        self.assertIn("customer-features", s["discovery"]["listed"])

        # What the script saw is what the server holds.
        rt = self.srv.client("sagemaker-featurestore-runtime")
        got = rt.get_record(FeatureGroupName="customer-features",
                            RecordIdentifierValueAsString="C0042")["Record"]
        online = {f["FeatureName"]: f["ValueAsString"] for f in got}
        self.assertEqual(online, s["online_C0042_updated"])
        self.assertEqual(online["loyalty_score"], "0.95")
        self.assertEqual(s["batch_get"]["C0042"], s["online_C0042"]["loyalty_score"])

    def test_walkthrough_sh(self):
        uploads = os.path.join(self.srv.data_dir, "uploads")
        os.makedirs(uploads, exist_ok=True)
        p = self.run_example(["bash", os.path.join(EXAMPLES, "walkthrough.sh")],
                             {"LARDER": self.srv.binary, "NAME": "customer-features-cli",
                              "LARDER_UPLOADS": uploads})
        checks = {}
        for line in p.stdout.splitlines():
            if line.startswith("CHECK "):
                key, _, value = line[len("CHECK "):].partition("=")
                checks[key] = value
        with open(os.path.join(EXAMPLES, "data", "customers.csv")) as f:
            rows = {r["customer_id"]: r for r in csv.DictReader(f)}
        self.assertEqual(len(rows), 1000)
        self.assertEqual(checks.get("status"), "Created")
        self.assertEqual(checks.get("loyalty_score_type"), "Fractional")
        self.assertEqual(checks.get("ingested_rows"), "1000")
        self.assertEqual(checks.get("rejected_rows"), "0")
        self.assertEqual(checks.get("C0042_loyalty_score"), rows["C0042"]["loyalty_score"])
        self.assertEqual(checks.get("C0042_updated_loyalty_score"), "0.95")
        self.assertEqual(checks.get("training_rows"), "1002")  # C001, the 1000, the update
        self.assertEqual(checks.get("C0042_offline_versions"), "2")
        self.assertEqual(checks.get("training_parquet_bytes_nonzero"), "yes")
        self.assertEqual(checks.get("pit_rows"), "3")
        self.assertEqual(checks.get("pit_C0500_matched"), "False")
        self.assertEqual(checks.get("dataset_rows"), "1002")
        self.assertEqual(checks.get("labeled_dataset_rows"), "6")  # one per label row
        self.assertEqual(checks.get("labeled_C0042_total_purchases"),
                         rows["C0042"]["total_purchases"])
        self.assertEqual(checks.get("listed"), "True")
        self.assertEqual(checks.get("C0001_after_delete"), "gone")
        self.assertEqual(checks.get("group_after_delete"), "gone")
        self.assertIn("walkthrough.sh: done", p.stdout)


if __name__ == "__main__":
    unittest.main()
