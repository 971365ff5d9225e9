#!/usr/bin/env python3
"""Build the wordnet-defs retrieval dataset (BEIR layout) from the WordNet 3.0 database.

Source: Debian's `wordnet-base` package (`apt-get install -y wordnet-base`), which ships the
WordNet 3.0 database files under /usr/share/wordnet (data.noun, data.verb, ...). The files are
parsed directly; no third-party Python package is needed (Python 3.8+).

The task is a "reverse dictionary": the query is a word or phrase (a WordNet lemma name) and the
relevant documents are the dictionary entries (synsets) that the lemma belongs to. A document is
one noun or verb synset: its WordNet gloss verbatim (definition plus quoted example sentences) as
`text`, and its synonyms (the synset's lemma names) as `title` -- except that lemma names used as
queries are withheld from every title, so the answer never appears as a headword. See README.md
for the rationale and the measured difficulty.

Usage:
    python3 build.py [--wordnet /usr/share/wordnet] [--out DIR] [--evaluate]

--out DIR     where to write corpus.jsonl, queries.jsonl and qrels/test.tsv
              (default: the directory this script is in)
--evaluate    after building, print nDCG@10 / Recall@10 / MRR@10 of simple stand-in retrievers
              (hashed word unigrams, hashed words + character 3-5-grams, exact word cosine, BM25)

The output is deterministic: byte-identical on every run, whatever PYTHONHASHSEED is, given the
same WordNet files (their SHA-256 sums are listed in README.md and printed by this script).
"""

import argparse
import collections
import hashlib
import json
import math
import os
import re
import sys

# ---------------------------------------------------------------------------------------------
# Parameters of the dataset. Changing any of them changes the output.

SEED = "wordnet-defs/v1"     # salt of every sampling hash
POS_FILES = (("n", "data.noun"), ("v", "data.verb"))
N_DOCS = 6000                # synsets sampled into the corpus
N_QUERIES = 500              # lemma names sampled as queries
MIN_QUERY_LETTERS = 3        # a query has at least this many letters

# The input files the committed output was built from: WordNet 3.0 as shipped by Debian's
# wordnet-base 1:3.0-37 (bookworm). Other files give a warning (and most likely other output).
EXPECTED_SHA256 = {
    "data.noun": "fea17d2f9656611334eac790e5d69e47645fa180c4aa481fb4cd9b3520754ca2",
    "data.verb": "adcf43e35b581e8036d8b5a52d63d9cd3d3b4870b2720d3c03c799df44777bc2",
}


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def key(*parts):
    """Deterministic sampling key: SHA-256 of the salted parts (independent of PYTHONHASHSEED)."""
    return hashlib.sha256("\x1f".join((SEED,) + parts).encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------------
# WordNet data-file parsing (format: wndb(5WN), "Data File Format").

ADJ_MARKER = re.compile(r"\((?:a|p|ip)\)$")


def parse_data_file(path, pos):
    """Yield (synset id, [lemma names], gloss) for every synset of a data.<pos> file."""
    with open(path, encoding="ascii") as f:
        for line in f:
            if line.startswith("  "):          # the license header: lines start with two spaces
                continue
            head, sep, gloss = line.rstrip("\n").partition(" | ")
            if not sep:
                raise ValueError("%s: no gloss separator in line %r" % (path, line[:60]))
            fields = head.split()
            offset = fields[0]
            w_cnt = int(fields[3], 16)
            lemmas = []
            for i in range(w_cnt):
                word = ADJ_MARKER.sub("", fields[4 + 2 * i])
                lemmas.append(word.replace("_", " "))
            yield pos + offset, lemmas, gloss.strip()


def norm(lemma):
    return lemma.lower()


# ---------------------------------------------------------------------------------------------
# Building.

def build(wordnet_dir):
    # 1. Candidate documents: noun and verb synsets whose gloss has at least one example sentence
    #    (a quoted part). Sample N_DOCS of them by a salted hash of the synset id.
    candidates = []
    for pos, name in POS_FILES:
        for sid, lemmas, gloss in parse_data_file(os.path.join(wordnet_dir, name), pos):
            if '"' not in gloss:
                continue
            candidates.append((key("doc", sid), sid, lemmas, gloss))
    candidates.sort()
    docs = []
    seen_text = set()
    for _, sid, lemmas, gloss in candidates:
        if gloss in seen_text:                 # never twice the same text (documents are deduplicated
            continue                           # by content hash downstream); does not occur in 3.0
        seen_text.add(gloss)
        docs.append((sid, lemmas, gloss))
        if len(docs) == N_DOCS:
            break
    docs.sort()

    # 2. Candidate queries: every lemma name of a sampled synset (case-insensitive), with at least
    #    MIN_QUERY_LETTERS letters. Relevant documents: all sampled synsets that contain the lemma.
    members = collections.defaultdict(set)                     # normalised lemma -> synset ids
    spellings = collections.defaultdict(collections.Counter)   # normalised lemma -> spellings
    for sid, lemmas, _ in docs:
        for lemma in lemmas:
            members[norm(lemma)].add(sid)
            spellings[norm(lemma)][lemma] += 1
    pool = [l for l in members if sum(c.isalpha() for c in l) >= MIN_QUERY_LETTERS]
    pool.sort(key=lambda l: (key("query", l), l))
    chosen = sorted(pool[:N_QUERIES])
    chosen_set = set(chosen)

    # 3. Documents: title = the synset's lemma names that are not queries, text = the gloss verbatim.
    corpus = []
    for sid, lemmas, gloss in docs:
        title = ", ".join(l for l in lemmas if norm(l) not in chosen_set)
        corpus.append({"_id": sid, "title": title, "text": gloss})

    # 4. Queries, numbered in alphabetical order; the text is the most frequent spelling
    #    (ties: the smallest string), e.g. "Taliban" rather than "taliban".
    queries, qrels = [], []
    width = len(str(len(chosen)))
    for i, l in enumerate(chosen, 1):
        qid = "q%0*d" % (width, i)
        text = min(spellings[l].items(), key=lambda kv: (-kv[1], kv[0]))[0]
        queries.append({"_id": qid, "text": text})
        for sid in sorted(members[l]):
            qrels.append((qid, sid, 1))
    return corpus, queries, qrels


def write(out, corpus, queries, qrels):
    os.makedirs(os.path.join(out, "qrels"), exist_ok=True)

    def dump(path, rows):
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")

    dump(os.path.join(out, "corpus.jsonl"), corpus)
    dump(os.path.join(out, "queries.jsonl"), queries)
    with open(os.path.join(out, "qrels", "test.tsv"), "w", encoding="utf-8", newline="\n") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for qid, did, score in qrels:
            f.write("%s\t%s\t%d\n" % (qid, did, score))


# ---------------------------------------------------------------------------------------------
# Stand-in retrievers for --evaluate. These approximate the project's embedders; the real
# figures come from the Swift implementation.

TOKEN = re.compile(r"[^\W_]+")          # runs of Unicode letters and digits


def words(text):
    return TOKEN.findall(text.lower())


def fnv1a64(s):
    h = 0xCBF29CE484222325
    for b in s.encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def features(text, char_ngrams):
    out = []
    for w in words(text):
        out.append("w:" + w)
        if char_ngrams:
            m = "<" + w + ">"
            for n in (3, 4, 5):
                out.extend("c:" + m[i:i + n] for i in range(len(m) - n + 1))
    return out


class Embedder:
    """Sublinear-tf feature vector, L2-normalised. dims=None: exact features (no hashing);
    otherwise features are hashed (FNV-1a 64) into `dims` buckets with a sign bit."""

    def __init__(self, dims, char_ngrams):
        self.dims, self.char_ngrams, self.cache = dims, char_ngrams, {}

    def __call__(self, text):
        v = collections.defaultdict(float)
        for f, tf in collections.Counter(features(text, self.char_ngrams)).items():
            w = 1.0 + math.log(tf)
            if self.dims is None:
                v[f] += w
            else:
                h = self.cache.get(f)
                if h is None:
                    h = self.cache[f] = fnv1a64(f)
                v[h % self.dims] += -w if h >> 63 else w
        n = math.sqrt(sum(x * x for x in v.values()))
        return {k: x / n for k, x in v.items() if x != 0.0} if n > 0 else {}


def doc_text(d):
    return (d["title"] + " " + d["text"]).strip()


def rank_cosine(embed, corpus, queries):
    index = collections.defaultdict(list)
    for i, d in enumerate(corpus):
        for k, x in embed(doc_text(d)).items():
            index[k].append((i, x))
    for q in queries:
        scores = collections.defaultdict(float)
        for k, x in embed(q["text"]).items():
            for i, y in index.get(k, ()):
                scores[i] += x * y
        yield q["_id"], sorted(scores, key=lambda i: (-scores[i], i))[:10]


def rank_bm25(corpus, queries, k1=0.9, b=0.4):
    toks = [words(doc_text(d)) for d in corpus]
    avgdl = sum(map(len, toks)) / len(toks)
    index = collections.defaultdict(list)
    for i, t in enumerate(toks):
        for w, tf in collections.Counter(t).items():
            index[w].append((i, tf))
    n = len(toks)
    for q in queries:
        scores = collections.defaultdict(float)
        for w in sorted(set(words(q["text"]))):
            postings = index.get(w, ())
            if not postings:
                continue
            idf = math.log(1 + (n - len(postings) + 0.5) / (len(postings) + 0.5))
            for i, tf in postings:
                scores[i] += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(toks[i]) / avgdl))
        yield q["_id"], sorted(scores, key=lambda i: (-scores[i], i))[:10]


def metrics(ranking, corpus, qrels):
    ids = [d["_id"] for d in corpus]
    rel = collections.defaultdict(dict)
    for qid, did, s in qrels:
        rel[qid][did] = s
    ndcg = recall = mrr = 0.0
    count = 0
    for qid, top in ranking:
        r = rel[qid]
        got = [r.get(ids[i], 0) for i in top]
        dcg = sum(g / math.log2(k + 2) for k, g in enumerate(got))
        ideal = sorted(r.values(), reverse=True)[:10]
        ndcg += dcg / sum(g / math.log2(k + 2) for k, g in enumerate(ideal))
        recall += sum(1 for g in got if g > 0) / len(r)
        mrr += next((1.0 / (k + 1) for k, g in enumerate(got) if g > 0), 0.0)
        count += 1
    return ndcg / count, recall / count, mrr / count


def evaluate(corpus, queries, qrels):
    runs = [
        ("hash-v1 stand-in: words, hashed to 256 dims", rank_cosine(Embedder(256, False), corpus, queries)),
        ("hash-v2 stand-in: words + char 3-5-grams, hashed to 384 dims",
         rank_cosine(Embedder(384, True), corpus, queries)),
        ("exact word cosine (no hashing)", rank_cosine(Embedder(None, False), corpus, queries)),
        ("exact words + char 3-5-grams cosine (no hashing)", rank_cosine(Embedder(None, True), corpus, queries)),
        ("BM25 (k1=0.9, b=0.4) over words", rank_bm25(corpus, queries)),
    ]
    print("| retriever | nDCG@10 | Recall@10 | MRR@10 |")
    print("|---|---|---|---|")
    for name, ranking in runs:
        n, r, m = metrics(ranking, corpus, qrels)
        print("| %s | %.3f | %.3f | %.3f |" % (name, n, r, m))


# ---------------------------------------------------------------------------------------------

def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wordnet", default="/usr/share/wordnet",
                    help="directory holding the WordNet 3.0 data.* files (default: %(default)s)")
    ap.add_argument("--out", default=here, help="output directory (default: this script's directory)")
    ap.add_argument("--evaluate", action="store_true", help="print the stand-in retrievers' quality")
    args = ap.parse_args(argv)

    for _, name in POS_FILES:
        path = os.path.join(args.wordnet, name)
        if not os.path.exists(path):
            sys.exit("build.py: %s not found; install it with: apt-get install -y wordnet-base" % path)
        digest = sha256_file(path)
        print("%s  %s" % (digest, path), file=sys.stderr)
        if digest != EXPECTED_SHA256[name]:
            print("build.py: warning: %s differs from the file the committed dataset was built from"
                  % path, file=sys.stderr)

    corpus, queries, qrels = build(args.wordnet)
    write(args.out, corpus, queries, qrels)
    print("wrote %d documents, %d queries, %d relevance labels to %s"
          % (len(corpus), len(queries), len(qrels), args.out), file=sys.stderr)
    if args.evaluate:
        evaluate(corpus, queries, qrels)


if __name__ == "__main__":
    main()
