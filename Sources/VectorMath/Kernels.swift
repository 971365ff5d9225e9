import CKernels

/// The SIMD kernel family chosen at run time for this CPU.
public enum Kernels {
    /// The family in use: `avx512`, `avx2` or `generic`.
    public static var name: String { String(cString: sy_kernel_level_name(sy_kernel_level())) }

    /// The best family this CPU supports.
    public static var detectedName: String { String(cString: sy_kernel_level_name(sy_detected_kernel_level())) }

    /// Selects a family by name (clamped to what the CPU supports); returns the name now in use.
    ///
    /// - Throws: ``VectorMathError`` when `name` is not a family.
    @discardableResult
    public static func select(_ name: String) throws(VectorMathError) -> String {
        let level: Int32
        switch name.lowercased() {
        case "generic": level = Int32(SY_KERNEL_GENERIC.rawValue)
        case "avx2": level = Int32(SY_KERNEL_AVX2.rawValue)
        case "avx512", "avx-512": level = Int32(SY_KERNEL_AVX512.rawValue)
        case "auto", "best": level = sy_detected_kernel_level()
        default: throw .invalidArgument("unknown kernel '\(name)': use generic, avx2, avx512 or auto")
        }
        return String(cString: sy_kernel_level_name(sy_set_kernel_level(level)))
    }
}

/// Errors of the vector-math layer.
public enum VectorMathError: Error, CustomStringConvertible, Equatable {
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .invalidArgument(let message): message
        }
    }
}

extension Kernels {
    /// The int8 path the family in use allows: `avx512-vnni`, `avx2` or `generic` (``QuantizedSearch``).
    public static var int8Name: String { String(cString: sy_q8_path_name(sy_q8_path())) }
}
