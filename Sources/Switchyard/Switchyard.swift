@_exported import VectorMath
@_exported import VectorStore
@_exported import Embedding
@_exported import Operations
@_exported import Reindex
@_exported import Telemetry
@_exported import QdrantBackend
