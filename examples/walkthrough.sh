#!/usr/bin/env bash
# "How to Use SageMaker Feature Store" (the user walkthrough) told with the `larder` CLI instead
# of the SageMaker SDK: create a feature group from a sample file, bulk-ingest 1000 customers,
# read them online, update one, query the offline store (a training set and a point-in-time
# join), build a training dataset, discover, and clean up.
#
#   export AWS_ENDPOINT_URL=http://127.0.0.1:8080 AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=...
#   examples/walkthrough.sh
#
# Environment: LARDER (the binary; default: `larder` on PATH, else build/larder), NAME (the
# feature group, default customer-features-cli), LARDER_UPLOADS (the server's DATA_DIR/uploads:
# when set and writable, the labels file is copied there for a labels-based dataset).
# Lines "CHECK key=value" report what each step returned (test/e2e/test_examples.py reads them).
# Any failing step stops the script with a non-zero status.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ -z "${LARDER:-}" ]]; then
  if command -v larder >/dev/null; then LARDER=larder; else LARDER="$HERE/../build/larder"; fi
fi
NAME=${NAME:-customer-features-cli}
DATA="$HERE/data"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

step() { printf '\n== %s\n' "$*"; }
check() { printf 'CHECK %s=%s\n' "$1" "$2"; }
# json_get FILE EXPR: evaluates the Python expression EXPR over the JSON document `d` in FILE.
json_get() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

step "Creating a feature group (schema inferred from a one-row sample, like load_feature_definitions)"
# CSV carries no types: the Unix-seconds event time would be sniffed as a number (Fractional);
# --type keeps it String, as the walkthrough's str(int(time.time())) does.
"$LARDER" create-feature-group "$NAME" --from "$DATA/customers_sample.csv" \
  --record-id customer_id --event-time event_time --type event_time=String \
  --description "Customer behavioral features for recommendation models"
"$LARDER" describe "$NAME" --format json >"$WORK/describe.json"
check status "$(json_get "$WORK/describe.json" 'd["FeatureGroupStatus"]')"
check loyalty_score_type "$(json_get "$WORK/describe.json" '[f["FeatureType"] for f in d["FeatureDefinitions"] if f["FeatureName"]=="loyalty_score"][0]')"

step "Ingesting a single record"
"$LARDER" put "$NAME" --record customer_id=C001 --record event_time="$(date +%s)" \
  --record total_purchases=1250.75 --record avg_order_value=52.3 \
  --record days_since_last_purchase=3.0 --record total_orders=24.0 --record return_rate=0.04 \
  --record preferred_category=electronics --record account_age_days=730.0 \
  --record loyalty_score=0.92

step "Batch ingestion: 1000 customers with 4 workers"
"$LARDER" ingest "$DATA/customers.csv" --feature-group "$NAME" --workers 4 --format json \
  >"$WORK/ingest.json"
cat "$WORK/ingest.json"
check ingested_rows "$(json_get "$WORK/ingest.json" 'd["rows_written"]')"
check rejected_rows "$(json_get "$WORK/ingest.json" 'd["rows_rejected"]')"

step "Reading features from the online store"
"$LARDER" get "$NAME" C0042
"$LARDER" get "$NAME" C0042 --format json >"$WORK/C0042.json"
check C0042_loyalty_score "$(json_get "$WORK/C0042.json" 'd["loyalty_score"]')"
for id in C0001 C0042 C0100; do
  "$LARDER" get "$NAME" "$id" --feature customer_id --feature loyalty_score --format csv | tail -n +2
done

step "Updating feature values (a newer event time replaces the online record)"
"$LARDER" put "$NAME" --json "{\"customer_id\": \"C0042\", \"event_time\": \"$(date +%s)\",
  \"total_purchases\": 1500.00, \"avg_order_value\": 55.00, \"days_since_last_purchase\": 1.0,
  \"total_orders\": 28.0, \"return_rate\": 0.035, \"preferred_category\": \"electronics\",
  \"account_age_days\": 740.0, \"loyalty_score\": 0.95}"
"$LARDER" get "$NAME" C0042 --format json >"$WORK/C0042.json"
check C0042_updated_loyalty_score "$(json_get "$WORK/C0042.json" 'd["loyalty_score"]')"

step "Querying the offline store for training"
TABLE=$(json_get "$WORK/describe.json" 'd["OfflineStoreConfig"]["DataCatalogConfig"]["TableName"]')
echo "Athena table: $TABLE"
"$LARDER" query "SELECT customer_id, total_purchases, avg_order_value, days_since_last_purchase,
  total_orders, return_rate, account_age_days, loyalty_score FROM \"$TABLE\"
  WHERE loyalty_score IS NOT NULL" --format csv --out "$WORK/training.csv"
check training_rows "$(($(wc -l <"$WORK/training.csv") - 1))"
"$LARDER" query "SELECT customer_id, total_purchases, loyalty_score FROM \"$TABLE\"
  WHERE customer_id = 'C0042' ORDER BY total_purchases"
"$LARDER" query "SELECT count(*) AS versions FROM \"$TABLE\" WHERE customer_id = 'C0042'" \
  --format json >"$WORK/versions.json"
check C0042_offline_versions "$(json_get "$WORK/versions.json" 'd[0]["versions"]')"
"$LARDER" query "SELECT * FROM \"$TABLE\"" --format parquet --out "$WORK/training.parquet"
check training_parquet_bytes_nonzero "$([[ -s "$WORK/training.parquet" ]] && echo yes || echo no)"

step "Point-in-time query (labels joined with the features of the 24 hours before each label)"
"$LARDER" query "WITH labels_table AS (
    SELECT * FROM (VALUES ('C0042', 1, from_unixtime(1700086442)),
                          ('C0100', 1, from_unixtime(1700086500)),
                          ('C0500', 0, from_unixtime(1699000000)))
      AS t(customer_id, purchased, event_timestamp))
  SELECT labels.customer_id, labels.purchased, labels.event_timestamp,
         features.total_purchases, features.loyalty_score
  FROM labels_table AS labels
  LEFT JOIN \"$TABLE\" AS features
    ON labels.customer_id = features.customer_id
    AND from_unixtime(CAST(features.event_time AS double)) <= labels.event_timestamp
    AND from_unixtime(CAST(features.event_time AS double)) >= labels.event_timestamp - INTERVAL '24' HOUR
  ORDER BY labels.event_timestamp DESC, labels.customer_id" --format json >"$WORK/pit.json"
python3 -m json.tool "$WORK/pit.json"
check pit_rows "$(json_get "$WORK/pit.json" 'len(d)')"
check pit_C0500_matched "$(json_get "$WORK/pit.json" '[r["total_purchases"] for r in d if r["customer_id"]=="C0500"][0] is not None')"

step "A training dataset (Larder.CreateDataset: the SDK DatasetBuilder's record handling)"
"$LARDER" dataset --base-feature-group "$NAME" --format csv --out "$WORK/dataset.csv"
check dataset_rows "$(($(wc -l <"$WORK/dataset.csv") - 1))"
if [[ -n "${LARDER_UPLOADS:-}" && -d "${LARDER_UPLOADS}" ]]; then
  cp "$DATA/labels.csv" "$LARDER_UPLOADS/labels.csv"
  "$LARDER" dataset --base labels.csv --base-id-column customer_id \
    --base-event-time-column event_timestamp \
    --feature-group "$NAME:total_purchases,loyalty_score" --format csv --out "$WORK/labeled.csv"
  cat "$WORK/labeled.csv"
  check labeled_dataset_rows "$(($(wc -l <"$WORK/labeled.csv") - 1))"
  # The label predates the update: point-in-time gives C0042's batch values, not 1500.0.
  check labeled_C0042_total_purchases "$(python3 -c 'import csv,sys; print([r["total_purchases.1"] for r in csv.DictReader(open(sys.argv[1])) if r["customer_id"]=="C0042"][0])' "$WORK/labeled.csv")"
fi

step "Feature group discovery"
"$LARDER" list --sort-by CreationTime --sort-order Descending
"$LARDER" list --format json >"$WORK/list.json"
check listed "$(json_get "$WORK/list.json" '"'"$NAME"'" in [g["FeatureGroupName"] for g in d]')"
"$LARDER" describe "$NAME"

step "Deleting a record and the feature group"
"$LARDER" delete-record "$NAME" C0001
if "$LARDER" get "$NAME" C0001 >/dev/null 2>&1; then
  check C0001_after_delete present
else
  check C0001_after_delete gone
fi
"$LARDER" delete-feature-group "$NAME"
if "$LARDER" describe "$NAME" >/dev/null 2>&1; then
  check group_after_delete present
else
  check group_after_delete gone
fi
echo
echo "walkthrough.sh: done"
