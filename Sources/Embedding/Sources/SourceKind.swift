/// The kinds of text source (the `source type` recorded for a collection's sources).
public enum SourceKind: String, Sendable, CaseIterable {
    /// A directory scanned recursively for `.txt`, `.md`, `.html` and `.json` files.
    case directory
    /// One text file (`.html` and `.json` are extracted as in a directory; any other name is plain text).
    case file
    /// A JSON Lines file, one `{"id", "text", …}` object per line.
    case jsonl
    /// A BEIR corpus: a directory holding `corpus.jsonl` (`_id`, `title`, `text`), or that file itself.
    case beir
}
