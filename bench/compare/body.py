"""Prints a ~10 KiB JSON document (an order list) for bench/compare.sh; with the argument
`candidate`, the same document with one field changed (so every comparison parses both
bodies and finds one difference)."""
import json
import sys

items = [
    {
        "id": i,
        "sku": f"SKU-{i:05d}",
        "name": f"Item number {i}",
        "price": round(9.99 + i * 1.25, 2),
        "quantity": i % 7 + 1,
        "tags": ["a", "b", "c"][: i % 3 + 1],
        "warehouse": {"id": i % 4, "region": "eu-west"},
        "available": i % 5 != 0,
    }
    for i in range(59)
]
tier = "silver" if sys.argv[1:] == ["candidate"] else "gold"
print(json.dumps({"order": 42, "customer": {"id": 7, "tier": tier}, "items": items}))
