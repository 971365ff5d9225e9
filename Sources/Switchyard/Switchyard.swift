@_exported import VectorMath
@_exported import VectorStore
@_exported import Embedding
