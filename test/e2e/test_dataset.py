"""End-to-end: point-in-time datasets through Larder.CreateDataset (docs/datasets.md).

Records go in through the real runtime API (boto3), including a re-write of the same event time
and a DeleteRecord; the base file is uploaded into DATA_DIR/uploads; the dataset request is a
SigV4-signed json 1.1 call (botocore's signer, since boto3 has no model for Larder's own API).
"""
import csv
import json
import os
import time
import unittest
import urllib.error
import urllib.request

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from larder_harness import REGION, LarderServer

GROUP = "ds-customers"


def fv(name, value):
    return {"FeatureName": name, "ValueAsString": str(value)}


class DatasetTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = LarderServer()
        cls.srv.start()
        sm = cls.srv.client("sagemaker")
        sm.create_feature_group(
            FeatureGroupName=GROUP,
            RecordIdentifierFeatureName="customer_id",
            EventTimeFeatureName="event_time",
            FeatureDefinitions=[
                {"FeatureName": "customer_id", "FeatureType": "String"},
                {"FeatureName": "event_time", "FeatureType": "String"},
                {"FeatureName": "loyalty_score", "FeatureType": "Fractional"},
            ],
            OnlineStoreConfig={"EnableOnlineStore": True},
            OfflineStoreConfig={"S3StorageConfig": {"S3Uri": "s3://bucket/prefix"}},
            RoleArn="arn:aws:iam::123456789012:role/larder",
        )
        deadline = time.monotonic() + 30
        while sm.describe_feature_group(FeatureGroupName=GROUP)["FeatureGroupStatus"] != "Created":
            if time.monotonic() > deadline:
                raise AssertionError("feature group never reached Created")
            time.sleep(0.05)  # polling the API's own status, as boto users do
        rt = cls.srv.client("sagemaker-featurestore-runtime")

        def put(cid, et, score):
            rt.put_record(FeatureGroupName=GROUP,
                          Record=[fv("customer_id", cid), fv("event_time", et), fv("loyalty_score", score)])

        put("C1", "1700000010", 0.1)
        put("C1", "1700000010", 0.2)  # same event time, later request: dedup keeps this one
        put("C1", "2023-11-14T22:13:50Z", 0.3)  # +30, ISO spelling
        put("C2", "1700000010", 0.5)
        put("C2", "1700000040", 0.6)
        # C2's delete at +20: its +10 row is gone from datasets, the +40 row stays.
        rt.delete_record(FeatureGroupName=GROUP, RecordIdentifierValueAsString="C2",
                         EventTime="1700000020")
        os.makedirs(os.path.join(cls.srv.data_dir, "uploads"), exist_ok=True)
        with open(os.path.join(cls.srv.data_dir, "uploads", "labels.csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["customer_id", "event_time", "label"])
            w.writerows([["C1", "1700000015", 1], ["C1", "2023-11-14T22:14:00Z", 0],
                         ["C2", "1700000015", 1], ["C2", "1700000045", 0], ["C3", "1700000050", 1]])

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()

    def call(self, op, body):
        data = json.dumps(body).encode()
        req = AWSRequest(method="POST", url=self.srv.endpoint + "/", data=data, headers={
            "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"Larder.{op}"})
        SigV4Auth(Credentials(self.srv.access_key, self.srv.secret_key), "sagemaker", REGION).add_auth(req)
        http = urllib.request.Request(self.srv.endpoint + "/", data=data, method="POST",
                                      headers=dict(req.headers.items()))
        try:
            with urllib.request.urlopen(http, timeout=120) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def base(self, **extra):
        body = {"Base": {"Path": "labels.csv", "RecordIdentifierFeatureName": "customer_id",
                         "EventTimeFeatureName": "event_time"},
                "FeatureGroups": [{"FeatureGroupName": GROUP, "FeatureNames": ["loyalty_score"]}],
                "OutputFormat": "csv"}
        body.update(extra)
        return body

    def rows(self, path):
        with open(path, newline="") as f:
            return sorted((r["customer_id"], r["label"], r["loyalty_score.1"]) for r in csv.DictReader(f))

    def test_as_of_dataset_sees_every_acknowledged_write(self):
        status, out = self.call("CreateDataset", self.base())
        self.assertEqual(status, 200, out)
        self.assertEqual(out["RowCount"], 5)
        self.assertEqual(out["Columns"], ["customer_id", "event_time", "label", "loyalty_score.1"])
        self.assertTrue(out["OutputPath"].startswith(os.path.join(self.srv.data_dir, "datasets", out["DatasetId"])))
        self.assertEqual(self.rows(out["OutputPath"]), [
            ("C1", "0", "0.3"),  # +40 sees the +30 row
            ("C1", "1", "0.2"),  # +15 sees +10, the later of the two writes
            ("C2", "0", "0.6"),  # +45 sees +40, newer than the delete
            ("C2", "1", ""),     # +15: the +10 row is older than the delete at +20
            ("C3", "1", ""),
        ])

    def test_all_matches_with_recent_is_the_sdk_shape(self):
        status, out = self.call("CreateDataset", self.base(JoinMode="AllMatches", NumberOfRecentRecords=1))
        self.assertEqual(status, 200, out)
        # INNER join, then per customer the latest base event and its latest feature row.
        self.assertEqual(self.rows(out["OutputPath"]), [("C1", "0", "0.3"), ("C2", "0", "0.6")])

    def test_base_outside_uploads_is_refused(self):
        body = self.base()
        body["Base"]["Path"] = "/etc/passwd"
        status, out = self.call("CreateDataset", body)
        self.assertEqual(status, 403, out)
        self.assertEqual(out["__type"], "AccessDeniedException")
        body["Base"]["Path"] = "../catalog"
        status, out = self.call("CreateDataset", body)
        self.assertIn(status, (400, 403), out)

    def test_unknown_group_and_bad_option(self):
        status, out = self.call("CreateDataset", {"BaseFeatureGroupName": "nope"})
        self.assertEqual((status, out["__type"]), (400, "ResourceNotFound"), out)
        status, out = self.call("CreateDataset", self.base(NumberOfRecentRecords=-1))
        self.assertEqual((status, out["__type"]), (400, "ValidationException"), out)
        self.assertIn("recent must be a non-negative integer, got -1", out["message"])


if __name__ == "__main__":
    unittest.main()
