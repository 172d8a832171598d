#!/usr/bin/env python3
"""Generates the ingest benchmark's input: N rows x 10 features as CSV (the walkthrough's
customer features), and the same rows as a Redis mass-insertion protocol file (HSET per row).

    gen_data.py --rows 1000000 --csv rows.csv [--resp rows.resp]

Deterministic (seeded), standard library only, so every run compares the same bytes."""
import argparse
import random

CATEGORIES = ["electronics", "clothing", "books", "home", "sports"]
COLUMNS = ["customer_id", "event_time", "total_purchases", "avg_order_value",
           "days_since_last_purchase", "total_orders", "return_rate", "preferred_category",
           "account_age_days", "loyalty_score"]


def rows(n, seed=42):
    rnd = random.Random(seed)
    base = 1700000000
    for i in range(1, n + 1):
        yield [
            f"C{i:07d}",
            str(base + i % 86400),
            f"{rnd.uniform(10, 5000):.2f}",
            f"{rnd.uniform(10, 200):.2f}",
            f"{rnd.randint(0, 364)}.0",
            f"{rnd.randint(1, 99)}.0",
            f"{rnd.uniform(0, 0.3):.3f}",
            CATEGORIES[rnd.randrange(5)],
            f"{rnd.randint(30, 1999)}.0",
            f"{rnd.uniform(0, 1):.3f}",
        ]


def resp(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--csv", required=True)
    p.add_argument("--resp")
    a = p.parse_args()
    with open(a.csv, "w") as csv, (open(a.resp, "wb") if a.resp else open("/dev/null", "wb")) as rf:
        csv.write(",".join(COLUMNS) + "\n")
        for r in rows(a.rows):
            csv.write(",".join(r) + "\n")
            if a.resp:
                args = ["HSET", "customer-features:" + r[0]]
                for k, v in zip(COLUMNS, r):
                    args += [k, v]
                rf.write(resp(args))


if __name__ == "__main__":
    main()
