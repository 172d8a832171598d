"""The pandas peer of bench/dataset: merge_asof of the entity rows with the feature rows.

Runs under Debian's /usr/bin/python3 (python3-pandas). Debian has no pyarrow, so it reads the
CSV copies the generator wrote (base.csv, features.csv) and writes CSV. Like the raw DuckDB
peer it does no dedup and no delete handling: the latest feature row at or before each entity
row's event time (merge_asof direction='backward', exact matches allowed). Prints one line:
  engine=pandas seconds=<load+sort+merge+write> load=<s> merge=<s> write=<s> rows=<n> peak_rss_mb=<maxrss>
"""
import resource
import sys
import time

import pandas as pd


def main(d):
    t0 = time.perf_counter()
    base = pd.read_csv(f"{d}/base.csv", dtype={"customer_id": str})
    feats = pd.read_csv(f"{d}/features.csv",
                        dtype={"customer_id": str, "preferred_category": str})
    t1 = time.perf_counter()
    # merge_asof needs both sides sorted by the time key; sorting is part of the join's cost.
    base = base.sort_values("event_time", kind="stable")
    feats = feats.drop(columns=["api_invocation_time", "write_time", "is_deleted"])
    feats = feats.sort_values("event_time", kind="stable")
    out = pd.merge_asof(base, feats, on="event_time", by="customer_id", direction="backward")
    t2 = time.perf_counter()
    out.to_csv(f"{d}/out-pandas.csv", index=False)
    t3 = time.perf_counter()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"engine=pandas seconds={t3 - t0:.2f} load={t1 - t0:.2f} merge={t2 - t1:.2f} "
          f"write={t3 - t2:.2f} rows={len(out)} peak_rss_mb={rss_mb:.0f}")


if __name__ == "__main__":
    main(sys.argv[1])
