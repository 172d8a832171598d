#!/usr/bin/env python3
""""How to Use SageMaker Feature Store" (the user walkthrough), run against Larder with boto3.

Every step of the walkthrough, in order, with only the endpoint and the keys changed: they come
from the environment, exactly as boto3 and the SageMaker SDK read them:

    export AWS_ENDPOINT_URL=http://127.0.0.1:8080      # what `larder serve` printed
    export AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... AWS_DEFAULT_REGION=us-east-1
    python3 examples/walkthrough.py [--name customer-features] [--summary out.json]

The SageMaker Python SDK is not installable here (no PyPI), so each SDK call is replaced by the
boto3 calls the SDK v2 makes for it (spec section 5), noted step by step:
  * FeatureGroup.load_feature_definitions(sample_df): the walkthrough's sample_df gives
    customer_id, event_time and preferred_category String (object dtype) and the seven floats
    Fractional (float64); written out below as FeatureDefinitions.
  * FeatureGroup.create(...): CreateFeatureGroup with OnlineStoreConfig {EnableOnlineStore} and
    OfflineStoreConfig {S3StorageConfig {S3Uri}, DisableGlueTableCreation false}.
  * FeatureGroup.put_record(Record=...): the walkthrough passes `Record=`; the SDK's parameter is
    `record`, which it forwards as PutRecord(FeatureGroupName, Record). We call PutRecord.
  * FeatureGroup.ingest(batch_df, max_workers=4): one PutRecord per row with every non-null
    column as ValueAsString=str(value), rows split into 4 contiguous slices, each thread with its
    own client made like the SDK makes it: boto3.Session().client(
    "sagemaker-featurestore-runtime") with standard retries (10 attempts), which reads the
    endpoint from AWS_ENDPOINT_URL.
  * athena_query().run/wait/as_dataframe: StartQueryExecution (catalog AwsDataCatalog, the
    group's DataCatalogConfig database and table), GetQueryExecution until SUCCEEDED, and the rows.
    as_dataframe() downloads <output>/<id>.csv from S3; Larder has no S3 API, so the rows are
    read with GetQueryResults (the same rows, paged).
  * The batch DataFrame is built without pandas/numpy (not installed next to boto3 here): the
    same columns, value ranges and rounding from Python's seeded `random`; str() of a Python
    float prints what str() of a numpy float64 prints.

The point-in-time query in the walkthrough is only a string over an undefined `labels_table`.
Here it runs, with labels_table given as a VALUES list and the String event time (Unix seconds,
as the walkthrough writes it) compared through from_unixtime(CAST(event_time AS double)), the
cast the SDK's DatasetBuilder uses for such event times.

The script checks what each step returns and exits non-zero at the first surprise.
"""
import argparse
import concurrent.futures
import json
import os
import random
import sys
import time

import boto3
from botocore.config import Config

ROLE = "arn:aws:iam::123456789012:role/larder-walkthrough"  # sagemaker.get_execution_role()
BUCKET = "larder-walkthrough"                                # session.default_bucket()
N_CUSTOMERS = 1000


def check(cond, what):
    if not cond:
        raise SystemExit(f"walkthrough: check failed: {what}")


def sdk_client(service):
    """A client as the SDK makes one: from the environment, standard retries."""
    return boto3.Session().client(
        service, config=Config(retries={"max_attempts": 10, "mode": "standard"}))


# ---- Creating a Feature Group ----
def create_feature_group(sm, name):
    now = str(int(time.time()))
    sample = {  # the walkthrough's sample_df, one row
        "customer_id": "C001", "event_time": now, "total_purchases": 150.0,
        "avg_order_value": 45.50, "days_since_last_purchase": 7.0, "total_orders": 12.0,
        "return_rate": 0.05, "preferred_category": "electronics", "account_age_days": 365.0,
        "loyalty_score": 0.85,
    }
    # load_feature_definitions: object -> String, float64 -> Fractional.
    definitions = [{"FeatureName": k,
                    "FeatureType": "String" if isinstance(v, str) else "Fractional"}
                   for k, v in sample.items()]
    sm.create_feature_group(
        FeatureGroupName=name,
        RecordIdentifierFeatureName="customer_id",
        EventTimeFeatureName="event_time",
        FeatureDefinitions=definitions,
        OnlineStoreConfig={"EnableOnlineStore": True},
        OfflineStoreConfig={"S3StorageConfig": {"S3Uri": f"s3://{BUCKET}/feature-store/"},
                            "DisableGlueTableCreation": False},
        RoleArn=ROLE,
        Description="Customer behavioral features for recommendation models")
    status = sm.describe_feature_group(FeatureGroupName=name).get("FeatureGroupStatus")
    while status == "Creating":
        print(f"Status: {status}...")
        time.sleep(0.2)  # the walkthrough sleeps 5 s; Larder creates in milliseconds
        status = sm.describe_feature_group(FeatureGroupName=name).get("FeatureGroupStatus")
    print(f"Feature group status: {status}")
    check(status == "Created", f"status {status}")
    return definitions


# ---- Ingesting Features ----
def put_single_record(rt, name):
    record = {
        "customer_id": "C001", "event_time": str(int(time.time())), "total_purchases": 1250.75,
        "avg_order_value": 52.30, "days_since_last_purchase": 3.0, "total_orders": 24.0,
        "return_rate": 0.04, "preferred_category": "electronics", "account_age_days": 730.0,
        "loyalty_score": 0.92,
    }
    rt.put_record(FeatureGroupName=name,
                  Record=[{"FeatureName": k, "ValueAsString": str(v)} for k, v in record.items()])
    print(f"Ingested record for customer {record['customer_id']}")
    return record


def batch_rows(seed=7):
    rnd = random.Random(seed)
    now = str(int(time.time()))
    rows = []
    for i in range(1, N_CUSTOMERS + 1):
        rows.append({
            "customer_id": f"C{str(i).zfill(4)}",
            "event_time": now,
            "total_purchases": round(rnd.uniform(10, 5000), 2),
            "avg_order_value": round(rnd.uniform(10, 200), 2),
            "days_since_last_purchase": float(rnd.randrange(0, 365)),
            "total_orders": float(rnd.randrange(1, 100)),
            "return_rate": round(rnd.uniform(0, 0.3), 3),
            "preferred_category": rnd.choice(["electronics", "clothing", "books", "home", "sports"]),
            "account_age_days": float(rnd.randrange(30, 2000)),
            "loyalty_score": round(rnd.uniform(0, 1), 3),
        })
    return rows


def ingest(name, rows, max_workers=4):
    """FeatureGroup.ingest(data_frame, max_workers=4, wait=True): contiguous slices, one thread
    and one client per slice, one PutRecord per row. Returns the failed row indexes."""
    size = (len(rows) + max_workers - 1) // max_workers
    slices = [(s, min(s + size, len(rows))) for s in range(0, len(rows), size)]

    def ingest_slice(bounds):
        client = sdk_client("sagemaker-featurestore-runtime")
        failed = []
        for index in range(*bounds):
            row = rows[index]
            record = [{"FeatureName": k, "ValueAsString": str(v)}
                      for k, v in row.items() if v is not None]
            try:
                client.put_record(FeatureGroupName=name, Record=record)
            except Exception as e:  # the SDK logs and collects the index
                print(f"Failed to ingest row {index}: {e}", file=sys.stderr)
                failed.append(index)
        return failed

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=max_workers) as pool:
        failed = [i for f in pool.map(ingest_slice, slices) for i in f]
    elapsed = time.perf_counter() - start
    return failed, elapsed


# ---- Reading Features from the Online Store ----
def read_online(rt, name, batch):
    response = rt.get_record(FeatureGroupName=name, RecordIdentifierValueAsString="C0042")
    features = {item["FeatureName"]: item["ValueAsString"] for item in response["Record"]}
    print("Customer C0042 features:")
    for k, v in features.items():
        print(f"  {k}: {v}")
    want = {k: str(v) for k, v in batch[41].items()}
    check(features == want, f"C0042 online {features} != ingested {want}")

    response = rt.batch_get_record(Identifiers=[{
        "FeatureGroupName": name,
        "RecordIdentifiersValueAsString": ["C0001", "C0042", "C0100"]}])
    seen = {}
    for record in response["Records"]:
        features = {item["FeatureName"]: item["ValueAsString"] for item in record["Record"]}
        print(f"Customer {features['customer_id']}: loyalty_score={features['loyalty_score']}")
        seen[features["customer_id"]] = features["loyalty_score"]
    check(sorted(seen) == ["C0001", "C0042", "C0100"], f"batch_get_record returned {sorted(seen)}")
    check(seen["C0100"] == str(batch[99]["loyalty_score"]), "C0100 loyalty_score")
    return seen


# ---- Querying the Offline Store for Training ----
class AthenaQuery:
    """What FeatureGroup.athena_query() returns, on boto3's Athena client."""

    def __init__(self, athena, describe):
        catalog_config = describe["OfflineStoreConfig"]["DataCatalogConfig"]
        self.athena = athena
        self.catalog = "AwsDataCatalog"  # the SDK always uses this catalog
        self.database = catalog_config["Database"]
        self.table_name = catalog_config["TableName"]
        self.id = None

    def run(self, query_string, output_location):
        self.id = self.athena.start_query_execution(
            QueryString=query_string,
            QueryExecutionContext={"Catalog": self.catalog, "Database": self.database},
            ResultConfiguration={"OutputLocation": output_location})["QueryExecutionId"]
        return self.id

    def wait(self):
        while True:
            e = self.athena.get_query_execution(QueryExecutionId=self.id)["QueryExecution"]
            state = e["Status"]["State"]
            if state in ("SUCCEEDED", "FAILED", "CANCELLED"):
                check(state == "SUCCEEDED",
                      f"query {self.id} {state}: {e['Status'].get('StateChangeReason')}")
                return
            time.sleep(0.1)

    def rows(self):
        """(columns, rows) like as_dataframe(): every page of GetQueryResults."""
        paginator = self.athena.get_paginator("get_query_results")
        columns, rows = None, []
        for page in paginator.paginate(QueryExecutionId=self.id):
            data = page["ResultSet"]["Rows"]
            if columns is None:
                columns = [c["Name"] for c in page["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]]
                data = data[1:]  # the header row
            rows += [[cell.get("VarCharValue") for cell in r["Data"]] for r in data]
        return columns, rows


def training_query(athena, describe):
    query = AthenaQuery(athena, describe)
    table_name = query.table_name
    print(f"Athena table: {table_name}")
    query_string = f"""
SELECT customer_id,
       total_purchases,
       avg_order_value,
       days_since_last_purchase,
       total_orders,
       return_rate,
       account_age_days,
       loyalty_score
FROM "{table_name}"
WHERE loyalty_score IS NOT NULL
"""
    query.run(query_string=query_string, output_location=f"s3://{BUCKET}/query-results/")
    query.wait()
    columns, rows = query.rows()
    print(f"Training dataset: {len(rows)} rows, {len(columns)} columns")
    return query, columns, rows


def point_in_time_query(query, label_time):
    """The walkthrough's point-in-time join, with labels_table given inline."""
    table_name = query.table_name
    labels = (f"('C0042', 1, from_unixtime({label_time})), "
              f"('C0001', 0, from_unixtime({label_time})), "
              f"('C0100', 1, from_unixtime({label_time - 3 * 86400}))")
    sql = f"""
WITH labels_table AS (
    SELECT * FROM (VALUES {labels}) AS t(customer_id, purchased, event_timestamp)
)
SELECT labels.customer_id,
       labels.purchased,
       labels.event_timestamp,
       features.total_purchases,
       features.avg_order_value,
       features.days_since_last_purchase,
       features.loyalty_score
FROM labels_table AS labels
LEFT JOIN "{table_name}" AS features
    ON labels.customer_id = features.customer_id
    AND from_unixtime(CAST(features.event_time AS double)) <= labels.event_timestamp
    AND from_unixtime(CAST(features.event_time AS double)) >= labels.event_timestamp - INTERVAL '24' HOUR
ORDER BY labels.event_timestamp DESC, labels.customer_id, features.total_purchases
"""
    query.run(query_string=sql, output_location=f"s3://{BUCKET}/query-results/")
    query.wait()
    return query.rows()


# ---- Updating Feature Values ----
def update(rt, name):
    updated_record = {
        "customer_id": "C0042", "event_time": str(int(time.time())), "total_purchases": 1500.00,
        "avg_order_value": 55.00, "days_since_last_purchase": 1.0, "total_orders": 28.0,
        "return_rate": 0.035, "preferred_category": "electronics", "account_age_days": 740.0,
        "loyalty_score": 0.95,
    }
    rt.put_record(FeatureGroupName=name, Record=[{"FeatureName": k, "ValueAsString": str(v)}
                                                  for k, v in updated_record.items()])
    return updated_record


# ---- Feature Group Discovery ----
def discovery(sm, name):
    response = sm.list_feature_groups(SortBy="CreationTime", SortOrder="Descending")
    for fg in response["FeatureGroupSummaries"]:
        print(f"{fg['FeatureGroupName']}: {fg['FeatureGroupStatus']}")
    details = sm.describe_feature_group(FeatureGroupName=name)
    print(f"\nFeature definitions for {details['FeatureGroupName']}:")
    for feature in details["FeatureDefinitions"]:
        print(f"  {feature['FeatureName']}: {feature['FeatureType']}")
    return response, details


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--name", default="customer-features", help="feature group name")
    p.add_argument("--summary", help="write what each step returned as JSON here")
    args = p.parse_args()
    for var in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        if not os.environ.get(var):
            raise SystemExit(f"walkthrough: set {var} (see `larder serve`'s startup lines)")
    name = args.name
    sm = sdk_client("sagemaker")
    rt = sdk_client("sagemaker-featurestore-runtime")
    athena = sdk_client("athena")
    summary = {"feature_group": name}

    definitions = create_feature_group(sm, name)
    summary["feature_definitions"] = definitions

    put_single_record(rt, name)
    got = rt.get_record(FeatureGroupName=name, RecordIdentifierValueAsString="C001")["Record"]
    check({f["FeatureName"]: f["ValueAsString"] for f in got}["total_purchases"] == "1250.75",
          "C001 after put_record")

    batch = batch_rows()
    failed, elapsed = ingest(name, batch, max_workers=4)
    print(f"Ingested {N_CUSTOMERS} customer records")
    check(not failed, f"failed rows: {failed[:10]}")
    summary["batch"] = {"rows": len(batch), "failed": len(failed), "seconds": elapsed,
                        "puts_per_second": len(batch) / elapsed}

    summary["batch_get"] = read_online(rt, name, batch)
    summary["online_C0042"] = {k: str(v) for k, v in batch[41].items()}

    describe = sm.describe_feature_group(FeatureGroupName=name)
    query, columns, rows = training_query(athena, describe)
    check(len(columns) == 8, f"training columns {columns}")
    check(len(rows) == N_CUSTOMERS + 1, f"training rows {len(rows)}: C001 + the batch")
    summary["training"] = {"table": query.table_name, "rows": len(rows), "columns": columns}

    updated = update(rt, name)
    got = rt.get_record(FeatureGroupName=name, RecordIdentifierValueAsString="C0042")["Record"]
    online = {f["FeatureName"]: f["ValueAsString"] for f in got}
    print(f"C0042 after the update: loyalty_score={online['loyalty_score']}")
    check(online["loyalty_score"] == "0.95" and online["total_purchases"] == "1500.0",
          f"online C0042 after update: {online}")
    summary["online_C0042_updated"] = online

    # The offline store keeps both the old and the new values.
    query.run(query_string=f"SELECT total_purchases FROM \"{query.table_name}\" "
                           f"WHERE customer_id = 'C0042' ORDER BY total_purchases",
              output_location=f"s3://{BUCKET}/query-results/")
    query.wait()
    _, history = query.rows()
    print(f"C0042 offline history: {history}")
    check(len(history) == 2 and "1500.0" in [h[0] for h in history], f"offline history {history}")
    summary["offline_C0042_versions"] = len(history)

    label_time = int(time.time()) + 3600
    pit_columns, pit_rows = point_in_time_query(query, label_time)
    for r in pit_rows:
        print("  " + ", ".join("" if v is None else v for v in r))
    by_customer = {}
    for r in pit_rows:
        by_customer.setdefault(r[0], []).append(r)
    check(len(by_customer.get("C0042", [])) == 2, "C0042 joins its two versions")
    check(len(by_customer.get("C0001", [])) == 1, "C0001 joins its batch row")
    check([r[3] for r in by_customer.get("C0100", [])] == [None],
          "C0100's label predates its features: no match in the 24 h window")
    summary["point_in_time"] = {"columns": pit_columns, "rows": len(pit_rows)}

    listing, details = discovery(sm, name)
    names = [fg["FeatureGroupName"] for fg in listing["FeatureGroupSummaries"]]
    check(name in names, f"{name} not listed in {names}")
    times = [fg["CreationTime"] for fg in listing["FeatureGroupSummaries"]]
    check(times == sorted(times, reverse=True), "list not sorted by CreationTime descending")
    types = {f["FeatureName"]: f["FeatureType"] for f in details["FeatureDefinitions"]}
    check(types["loyalty_score"] == "Fractional" and types["customer_id"] == "String",
          f"describe types {types}")
    summary["discovery"] = {"listed": names, "types": types}

    if args.summary:
        with open(args.summary, "w") as f:
            json.dump(summary, f, indent=2)
    print("walkthrough: every step checked")


if __name__ == "__main__":
    main()
