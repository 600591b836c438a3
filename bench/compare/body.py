"""Prints a ~10 KiB JSON document (an order list) for bench/compare.sh."""
import json

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
print(json.dumps({"order": 42, "customer": {"id": 7, "tier": "gold"}, "items": items}))
