#!/usr/bin/python3
"""Plots a tools/soak.py CSV: server RSS, request latencies and throughput over time.

    /usr/bin/python3 tools/soak_plot.py soak.csv soak.png

Needs matplotlib (Debian: apt-get install python3-matplotlib); it runs only for soak runs, never
in `make test` or CI.
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(csv_path, png_path):
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise SystemExit(f"{csv_path} has no samples")
    col = lambda k: [float(r[k]) for r in rows]  # noqa: E731
    t = [x / 60 for x in col("t_s")]
    fig, (ax1, ax2, ax3) = plt.subplots(3, 1, figsize=(11, 10), sharex=True)
    ax1.plot(t, col("rss_mib"), label="RSS")
    ax1.plot(t, col("hwm_mib"), label="peak RSS (VmHWM)", linestyle=":")
    ax1.set_ylabel("MiB")
    ax1.set_ylim(bottom=0)
    ax1b = ax1.twinx()
    ax1b.plot(t, col("offline_mib"), color="tab:gray", alpha=0.5, label="offline store on disk")
    ax1b.set_ylabel("offline MiB")
    ax1.legend(loc="upper left")
    ax1b.legend(loc="lower right")
    ax1.set_title("larder serve under mixed load")
    ax2.plot(t, col("server_p50_ms"), label="server p50")
    ax2.plot(t, col("server_p99_ms"), label="server p99")
    ax2.plot(t, col("client_p50_ms"), label="client p50 (boto3)", linestyle="--")
    ax2.plot(t, col("client_p99_ms"), label="client p99 (boto3)", linestyle="--")
    ax2.set_ylabel("latency (ms)")
    ax2.set_yscale("log")
    ax2.legend(loc="upper left", ncol=2)
    ax3.plot(t, col("ops_per_s"), label="requests/s")
    errors = col("errors")
    ax3.set_ylabel("requests/s")
    ax3.set_ylim(bottom=0)
    ax3b = ax3.twinx()
    ax3b.plot(t, errors, color="tab:red", label="errors (cumulative)")
    ax3b.set_ylabel("errors")
    ax3b.set_ylim(bottom=0, top=max(1, max(errors) * 1.2))
    ax3.legend(loc="upper left")
    ax3b.legend(loc="lower right")
    ax3.set_xlabel("minutes")
    fig.tight_layout()
    fig.savefig(png_path, dpi=90)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2])
