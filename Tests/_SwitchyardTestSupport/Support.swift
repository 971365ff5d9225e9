// The test support module re-exports the modules under test, so a test file that imports it
// sees `Distance`, `Store` and friends without a separate import of each.
@_exported import VectorMath
@_exported import VectorStore
