import Embedding
import Foundation

/// Whether the tests that need the MiniLM model run: it is installed (`switchyard models install minilm`),
/// or `SWITCHYARD_REQUIRE_MODELS=1` (CI), when they run and fail without it instead of being skipped.
public enum ModelRequirement {
    public static var minilm: Bool {
        ModelCatalog.isInstalled(ModelCatalog.minilm) || ProcessInfo.processInfo.environment["SWITCHYARD_REQUIRE_MODELS"] == "1"
    }
}
