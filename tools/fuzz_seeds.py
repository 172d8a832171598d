#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<target>/ from real requests (the shapes boto3 and the
AWS CLI send, as in the e2e suites). Re-run after changing a target's input format:

    python3 tools/fuzz_seeds.py
"""
import json
import os
import shutil
import struct

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(REPO, "fuzz", "corpus")
GROUP = "fuzz-group"
CREATE = {
    "FeatureGroupName": "seed-group", "RecordIdentifierFeatureName": "customer_id",
    "EventTimeFeatureName": "event_time",
    "FeatureDefinitions": [{"FeatureName": "customer_id", "FeatureType": "String"},
                           {"FeatureName": "event_time", "FeatureType": "String"},
                           {"FeatureName": "loyalty_score", "FeatureType": "Fractional"},
                           {"FeatureName": "tags", "FeatureType": "String", "CollectionType": "List"}],
    "OnlineStoreConfig": {"EnableOnlineStore": True, "StorageType": "InMemory",
                          "TtlDuration": {"Unit": "Days", "Value": 30}},
    "RoleArn": "arn:aws:iam::123456789012:role/FeatureStoreRole",
    "Description": "Customer behavioral features", "Tags": [{"Key": "team", "Value": "ml"}],
}
RECORD = [{"FeatureName": "customer_id", "ValueAsString": "C0042"},
          {"FeatureName": "event_time", "ValueAsString": "2024-03-01T08:15:00.250Z"},
          {"FeatureName": "score", "ValueAsString": "0.92"},
          {"FeatureName": "visits", "ValueAsString": "12"}]

CONTROL_OPS = ["CreateFeatureGroup", "DescribeFeatureGroup", "UpdateFeatureGroup",
               "DeleteFeatureGroup", "ListFeatureGroups", "DescribeFeatureMetadata",
               "UpdateFeatureMetadata", "Search", "AddTags", "ListTags", "DeleteTags"]
ATHENA_OPS = ["StartQueryExecution", "GetQueryExecution", "GetQueryResults", "StopQueryExecution",
              "ListQueryExecutions", "BatchGetQueryExecution"]
ARN = f"arn:aws:sagemaker:us-east-1:123456789012:feature-group/{GROUP}"


def control_seeds():
    bodies = {
        "CreateFeatureGroup": CREATE,
        "DescribeFeatureGroup": {"FeatureGroupName": GROUP},
        "UpdateFeatureGroup": {"FeatureGroupName": GROUP, "FeatureAdditions": [
            {"FeatureName": "new_feature", "FeatureType": "Integral"}]},
        "DeleteFeatureGroup": {"FeatureGroupName": "seed-group"},
        "ListFeatureGroups": {"NameContains": "fuzz", "SortBy": "CreationTime",
                              "SortOrder": "Ascending", "MaxResults": 10,
                              "CreationTimeAfter": 1704067200},
        "DescribeFeatureMetadata": {"FeatureGroupName": GROUP, "FeatureName": "score"},
        "UpdateFeatureMetadata": {"FeatureGroupName": GROUP, "FeatureName": "score",
                                  "Description": "how good", "ParameterAdditions": [
                                      {"Key": "unit", "Value": "ratio"}]},
        "Search": {"Resource": "FeatureMetadata", "SearchExpression": {
            "Filters": [{"Name": "FeatureType", "Operator": "Equals", "Value": "Fractional"}],
            "SubExpressions": [{"Filters": [{"Name": "Parameters.unit", "Operator": "Exists"}]}],
            "Operator": "Or"}, "SortBy": "FeatureName", "MaxResults": 5},
        "AddTags": {"ResourceArn": ARN, "Tags": [{"Key": "k", "Value": "v"}]},
        "ListTags": {"ResourceArn": ARN, "MaxResults": 50},
        "DeleteTags": {"ResourceArn": ARN, "TagKeys": ["k"]},
    }
    for op, body in bodies.items():
        yield op, bytes([CONTROL_OPS.index(op)]) + json.dumps(body).encode()


def runtime_seeds():
    put = {"Record": RECORD, "TargetStores": ["OnlineStore", "OfflineStore"],
           "TtlDuration": {"Unit": "Hours", "Value": 5}}
    yield "put", b"\x00" + f"{GROUP}\n\n".encode() + json.dumps(put).encode()
    yield "get", b"\x01" + f"{GROUP}\nRecordIdentifierValueAsString=C0042&FeatureName=score" \
                           f"&ExpirationTimeResponse=Enabled\n".encode()
    yield "delete", b"\x02" + f"{GROUP}\nRecordIdentifierValueAsString=C0042&EventTime=" \
                              f"2024-03-02T00%3A00%3A00Z&DeletionMode=HardDelete\n".encode()
    yield "batch_get", b"\x03\n\n" + json.dumps({"Identifiers": [
        {"FeatureGroupName": GROUP, "RecordIdentifiersValueAsString": ["C0042", "C0001"],
         "FeatureNames": ["score"]}], "ExpirationTimeResponse": "Enabled"}).encode()
    yield "batch_write", b"\x04\n\n" + json.dumps({"Entries": [
        {"FeatureGroupName": GROUP, "Record": RECORD},
        {"FeatureGroupName": ARN, "Record": RECORD, "TargetStores": ["OnlineStore"]}],
        "TtlDuration": {"Unit": "Minutes", "Value": 10}}).encode()
    yield "list", b"\x05" + f"{GROUP}\n\n".encode() + json.dumps({"MaxResults": 10}).encode()
    yield "arn_label", b"\x00" + ARN.replace(":", "%3A").replace("/", "%2F").encode() + b"\n\n" + \
        json.dumps({"Record": RECORD}).encode()


def athena_seeds():
    start = {"QueryString": f'SELECT customer_id, avg(score) FROM "{GROUP}_1700000000" '
                            f"WHERE event_time > '2024' GROUP BY 1 ORDER BY 2 DESC LIMIT 5",
             "QueryExecutionContext": {"Database": "sagemaker_featurestore",
                                       "Catalog": "AwsDataCatalog"},
             "ResultConfiguration": {"OutputLocation": "s3://bucket/results/"},
             "ClientRequestToken": "token-0123456789-0123456789-0123456789"}
    yield "start", b"\x00" + json.dumps(start).encode()
    yield "start_plain", b"\x00" + json.dumps({"QueryString": "SELECT 1 AS x, 'a' AS y"}).encode()
    qid = {"QueryExecutionId": "1b1f9cbb-5c0c-4a9d-9f3f-4f0a1c2d3e4f"}
    yield "get", b"\x01" + json.dumps(qid).encode()
    yield "results", b"\x02" + json.dumps({**qid, "MaxResults": 100,
                                          "NextToken": "abc"}).encode()
    yield "stop", b"\x03" + json.dumps(qid).encode()
    yield "list", b"\x04" + json.dumps({"MaxResults": 5, "WorkGroup": "primary"}).encode()
    yield "batch", b"\x05" + json.dumps({"QueryExecutionIds": [qid["QueryExecutionId"], "x"]}).encode()


def http_seeds():
    def req(method, target, headers, body=b""):
        head = f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
        for k, v in headers.items():
            head += f"{k}: {v}\r\n"
        head += f"Content-Length: {len(body)}\r\n\r\n"
        return head.encode() + body

    json11 = "application/x-amz-json-1.1"
    body = json.dumps({"MaxResults": 10}).encode()
    yield "list_groups", b"\x01" + req("POST", "/", {"X-Amz-Target": "SageMaker.ListFeatureGroups",
                                                     "Content-Type": json11}, body)
    yield "put_record", b"\x01" + req("PUT", f"/FeatureGroup/{GROUP}",
                                      {"Content-Type": "application/json"},
                                      json.dumps({"Record": RECORD}).encode())
    yield "get_record", b"\x01" + req("GET", f"/FeatureGroup/{GROUP}?RecordIdentifierValueAsString="
                                             f"C0042&FeatureName=score", {})
    yield "athena", b"\x01" + req("POST", "/", {"X-Amz-Target": "AmazonAthena.StartQueryExecution",
                                                "Content-Type": json11},
                                  json.dumps({"QueryString": "SELECT 1"}).encode())
    yield "forged_auth", b"\x00" + req("POST", "/", {
        "X-Amz-Target": "SageMaker.DescribeFeatureGroup", "Content-Type": json11,
        "X-Amz-Date": "20240301T000000Z",
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIALARDERFUZZ000001/20240301/us-east-1/"
                         "sagemaker/aws4_request, SignedHeaders=content-type;host;x-amz-date;"
                         "x-amz-target, Signature=" + "ab" * 32},
        json.dumps({"FeatureGroupName": GROUP}).encode())
    chunked = (b"POST / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX-Amz-Target: SageMaker.ListTags\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n4\r\n{\"Re\r\n0\r\n\r\n")
    yield "chunked", b"\x01" + chunked
    yield "healthz", b"\x00" + req("GET", "/healthz", {})


def event_time_seeds():
    texts = [(0, "2024-03-01T08:15:00Z"), (0, "2024-03-01T08:15:00.123456789Z"),
             (0, "1700000000"), (0, "1700000000.25"), (0, "0000-01-01T00:00:00Z"),
             (0, "9999-12-31T23:59:59.999999999Z"), (1, "1700000000.123456"), (1, "1e9"),
             (1, "-1.5"), (2, "12"), (2, "1.0"), (2, "-9223372036854775808"), (0, "2024-02-29T12:00:00Z")]
    for i, (t, text) in enumerate(texts):
        yield f"t{i}", bytes([t]) + text.encode()


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def encode_record(event_time, values):
    """catalog::EncodeRecord: zigzag varint event time, varint count, then kind-tagged values."""
    out = varint(((event_time << 1) ^ (event_time >> 63)) & ((1 << 64) - 1))
    out += varint(len(values))
    for v in values:
        if v is None:
            out += b"\x00"
        elif isinstance(v, list):
            out += b"\x02" + varint(len(v)) + b"".join(varint(len(e)) + e.encode() for e in v)
        else:
            out += b"\x01" + varint(len(v)) + v.encode()
    return out


def record_seeds():
    yield "scalars", encode_record(1_709_280_900_250_000, ["C0042", "2024-03-01T08:15:00.250Z", "0.92", "12"])
    yield "nulls_and_list", encode_record(-5, ["id", None, ["a", "b", ""], None])
    yield "empty", encode_record(0, [])


def sigv4_seeds():
    auth = ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/us-east-1/sagemaker/aws4_request, "
            "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=" + "0" * 64)
    yield "post", (f"POST\n/\ncontent-type:application/x-amz-json-1.1\nhost:127.0.0.1:8080\n"
                   f"x-amz-date:20231114T221320Z\nx-amz-target:SageMaker.ListFeatureGroups\n"
                   f"authorization:{auth}\n\n{{}}").encode()
    yield "get", (b"GET\n/FeatureGroup/arn%3Aaws%3Asagemaker%3Aus-east-1%3A123456789012%3A"
                  b"feature-group%2Ffg?FeatureName=b&FeatureName=a&RecordIdentifierValueAsString="
                  b"a%20b\nhost:h:1\nx-amz-date:20231114T221320Z\n\n")
    yield "dots", b"DELETE\n/a/./b/../c//d?x&y=&z=1\nhost:h\nx-amz-content-sha256:UNSIGNED-PAYLOAD\n\n"


def ingest_seeds():
    yield "basic", b"id,t,n,x,s\nC1,2024-03-01T08:15:00Z,12,0.5,hello\nC2,1700000000,1.0,1e-7,\"a,b\"\n"
    yield "extra_and_types", (b"t,id,extra,n\n2024-05-01 12:00:00,C3,zzz,\n"
                              b"2024-05-01T14:00:00+02:00,C4,,9223372036854775807\n")
    yield "semicolons", b"id;t;x\nC5;2024-01-01T00:00:00.5Z;NaN\n"


def format_double_seeds():
    for i, v in enumerate([0.0, -0.0, 1.0, 0.1, 1e-7, 1.5e300, 5e-324, 1.7976931348623157e308,
                           123456789012345678.0, 45.5, 1e16, 9999999999999998.0]):
        yield f"d{i}", struct.pack("<d", v)


SEEDS = {
    "control_plane": control_seeds, "runtime": runtime_seeds, "athena": athena_seeds,
    "http_request": http_seeds, "event_time": event_time_seeds, "record_codec": record_seeds,
    "sigv4": sigv4_seeds, "ingest": ingest_seeds, "format_double": format_double_seeds,
}


def main():
    for target, gen in SEEDS.items():
        d = os.path.join(CORPUS, target)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        n = 0
        for name, data in gen():
            with open(os.path.join(d, f"seed-{name}"), "wb") as f:
                f.write(data)
            n += 1
        print(f"{target}: {n} seeds")


if __name__ == "__main__":
    main()
