@_exported import VectorMath
@_exported import VectorStore
