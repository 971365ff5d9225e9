#!/usr/bin/env python3
"""A blue-green swap the way a Python app does it, against `switchyard serve`:
create v2, upload its points, flip the alias with one delete + create call, query through the alias.

    switchyard serve --store /tmp/sy &
    python3 examples/python/blue_green.py --url http://127.0.0.1:6333
"""
import argparse
import random
import sys

from qdrant_client import QdrantClient, models

parser = argparse.ArgumentParser()
parser.add_argument("--url", default="http://127.0.0.1:6333")
parser.add_argument("--api-key", default=None)
args = parser.parse_args()

client = QdrantClient(url=args.url, api_key=args.api_key, prefer_grpc=False, check_compatibility=False)
rng = random.Random(7)
DIM = 8


def vectors(n):
    return [[rng.uniform(-1, 1) for _ in range(DIM)] for _ in range(n)]


for name in ("docs_v1", "docs_v2"):
    if client.collection_exists(name):
        client.delete_collection(name)

# Blue: v1 behind the alias "docs".
client.create_collection("docs_v1", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE))
client.upsert("docs_v1", points=[models.PointStruct(id=i, vector=v, payload={"gen": 1, "n": i}) for i, v in enumerate(vectors(300))])
client.update_collection_aliases(change_aliases_operations=[
    models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name="docs_v1", alias_name="docs"))])
before = client.query_points("docs", query=vectors(1)[0], limit=5, with_payload=True).points
assert before and all(p.payload["gen"] == 1 for p in before), before

# Green: v2 built beside it with upload_points (wait=false, batches of 64), then checked.
client.create_collection("docs_v2", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE))
client.upload_points("docs_v2", points=[models.PointStruct(id=i, vector=v, payload={"gen": 2, "n": i}) for i, v in enumerate(vectors(300))])
assert client.count("docs_v2", exact=True).count == 300

# The switch: one call, delete and create together.
client.update_collection_aliases(change_aliases_operations=[
    models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name="docs")),
    models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name="docs_v2", alias_name="docs")),
])
after = client.query_points("docs", query=vectors(1)[0], limit=5, with_payload=True).points
assert after and all(p.payload["gen"] == 2 for p in after), after
aliases = {a.alias_name: a.collection_name for a in client.get_aliases().aliases}
assert aliases == {"docs": "docs_v2"}, aliases

# The way back: flip again, then drop the old generation only when sure.
client.update_collection_aliases(change_aliases_operations=[
    models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name="docs_v1", alias_name="docs"))])
assert all(p.payload["gen"] == 1 for p in client.query_points("docs", query=vectors(1)[0], limit=5, with_payload=True).points)
print("blue-green swap: ok")
sys.exit(0)
