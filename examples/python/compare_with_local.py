#!/usr/bin/env python3
"""Every qdrant-client method Switchyard serves, run against `switchyard serve` and against qdrant-client's
own local mode (QdrantClient(":memory:")) on the same data; the answers must agree: the same ids, scores
within 1e-5, the same payloads, the same scroll pages and counts. Exits 1 naming the first difference.

    switchyard serve --store /tmp/sy &
    python3 examples/python/compare_with_local.py --url http://127.0.0.1:6333
"""
import argparse
import math
import random
import sys
import uuid

from qdrant_client import QdrantClient, models

parser = argparse.ArgumentParser()
parser.add_argument("--url", default="http://127.0.0.1:6333")
parser.add_argument("--api-key", default=None)
args = parser.parse_args()

remote = QdrantClient(url=args.url, api_key=args.api_key, prefer_grpc=False, check_compatibility=False)
local = QdrantClient(":memory:")
checks = 0


def fail(what, a, b):
    print(f"DIFFERENT: {what}\n  switchyard: {a}\n  local mode: {b}", file=sys.stderr)
    sys.exit(1)


def same(what, a, b):
    """Compares answers: records and scored points by id, score (1e-5), payload and vector."""
    global checks
    checks += 1
    na, nb = norm(a), norm(b)
    if not close(na, nb):
        fail(what, na, nb)


def norm(x):
    """Plain data from the client's models (duck-typed: REST and local mode build them alike)."""
    if hasattr(x, "id") and hasattr(x, "payload"):
        d = {"id": str(x.id), "payload": x.payload}
        if getattr(x, "score", None) is not None:
            d["score"] = x.score
        if getattr(x, "vector", None) is not None:
            d["vector"] = x.vector
        return d
    if hasattr(x, "points") and not isinstance(x, (list, tuple)):
        return [norm(p) for p in x.points]
    if hasattr(x, "count") and not isinstance(x, (list, tuple, str)):
        return x.count
    if isinstance(x, tuple):
        return tuple(norm(v) for v in x)
    if isinstance(x, list):
        return [norm(v) for v in x]
    if isinstance(x, (int, str)) and not isinstance(x, bool):
        return str(x)  # next_page_offset: an integer or a UUID
    return x


def close(a, b):
    if isinstance(a, float) and isinstance(b, (int, float)):
        return math.isclose(a, b, abs_tol=1e-5)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
    return a == b


def both(fn):
    return fn(remote), fn(local)


rng = random.Random(11)
DIM = 6
NAME = "cmp"
for c in (remote, local):
    for name in (NAME, NAME + "_b"):
        if c.collection_exists(name):
            c.delete_collection(name)

# Collections.
for c in (remote, local):
    c.create_collection(NAME, vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE))
    c.create_collection(NAME + "_b", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.EUCLID))
# The server may hold other collections (another script's); compare this script's own.
mine = lambda c: sorted(x.name for x in c.get_collections().collections if x.name.startswith(NAME))
same("get_collections", *both(mine))
same("collection_exists", *both(lambda c: (c.collection_exists(NAME), c.collection_exists("nope"))))
r, l = both(lambda c: c.get_collection(NAME))
same("get_collection vectors", (r.config.params.vectors.size, str(r.config.params.vectors.distance)),
     (l.config.params.vectors.size, str(l.config.params.vectors.distance)))

# Points: a list with integer and UUID ids, then a batch, then upload_points.
cities = ["Berlin", "Paris", "Rome", "Oslo"]
points = []
for i in range(120):
    pid = i if i % 7 else str(uuid.UUID(int=rng.getrandbits(128)))
    payload = {"city": cities[i % 4], "n": i, "price": round(rng.uniform(0, 50), 2), "tags": ["a", "b"][: i % 3]}
    if i % 11 == 0:
        payload["nested"] = {"x": i % 5, "y": "v"}
    points.append(models.PointStruct(id=pid, vector=[rng.uniform(-1, 1) for _ in range(DIM)], payload=payload))
for c in (remote, local):
    c.upsert(NAME, points=points[:60])
    c.upsert(NAME, points=models.Batch(ids=[p.id for p in points[60:90]], vectors=[p.vector for p in points[60:90]],
                                       payloads=[p.payload for p in points[60:90]]))
    c.upload_points(NAME, points=points[90:], batch_size=16, wait=True)
same("count", *both(lambda c: c.count(NAME, exact=True)))

ids = [p.id for p in points[::9]] + [10_000]
same("retrieve", *both(lambda c: sorted(c.retrieve(NAME, ids=ids, with_vectors=True), key=lambda p: str(p.id))))

# Scroll pages, with and without filters.
flt = models.Filter(must=[models.FieldCondition(key="city", match=models.MatchValue(value="Paris"))])
rng_flt = models.Filter(must=[models.FieldCondition(key="price", range=models.Range(gte=10.0, lt=40.0))],
                        must_not=[models.IsEmptyCondition(is_empty=models.PayloadField(key="tags"))])
any_flt = models.Filter(should=[models.FieldCondition(key="city", match=models.MatchAny(any=["Rome", "Oslo"])),
                                models.FieldCondition(key="nested.x", match=models.MatchValue(value=3))])
for label, f in (("none", None), ("match", flt), ("range", rng_flt), ("any", any_flt)):
    offset_r = offset_l = None
    for page in range(20):
        (pr, offset_r), (pl, offset_l) = (remote.scroll(NAME, scroll_filter=f, limit=17, offset=offset_r, with_payload=True),
                                          local.scroll(NAME, scroll_filter=f, limit=17, offset=offset_l, with_payload=True))
        same(f"scroll {label} page {page}", (pr, offset_r), (pl, offset_l))
        if offset_r is None:
            break
    same(f"count {label}", *both(lambda c: c.count(NAME, count_filter=f, exact=True)))

# Queries: vectors, filters, thresholds, offsets, payload selectors, vectors returned (normalised), by id.
for k in range(12):
    q = [rng.uniform(-1, 1) for _ in range(DIM)]
    f = [None, flt, rng_flt, any_flt][k % 4]
    same(f"query_points {k}", *both(lambda c: c.query_points(NAME, query=q, query_filter=f, limit=7, offset=k % 3,
                                                             with_payload=True, with_vectors=(k % 2 == 0))))
    same(f"query threshold {k}", *both(lambda c: c.query_points(NAME, query=q, limit=50, score_threshold=0.2)))
    same(f"query payload selector {k}", *both(lambda c: c.query_points(
        NAME, query=q, limit=5, with_payload=models.PayloadSelectorInclude(include=["city", "nested.y"]))))
    same(f"query payload exclude {k}", *both(lambda c: c.query_points(
        NAME, query=q, limit=5, with_payload=models.PayloadSelectorExclude(exclude=["tags", "price"]))))
same("query by id", *both(lambda c: c.query_points(NAME, query=points[3].id, limit=5)))
requests = [models.QueryRequest(query=[rng.uniform(-1, 1) for _ in range(DIM)], limit=4, with_payload=True) for _ in range(3)]
same("query_batch_points", *both(lambda c: c.query_batch_points(NAME, requests=requests)))
eu = [models.PointStruct(id=i, vector=[rng.uniform(-3, 3) for _ in range(DIM)], payload={"i": i}) for i in range(40)]
for c in (remote, local):
    c.upsert(NAME + "_b", points=eu)
same("euclid query", *both(lambda c: c.query_points(NAME + "_b", query=[0.5] * DIM, limit=8, with_vectors=True)))
same("euclid threshold", *both(lambda c: c.query_points(NAME + "_b", query=[0.5] * DIM, limit=40, score_threshold=4.0)))

# Payload operations and deletes, then the state compared whole.
for c in (remote, local):
    c.set_payload(NAME, payload={"flag": True}, points=[points[1].id, points[2].id])
    c.set_payload(NAME, payload={"seen": 1}, points=flt)
    c.overwrite_payload(NAME, payload={"only": "this"}, points=[points[5].id])
    c.delete_payload(NAME, keys=["price"], points=[points[8].id, points[9].id])
    c.clear_payload(NAME, points_selector=[points[10].id])
    c.delete(NAME, points_selector=[points[12].id, 999_999])
    c.delete(NAME, points_selector=models.FilterSelector(filter=models.Filter(must=[
        models.FieldCondition(key="city", match=models.MatchValue(value="Oslo"))])))
    c.batch_update_points(NAME, update_operations=[
        models.UpsertOperation(upsert=models.PointsList(points=[models.PointStruct(id=5000, vector=[0.1] * DIM, payload={"b": 1})])),
        models.SetPayloadOperation(set_payload=models.SetPayload(payload={"b": 2}, points=[5000])),
        models.DeleteOperation(delete=models.PointIdsList(points=[points[14].id])),
    ])
    c.create_payload_index(NAME, field_name="city", field_schema=models.PayloadSchemaType.KEYWORD)
same("count after writes", *both(lambda c: c.count(NAME, exact=True)))
same("scroll after writes", *both(lambda c: c.scroll(NAME, limit=1000, with_payload=True, with_vectors=True)))

# Named vectors: two per point, each with its own size and distance.
NAMED = NAME + "_n"
for c in (remote, local):
    if c.collection_exists(NAMED):
        c.delete_collection(NAMED)
    c.create_collection(NAMED, vectors_config={"text": models.VectorParams(size=4, distance=models.Distance.COSINE),
                                               "img": models.VectorParams(size=3, distance=models.Distance.EUCLID)})
named_points = [models.PointStruct(id=i, vector={"text": [rng.uniform(-1, 1) for _ in range(4)],
                                                  "img": [rng.uniform(-2, 2) for _ in range(3)]}, payload={"i": i})
                for i in range(50)]
for c in (remote, local):
    c.upsert(NAMED, points=named_points)
r, l = both(lambda c: c.get_collection(NAMED).config.params.vectors)
same("named vectors config", sorted((k, v.size, str(v.distance)) for k, v in r.items()),
     sorted((k, v.size, str(v.distance)) for k, v in l.items()))
for k in range(6):
    tq = [rng.uniform(-1, 1) for _ in range(4)]
    iq = [rng.uniform(-2, 2) for _ in range(3)]
    same(f"named query text {k}", *both(lambda c: c.query_points(NAMED, query=tq, using="text", limit=5, with_vectors=True)))
    same(f"named query img {k}", *both(lambda c: c.query_points(NAMED, query=iq, using="img", limit=5, with_payload=True,
                                                                with_vectors=["img"])))
same("named query by id", *both(lambda c: c.query_points(NAMED, query=7, using="img", limit=4)))
same("named retrieve", *both(lambda c: c.retrieve(NAMED, ids=[1, 2, 3], with_vectors=True)))
same("named scroll", *both(lambda c: c.scroll(NAMED, limit=20, with_vectors=["text"])))
for c in (remote, local):
    c.delete_collection(NAMED)

# Aliases.
for c in (remote, local):
    c.update_collection_aliases(change_aliases_operations=[
        models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name=NAME, alias_name=NAME + "_live"))])
    c.update_collection_aliases(change_aliases_operations=[
        models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=NAME + "_live")),
        models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name=NAME + "_b", alias_name=NAME + "_live")),
    ])
same("get_aliases", *both(lambda c: sorted((a.alias_name, a.collection_name) for a in c.get_aliases().aliases
                                           if a.collection_name.startswith(NAME))))
same("get_collection_aliases", *both(lambda c: sorted(a.alias_name for a in c.get_collection_aliases(NAME + "_b").aliases)))
same("query through the alias", *both(lambda c: c.query_points(NAME + "_live", query=[0.5] * DIM, limit=3)))
for c in (remote, local):
    c.update_collection_aliases(change_aliases_operations=[
        models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=NAME + "_live"))])
    c.delete_collection(NAME + "_b")
same("collections at the end", *both(mine))
print(f"compare_with_local: {checks} checks, all equal")
