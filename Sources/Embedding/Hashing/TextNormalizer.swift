import Foundation

/// The normalisation rules for hashing embedders, scalar by scalar: compatibility decomposition
/// (NFKD of the scalar), combining marks and format characters dropped (diacritics folding:
/// "Café" → "cafe"), lower-casing; letters, digits and spacing marks make words, everything else
/// breaks them.
///
/// ``HashingWorkspace/split(_:)`` applies them: ASCII through ``asciiWordByte``, other scalars
/// through ``mapping(of:)``, cached (the Latin ranges U+0080–U+024F in a shared table).
enum TextNormalizer {
    /// Marks a word break in a scalar's mapping.
    static let separator = UInt32.max

    /// For each ASCII byte: its lower-case form when it is a letter or digit, else 0.
    static let asciiWordByte: [UInt8] = (0..<128).map { b -> UInt8 in
        switch b {
        case 0x30...0x39, 0x61...0x7A: UInt8(b)
        case 0x41...0x5A: UInt8(b + 0x20)
        default: 0
        }
    }

    /// First scalar after ``latinMappings``.
    static let latinEnd: UInt32 = 0x250

    /// Mappings of U+0080 ..< U+0250 (Latin-1 Supplement, Latin Extended-A and -B).
    static let latinMappings: [[UInt32]] = (0x80..<latinEnd).map { mapping(of: $0) }

    /// What one scalar becomes: word scalars, with ``separator`` where a word must break; empty
    /// when the scalar is dropped (a combining mark or format character).
    static func mapping(of value: UInt32) -> [UInt32] {
        guard let scalar = Unicode.Scalar(value) else { return [separator] }
        var out: [UInt32] = []
        let decomposed = String(Character(scalar)).decomposedStringWithCompatibilityMapping
        for d in decomposed.unicodeScalars {
            if d.properties.changesWhenLowercased {
                for l in d.properties.lowercaseMapping.unicodeScalars { classify(l, into: &out) }
            } else {
                classify(d, into: &out)
            }
        }
        return out
    }

    private static func classify(_ scalar: Unicode.Scalar, into out: inout [UInt32]) {
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format:
            return  // diacritics, zero-width joiners, soft hyphens: dropped without breaking the word
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
            .decimalNumber, .letterNumber, .otherNumber, .spacingMark:
            out.append(scalar.value)
        default:
            if out.last != separator { out.append(separator) }
        }
    }
}
