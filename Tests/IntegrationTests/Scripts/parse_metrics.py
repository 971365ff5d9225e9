#!/usr/bin/env python3
"""Parses Prometheus text (a file, or http://... to fetch) with prometheus_client's reference parser and
prints {family: {"type": ..., "samples": [[name, labels, value], ...]}} as JSON. Exit 2 on a parse error."""
import json
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

source = sys.argv[1]
if source.startswith("http://"):
    text = urllib.request.urlopen(source, timeout=10).read().decode("utf-8")
else:
    text = open(source, encoding="utf-8").read()
try:
    out = {}
    for family in text_string_to_metric_families(text):
        out[family.name] = {"type": family.type, "samples": [[s.name, s.labels, s.value] for s in family.samples]}
except Exception as e:  # noqa: BLE001
    print("parse error: %s" % e, file=sys.stderr)
    sys.exit(2)
print(json.dumps(out))
