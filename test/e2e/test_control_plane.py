"""End-to-end tests of the SageMaker control plane through boto3's `sagemaker` client and the
AWS CLI against a real `larder serve`: every operation, every error code, paginators, the
walkthrough's calls (seeds/000), restart persistence and kill -9 after an acknowledged create.
"""
import datetime
import time
import unittest

from botocore.exceptions import ClientError

from larder_harness import LarderServer

ACCOUNT = "123456789012"
REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/FeatureStoreRole"
DEADLINE_S = 30


def arn_of(name):
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:feature-group/{name.lower()}"


# The walkthrough's schema as the SDK's load_feature_definitions builds it: str -> String,
# float64 -> Fractional (event_time is a str, so String).
WALKTHROUGH_FEATURES = [
    {"FeatureName": "customer_id", "FeatureType": "String"},
    {"FeatureName": "event_time", "FeatureType": "String"},
    {"FeatureName": "total_purchases", "FeatureType": "Fractional"},
    {"FeatureName": "avg_order_value", "FeatureType": "Fractional"},
    {"FeatureName": "days_since_last_purchase", "FeatureType": "Fractional"},
    {"FeatureName": "total_orders", "FeatureType": "Fractional"},
    {"FeatureName": "return_rate", "FeatureType": "Fractional"},
    {"FeatureName": "preferred_category", "FeatureType": "String"},
    {"FeatureName": "account_age_days", "FeatureType": "Fractional"},
    {"FeatureName": "loyalty_score", "FeatureType": "Fractional"},
]


def create_kwargs(name, **extra):
    kw = dict(
        FeatureGroupName=name,
        RecordIdentifierFeatureName="customer_id",
        EventTimeFeatureName="event_time",
        FeatureDefinitions=WALKTHROUGH_FEATURES,
        OnlineStoreConfig={"EnableOnlineStore": True},
        OfflineStoreConfig={"S3StorageConfig": {"S3Uri": "s3://my-bucket/feature-store/"},
                            "DisableGlueTableCreation": False},
        RoleArn=ROLE,
        Description="Customer behavioral features for recommendation models",
    )
    kw.update(extra)
    return kw


class ControlPlaneCase(unittest.TestCase):
    """One server for the class; helpers shared by the suites below."""

    @classmethod
    def setUpClass(cls):
        cls.srv = LarderServer()
        cls.srv.start()
        cls.sm = cls.srv.client("sagemaker")

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()

    def wait_status(self, name, wanted="Created"):
        """Polls Describe (what clients do) until the group reaches `wanted`."""
        deadline = time.monotonic() + DEADLINE_S
        while True:
            status = self.sm.describe_feature_group(FeatureGroupName=name)["FeatureGroupStatus"]
            if status == wanted:
                return
            self.assertIn(status, ("Creating", "Deleting"), f"{name} went to {status}")
            if time.monotonic() > deadline:
                self.fail(f"{name} stayed {status} for {DEADLINE_S}s")
            time.sleep(0.01)

    def wait_gone(self, name):
        deadline = time.monotonic() + DEADLINE_S
        while True:
            try:
                status = self.sm.describe_feature_group(FeatureGroupName=name)["FeatureGroupStatus"]
            except ClientError as e:
                self.assertEqual(e.response["Error"]["Code"], "ResourceNotFound")
                return e
            self.assertEqual(status, "Deleting")
            if time.monotonic() > deadline:
                self.fail(f"{name} was not deleted within {DEADLINE_S}s")
            time.sleep(0.01)

    def create(self, name, **extra):
        resp = self.sm.create_feature_group(**create_kwargs(name, **extra))
        self.assertEqual(resp["FeatureGroupArn"], arn_of(name))
        self.wait_status(name)
        return resp

    def assert_error(self, code, fn, *args, contains=(), **kwargs):
        with self.assertRaises(ClientError) as cm:
            fn(*args, **kwargs)
        err = cm.exception.response["Error"]
        self.assertEqual(err["Code"], code, err)
        for part in contains:
            self.assertIn(part, err["Message"])
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)
        return err


class WalkthroughTest(ControlPlaneCase):
    def test_walkthrough_control_plane_calls(self):
        name = "customer-features"
        resp = self.sm.create_feature_group(**create_kwargs(name))
        self.assertEqual(resp["FeatureGroupArn"], arn_of(name))
        # Poll until Created, as the walkthrough does.
        self.wait_status(name)

        listed = self.sm.list_feature_groups(SortBy="CreationTime", SortOrder="Descending")
        names = [fg["FeatureGroupName"] for fg in listed["FeatureGroupSummaries"]]
        self.assertIn(name, names)
        summary = listed["FeatureGroupSummaries"][names.index(name)]
        self.assertEqual(summary["FeatureGroupStatus"], "Created")
        self.assertEqual(summary["FeatureGroupArn"], arn_of(name))
        self.assertIsInstance(summary["CreationTime"], datetime.datetime)

        d = self.sm.describe_feature_group(FeatureGroupName=name)
        self.assertEqual(d["FeatureGroupName"], name)
        self.assertEqual([(f["FeatureName"], f["FeatureType"]) for f in d["FeatureDefinitions"]],
                         [(f["FeatureName"], f["FeatureType"]) for f in WALKTHROUGH_FEATURES])
        self.assertEqual(d["RecordIdentifierFeatureName"], "customer_id")
        self.assertEqual(d["EventTimeFeatureName"], "event_time")
        self.assertEqual(d["OnlineStoreConfig"], {"EnableOnlineStore": True})
        epoch = int(d["CreationTime"].timestamp())
        self.assertEqual(d["OfflineStoreConfig"]["DataCatalogConfig"],
                         {"Catalog": "AwsDataCatalog", "Database": "sagemaker_featurestore",
                          "TableName": f"{name}_{epoch}"})
        self.assertEqual(d["OfflineStoreConfig"]["S3StorageConfig"]["ResolvedOutputS3Uri"],
                         f"s3://my-bucket/feature-store/{ACCOUNT}/sagemaker/{REGION}/"
                         f"offline-store/{name}-{epoch}/data")
        self.assertFalse(d["OfflineStoreConfig"]["DisableGlueTableCreation"])
        self.assertEqual(d["OfflineStoreStatus"], {"Status": "Active"})
        self.assertEqual(d["ThroughputConfig"], {"ThroughputMode": "OnDemand"})
        self.assertEqual(d["RoleArn"], ROLE)
        self.assertEqual(d["NextToken"], "")
        self.assertEqual(d["OnlineStoreTotalSizeBytes"], 0)
        self.assertNotIn("LastModifiedTime", d)
        self.assertNotIn("FailureReason", d)
        self.assertEqual(d["ResponseMetadata"]["HTTPHeaders"]["content-type"],
                         "application/x-amz-json-1.1")
        # By ARN too.
        self.assertEqual(self.sm.describe_feature_group(FeatureGroupName=arn_of(name))
                         ["FeatureGroupName"], name)

        self.sm.delete_feature_group(FeatureGroupName=name)
        err = self.wait_gone(name)
        self.assertIn(name, err.response["Error"]["Message"])


class OperationsTest(ControlPlaneCase):
    def test_errors_name_the_value(self):
        # ValidationException, server-side pattern / max / enum checks (botocore checks only min).
        err = self.assert_error("ValidationException", self.sm.create_feature_group,
                                **create_kwargs("bad name!"))
        self.assertEqual(
            err["Message"],
            "1 validation error detected: Value 'bad name!' at 'featureGroupName' failed to "
            "satisfy constraint: Member must satisfy regular expression pattern: "
            "[a-zA-Z0-9]([_-]*[a-zA-Z0-9]){0,63}")
        self.assert_error("ValidationException", self.sm.create_feature_group,
                          **create_kwargs("x" * 65),
                          contains=("Member must have length less than or equal to 64",))
        defs = WALKTHROUGH_FEATURES + [{"FeatureName": "flag", "FeatureType": "Boolean"}]
        self.assert_error("ValidationException", self.sm.create_feature_group,
                          **create_kwargs("enum-bad", FeatureDefinitions=defs),
                          contains=("Value 'Boolean' at 'featureDefinitions.11.member.featureType'",
                                    "[Integral, Fractional, String]"))
        # Semantic rules.
        defs = WALKTHROUGH_FEATURES + [{"FeatureName": "write_time", "FeatureType": "String"}]
        self.assert_error("ValidationException", self.sm.create_feature_group,
                          **create_kwargs("reserved", FeatureDefinitions=defs),
                          contains=("'write_time'", "reserved"))
        self.assert_error("ValidationException", self.sm.create_feature_group,
                          **create_kwargs("no-id", RecordIdentifierFeatureName="cust"),
                          contains=("RecordIdentifierFeatureName", "'cust'"))
        self.assert_error("ValidationException", self.sm.create_feature_group,
                          **create_kwargs("float-id", RecordIdentifierFeatureName="loyalty_score"),
                          contains=("'loyalty_score'", "Fractional"))
        kw = create_kwargs("no-store")
        del kw["OnlineStoreConfig"], kw["OfflineStoreConfig"]
        self.assert_error("ValidationException", self.sm.create_feature_group, **kw,
                          contains=("OfflineStoreConfig",))
        defs = WALKTHROUGH_FEATURES + [{"FeatureName": "tags", "FeatureType": "String",
                                        "CollectionType": "List"}]
        self.assert_error("ValidationException", self.sm.create_feature_group,
                          **create_kwargs("coll", FeatureDefinitions=defs),
                          contains=("'tags'", "InMemory"))
        kw = create_kwargs("mem-prov", OnlineStoreConfig={"EnableOnlineStore": True,
                                                          "StorageType": "InMemory"},
                           ThroughputConfig={"ThroughputMode": "Provisioned",
                                             "ProvisionedReadCapacityUnits": 1,
                                             "ProvisionedWriteCapacityUnits": 1})
        del kw["OfflineStoreConfig"]
        self.assert_error("ValidationException", self.sm.create_feature_group, **kw,
                          contains=("Provisioned", "InMemory"))
        # ResourceNotFound.
        self.assert_error("ResourceNotFound", self.sm.describe_feature_group,
                          FeatureGroupName="ghost",
                          contains=("Resource Not Found: Amazon SageMaker can't find a "
                                    "FeatureGroup with name ghost",))
        self.assert_error("ResourceNotFound", self.sm.delete_feature_group,
                          FeatureGroupName="ghost", contains=("ghost",))
        # ResourceInUse.
        self.create("dup-name")
        self.assert_error("ResourceInUse", self.sm.create_feature_group,
                          **create_kwargs("dup-name"),
                          contains=("Resource Already Exists: FeatureGroup with name dup-name "
                                    "already exists. Choose a different name.",))
        # ResourceLimitExceeded: provisioned capacity beyond the per-group quota.
        self.assert_error("ResourceLimitExceeded", self.sm.update_feature_group,
                          FeatureGroupName="dup-name",
                          ThroughputConfig={"ThroughputMode": "Provisioned",
                                            "ProvisionedReadCapacityUnits": 50000,
                                            "ProvisionedWriteCapacityUnits": 5},
                          contains=("50000",))
        # Delete takes a name only.
        self.assert_error("ValidationException", self.sm.delete_feature_group,
                          FeatureGroupName=arn_of("dup-name"), contains=("featureGroupName",))

    def test_create_options_round_trip(self):
        name = "Full-Options"
        self.create(
            name,
            FeatureDefinitions=[
                {"FeatureName": "customer_id", "FeatureType": "Integral"},
                {"FeatureName": "event_time", "FeatureType": "Fractional"},
                {"FeatureName": "tags", "FeatureType": "String", "CollectionType": "Set"},
                {"FeatureName": "emb", "FeatureType": "Fractional", "CollectionType": "Vector",
                 "CollectionConfig": {"VectorConfig": {"Dimension": 4}}},
            ],
            OnlineStoreConfig={"EnableOnlineStore": True, "StorageType": "InMemory",
                               "TtlDuration": {"Unit": "Hours", "Value": 12},
                               "SecurityConfig": {"KmsKeyId": "key-1"}},
            OfflineStoreConfig={"S3StorageConfig": {"S3Uri": "s3://b/p"},
                                "DataCatalogConfig": {"TableName": "t", "Catalog": "c",
                                                      "Database": "d"},
                                "DisableGlueTableCreation": True, "TableFormat": "Glue"},
            Tags=[{"Key": "team", "Value": "ml"}])
        d = self.sm.describe_feature_group(FeatureGroupName=name)
        self.assertEqual(d["FeatureGroupArn"], arn_of(name))
        self.assertEqual(d["FeatureDefinitions"][3],
                         {"FeatureName": "emb", "FeatureType": "Fractional",
                          "CollectionType": "Vector",
                          "CollectionConfig": {"VectorConfig": {"Dimension": 4}}})
        self.assertEqual(d["OnlineStoreConfig"],
                         {"EnableOnlineStore": True, "StorageType": "InMemory",
                          "TtlDuration": {"Unit": "Hours", "Value": 12},
                          "SecurityConfig": {"KmsKeyId": "key-1"}})
        self.assertEqual(d["OfflineStoreConfig"]["DataCatalogConfig"],
                         {"TableName": "t", "Catalog": "c", "Database": "d"})
        self.assertEqual(d["OfflineStoreConfig"]["TableFormat"], "Glue")
        self.assertTrue(d["OfflineStoreConfig"]["DisableGlueTableCreation"])
        tags = self.sm.list_tags(ResourceArn=arn_of(name))["Tags"]
        self.assertEqual(tags, [{"Key": "team", "Value": "ml"}])

    def test_update_feature_group(self):
        name = "updatable"
        self.create(name)
        before = self.sm.describe_feature_group(FeatureGroupName=name)
        out = self.sm.update_feature_group(
            FeatureGroupName=name,
            FeatureAdditions=[{"FeatureName": "segment", "FeatureType": "String"}])
        self.assertEqual(out["FeatureGroupArn"], arn_of(name))
        d = self.sm.describe_feature_group(FeatureGroupName=name)
        self.assertEqual(d["FeatureDefinitions"][-1],
                         {"FeatureName": "segment", "FeatureType": "String"})
        self.assertEqual(d["LastUpdateStatus"], {"Status": "Successful"})
        self.assertGreaterEqual(d["LastModifiedTime"], before["CreationTime"])

        self.sm.update_feature_group(FeatureGroupName=arn_of(name),
                                     OnlineStoreConfig={"TtlDuration": {"Unit": "Days", "Value": 7}})
        d = self.sm.describe_feature_group(FeatureGroupName=name)
        self.assertEqual(d["OnlineStoreConfig"]["TtlDuration"], {"Unit": "Days", "Value": 7})
        self.sm.update_feature_group(FeatureGroupName=name, OnlineStoreConfig={"TtlDuration": {}})
        d = self.sm.describe_feature_group(FeatureGroupName=name)
        self.assertNotIn("TtlDuration", d["OnlineStoreConfig"])

        self.sm.update_feature_group(FeatureGroupName=name,
                                     ThroughputConfig={"ThroughputMode": "Provisioned",
                                                       "ProvisionedReadCapacityUnits": 5,
                                                       "ProvisionedWriteCapacityUnits": 10})
        d = self.sm.describe_feature_group(FeatureGroupName=name)
        self.assertEqual(d["ThroughputConfig"], {"ThroughputMode": "Provisioned",
                                                 "ProvisionedReadCapacityUnits": 5,
                                                 "ProvisionedWriteCapacityUnits": 10})

        self.assert_error("ValidationException", self.sm.update_feature_group,
                          FeatureGroupName=name,
                          FeatureAdditions=[{"FeatureName": "loyalty_score",
                                             "FeatureType": "String"}],
                          contains=("'loyalty_score'",))
        self.assert_error("ValidationException", self.sm.update_feature_group,
                          FeatureGroupName=name,
                          FeatureAdditions=[{"FeatureName": "x", "FeatureType": "String"}],
                          OnlineStoreConfig={"TtlDuration": {}},
                          contains=("one kind of change",))
        self.assert_error("ValidationException", self.sm.update_feature_group,
                          FeatureGroupName=name,
                          OnlineStoreConfig={"TtlDuration": {"Value": 3}},
                          contains=("Value 3",))
        too_many = [{"FeatureName": f"n{i}", "FeatureType": "String"} for i in range(101)]
        self.assert_error("ValidationException", self.sm.update_feature_group,
                          FeatureGroupName=name, FeatureAdditions=too_many,
                          contains=("featureAdditions", "100"))
        self.assert_error("ResourceNotFound", self.sm.update_feature_group,
                          FeatureGroupName="ghost",
                          FeatureAdditions=[{"FeatureName": "x", "FeatureType": "String"}])

    def test_feature_metadata(self):
        name = "meta-group"
        self.create(name)
        m = self.sm.describe_feature_metadata(FeatureGroupName=name, FeatureName="loyalty_score")
        self.assertEqual(m["FeatureType"], "Fractional")
        self.assertEqual(m["FeatureGroupArn"], arn_of(name))
        created_lmt = m["LastModifiedTime"]
        time.sleep(0.01)  # so the bumped LastModifiedTime is visibly later, not synchronization
        # What the SDK's update_feature_metadata sends: empty lists included.
        self.sm.update_feature_metadata(
            FeatureGroupName=name, FeatureName="loyalty_score", Description="0..1 loyalty",
            ParameterAdditions=[{"Key": "owner", "Value": "crm"}], ParameterRemovals=[])
        m = self.sm.describe_feature_metadata(FeatureGroupName=name, FeatureName="loyalty_score")
        self.assertEqual(m["Description"], "0..1 loyalty")
        self.assertEqual(m["Parameters"], [{"Key": "owner", "Value": "crm"}])
        self.assertGreater(m["LastModifiedTime"], created_lmt)
        self.sm.update_feature_metadata(FeatureGroupName=name, FeatureName="loyalty_score",
                                        ParameterAdditions=[], ParameterRemovals=["owner"])
        m = self.sm.describe_feature_metadata(FeatureGroupName=name, FeatureName="loyalty_score")
        self.assertNotIn("Parameters", m)
        self.assert_error("ResourceNotFound", self.sm.describe_feature_metadata,
                          FeatureGroupName=name, FeatureName="nope", contains=("nope",))
        self.assert_error("ResourceNotFound", self.sm.update_feature_metadata,
                          FeatureGroupName="ghost", FeatureName="x", contains=("ghost",))

    def test_tags(self):
        name = "tagged"
        self.create(name, Tags=[{"Key": "team", "Value": "ml"}])
        arn = arn_of(name)
        out = self.sm.add_tags(ResourceArn=arn, Tags=[{"Key": "env", "Value": "dev"},
                                                      {"Key": "team", "Value": "growth"}])
        self.assertEqual(len(out["Tags"]), 2)
        tags = self.sm.list_tags(ResourceArn=arn)
        self.assertEqual(tags["Tags"], [{"Key": "team", "Value": "growth"},
                                        {"Key": "env", "Value": "dev"}])
        self.assertNotIn("NextToken", tags)
        pages = list(self.sm.get_paginator("list_tags").paginate(ResourceArn=arn))
        self.assertEqual(len(pages), 1)
        self.sm.delete_tags(ResourceArn=arn, TagKeys=["team"])
        self.assertEqual(self.sm.list_tags(ResourceArn=arn)["Tags"],
                         [{"Key": "env", "Value": "dev"}])
        self.assert_error("ResourceNotFound", self.sm.list_tags,
                          ResourceArn=arn_of("never-existed"))
        self.assert_error("ValidationException", self.sm.add_tags, ResourceArn=arn,
                          Tags=[{"Key": "aws:reserved", "Value": "x"}],
                          contains=("'aws:reserved'",))

    def test_list_filters_and_paginator(self):
        prefix = "pagelist"
        names = [f"{prefix}-{i}" for i in range(7)]
        for n in names:
            self.create(n)
        paginator = self.sm.get_paginator("list_feature_groups")
        got, pages = [], 0
        for page in paginator.paginate(NameContains=prefix, SortBy="Name", SortOrder="Ascending",
                                       PaginationConfig={"PageSize": 3}):
            pages += 1
            got += [s["FeatureGroupName"] for s in page["FeatureGroupSummaries"]]
        self.assertEqual(got, names)
        self.assertEqual(pages, 3)

        newest_first = [s["FeatureGroupName"] for s in self.sm.list_feature_groups(
            NameContains=prefix.upper(), MaxResults=100)["FeatureGroupSummaries"]]
        self.assertEqual(newest_first, names[::-1])  # default CreationTime Descending

        # botocore sends these timestamps as whole epoch seconds (it truncates the fraction).
        first = self.sm.describe_feature_group(FeatureGroupName=names[0])["CreationTime"]
        last = self.sm.describe_feature_group(FeatureGroupName=names[-1])["CreationTime"]
        second = datetime.timedelta(seconds=1)

        def created_between(**kw):
            return [s["FeatureGroupName"] for s in self.sm.list_feature_groups(
                NameContains=prefix, SortOrder="Ascending", MaxResults=100,
                **kw)["FeatureGroupSummaries"]]
        self.assertEqual(created_between(CreationTimeAfter=first - second,
                                         CreationTimeBefore=last + second), names)
        self.assertEqual(created_between(CreationTimeAfter=last + second), [])
        self.assertEqual(created_between(CreationTimeBefore=first - second), [])
        self.assertEqual(len(self.sm.list_feature_groups(
            NameContains=prefix, FeatureGroupStatusEquals="Created",
            OfflineStoreStatusEquals="Active", MaxResults=100)["FeatureGroupSummaries"]), 7)
        self.assertEqual(self.sm.list_feature_groups(
            NameContains=prefix, FeatureGroupStatusEquals="Deleting")["FeatureGroupSummaries"], [])
        self.assert_error("ValidationException", self.sm.list_feature_groups, MaxResults=101,
                          contains=("Value '101' at 'maxResults'",))
        self.assert_error("ValidationException", self.sm.list_feature_groups,
                          NextToken="not-a-token", contains=("'not-a-token'",))

    def test_search(self):
        self.create("search-alpha", Tags=[{"Key": "team", "Value": "ml"}])
        self.create("search-beta")
        res = self.sm.search(Resource="FeatureGroup", SearchExpression={
            "Filters": [{"Name": "FeatureGroupName", "Operator": "Contains", "Value": "search-"},
                        {"Name": "Tags.team", "Operator": "Equals", "Value": "ml"}]})
        self.assertEqual([r["FeatureGroup"]["FeatureGroupName"] for r in res["Results"]],
                         ["search-alpha"])
        fg = res["Results"][0]["FeatureGroup"]
        self.assertEqual(fg["Tags"], [{"Key": "team", "Value": "ml"}])
        self.assertEqual(fg["FeatureGroupStatus"], "Created")
        self.assertEqual(res["TotalHits"], {"Value": 1, "Relation": "EqualTo"})

        # name contains "search-" AND (name = search-beta OR has tag team OR has a feature
        # called no-such-feature)
        res = self.sm.search(Resource="FeatureGroup", SortBy="FeatureGroupName",
                             SortOrder="Ascending", SearchExpression={
            "Filters": [{"Name": "FeatureGroupName", "Operator": "Contains", "Value": "search-"}],
            "SubExpressions": [{
                "Operator": "Or",
                "Filters": [{"Name": "FeatureGroupName", "Value": "search-beta"}],
                "SubExpressions": [{"Filters": [{"Name": "Tags.team", "Operator": "Exists"}]}],
                "NestedFilters": [{"NestedPropertyName": "FeatureDefinitions", "Filters": [
                    {"Name": "FeatureDefinitions.FeatureName", "Operator": "Equals",
                     "Value": "no-such-feature"}]}]}]})
        self.assertEqual([r["FeatureGroup"]["FeatureGroupName"] for r in res["Results"]],
                         ["search-alpha", "search-beta"])

        res = self.sm.search(Resource="FeatureMetadata", SearchExpression={
            "Filters": [{"Name": "FeatureGroupName", "Operator": "Equals", "Value": "search-beta"},
                        {"Name": "FeatureType", "Operator": "Equals", "Value": "String"}]},
            SortBy="FeatureName", SortOrder="Ascending")
        self.assertEqual([r["FeatureMetadata"]["FeatureName"] for r in res["Results"]],
                         ["customer_id", "event_time", "preferred_category"])

        paginator = self.sm.get_paginator("search")
        seen = []
        for page in paginator.paginate(
                Resource="FeatureMetadata",
                SearchExpression={"Filters": [{"Name": "FeatureGroupName", "Operator": "In",
                                               "Value": "search-alpha,search-beta"}]},
                PaginationConfig={"PageSize": 4}):
            self.assertEqual(page["TotalHits"]["Value"], 20)
            seen += [(r["FeatureMetadata"]["FeatureGroupName"], r["FeatureMetadata"]["FeatureName"])
                     for r in page["Results"]]
        self.assertEqual(len(seen), 20)
        self.assertEqual(len(set(seen)), 20)

        self.assert_error("ValidationException", self.sm.search, Resource="FeatureGroup",
                          SearchExpression={"Filters": [{"Name": "CreationTime",
                                                         "Operator": "GreaterThan",
                                                         "Value": "tomorrow"}]},
                          contains=("'tomorrow'",))
        self.assert_error("ValidationException", self.sm.search, Resource="Experiment",
                          contains=("Value 'Experiment' at 'resource'",))

    def test_delete_lifecycle(self):
        self.create("short-lived")
        self.sm.delete_feature_group(FeatureGroupName="short-lived")
        self.wait_gone("short-lived")
        self.assertNotIn("short-lived", [s["FeatureGroupName"] for s in self.sm.list_feature_groups(
            NameContains="short-lived")["FeatureGroupSummaries"]])
        # The name is free again.
        self.create("short-lived")


class AwsCliTest(ControlPlaneCase):
    def test_cli_create_describe_list_search_delete(self):
        import json
        name = "cli-group"
        out = self.srv.aws(
            "sagemaker", "create-feature-group", "--feature-group-name", name,
            "--record-identifier-feature-name", "customer_id",
            "--event-time-feature-name", "event_time",
            "--feature-definitions", json.dumps(WALKTHROUGH_FEATURES),
            "--online-store-config", '{"EnableOnlineStore": true}',
            "--role-arn", ROLE)
        self.assertEqual(out["FeatureGroupArn"], arn_of(name))
        self.wait_status(name)
        d = self.srv.aws("sagemaker", "describe-feature-group", "--feature-group-name", name)
        self.assertEqual(d["FeatureGroupStatus"], "Created")
        self.assertEqual(len(d["FeatureDefinitions"]), len(WALKTHROUGH_FEATURES))
        listed = self.srv.aws("sagemaker", "list-feature-groups", "--sort-by", "CreationTime",
                              "--sort-order", "Descending")
        self.assertIn(name, [s["FeatureGroupName"] for s in listed["FeatureGroupSummaries"]])
        found = self.srv.aws("sagemaker", "search", "--resource", "FeatureGroup",
                             "--search-expression",
                             json.dumps({"Filters": [{"Name": "FeatureGroupName",
                                                      "Operator": "Equals", "Value": name}]}))
        self.assertEqual([r["FeatureGroup"]["FeatureGroupName"] for r in found["Results"]], [name])
        self.srv.aws("sagemaker", "delete-feature-group", "--feature-group-name", name)
        self.wait_gone(name)
        p = self.srv.aws("sagemaker", "describe-feature-group", "--feature-group-name", name,
                         check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("ResourceNotFound", p.stderr)
        self.assertIn(name, p.stderr)


class DurabilityTest(unittest.TestCase):
    def setUp(self):
        self.srv = LarderServer()
        self.srv.start()

    def tearDown(self):
        self.srv.close()

    def test_restart_keeps_groups(self):
        sm = self.srv.client("sagemaker")
        sm.create_feature_group(**create_kwargs("durable", Tags=[{"Key": "k", "Value": "v"}]))
        sm.create_feature_group(**create_kwargs("doomed"))
        deadline = time.monotonic() + DEADLINE_S
        while sm.describe_feature_group(FeatureGroupName="doomed")["FeatureGroupStatus"] != "Created":
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.01)
        sm.delete_feature_group(FeatureGroupName="doomed")
        before = sm.describe_feature_group(FeatureGroupName="durable")
        self.srv.restart()
        sm = self.srv.client("sagemaker")
        after = sm.describe_feature_group(FeatureGroupName="durable")
        for key in ("FeatureGroupArn", "CreationTime", "FeatureDefinitions", "OfflineStoreConfig"):
            self.assertEqual(after[key], before[key])
        self.assertIn(after["FeatureGroupStatus"], ("Creating", "Created"))
        self.assertEqual(sm.list_tags(ResourceArn=arn_of("durable"))["Tags"],
                         [{"Key": "k", "Value": "v"}])
        # The delete acknowledged before the restart completes (now or right after start-up).
        deadline = time.monotonic() + DEADLINE_S
        while True:
            try:
                sm.describe_feature_group(FeatureGroupName="doomed")
            except ClientError as e:
                self.assertEqual(e.response["Error"]["Code"], "ResourceNotFound")
                break
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.01)

    def test_kill9_right_after_acknowledged_create(self):
        sm = self.srv.client("sagemaker")
        resp = sm.create_feature_group(**create_kwargs("acked"))
        self.assertEqual(resp["FeatureGroupArn"], arn_of("acked"))
        self.srv.kill9()
        self.srv.start()
        sm = self.srv.client("sagemaker")
        deadline = time.monotonic() + DEADLINE_S
        while True:
            d = sm.describe_feature_group(FeatureGroupName="acked")
            if d["FeatureGroupStatus"] == "Created":
                break
            self.assertEqual(d["FeatureGroupStatus"], "Creating")
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.01)
        self.assertEqual(len(d["FeatureDefinitions"]), len(WALKTHROUGH_FEATURES))
        # A new group after the crash gets a fresh name slot and works.
        sm.create_feature_group(**create_kwargs("after-crash"))
        names = [s["FeatureGroupName"] for s in sm.list_feature_groups()["FeatureGroupSummaries"]]
        self.assertEqual(sorted(names), ["acked", "after-crash"])


if __name__ == "__main__":
    unittest.main()
