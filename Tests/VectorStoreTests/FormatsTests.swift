import Foundation
import Testing
import VectorStore
import _SwitchyardTestSupport

@Suite("Vector file formats")
struct FormatsTests {
    static func fvecs(_ rows: [[Float]], dims: [Int32]? = nil) -> Data {
        var d = Data()
        for (i, r) in rows.enumerated() {
            withUnsafeBytes(of: (dims?[i] ?? Int32(r.count)).littleEndian) { d.append(contentsOf: $0) }
            for x in r { withUnsafeBytes(of: x.bitPattern.littleEndian) { d.append(contentsOf: $0) } }
        }
        return d
    }

    @Test("fvecs and ivecs round-trip, whole and in batches")
    func texmexRoundTrip() throws {
        try withTemporaryDirectory { dir in
            let block = VectorBlock(count: 5, dimension: 3, values: (0..<15).map { Float($0) * 0.5 - 2 })
            let path = dir.appending("a.fvecs")
            try TexmexWriter.writeFloats(block, to: path)
            #expect(try TexmexReader.readFloats(path) == block)
            let reader = try TexmexReader(path: path)
            #expect(reader.count == 5 && reader.dimension == 3)
            var rows: [Float] = []
            while let b = try reader.nextFloats(maxRows: 2) { rows += b.values }
            #expect(rows == block.values)
            let ints = IntBlock(count: 2, dimension: 3, values: [1, 2, 3, -4, 5, 2_000_000_000])
            try TexmexWriter.writeInts(ints, to: dir.appending("g.ivecs"))
            #expect(try TexmexReader.readInts(dir.appending("g.ivecs")) == ints)
        }
    }

    @Test("truncated, empty and inconsistent TEXMEX files are refused with the reason")
    func texmexErrors() throws {
        try withTemporaryDirectory { dir in
            let truncated = dir.appending("t.fvecs")
            try Self.fvecs([[1, 2, 3], [4, 5, 6]]).dropLast(3).write(to: URL(fileURLWithPath: truncated))
            let e1 = #expect(throws: StoreError.self) { try TexmexReader.readFloats(truncated) }
            #expect(e1?.message.contains("truncated or inconsistent") == true)

            let empty = dir.appending("e.fvecs")
            try Data().write(to: URL(fileURLWithPath: empty))
            #expect(throws: StoreError.self) { try TexmexReader.readFloats(empty) }

            // Same total size as two rows of 3, but the second header says 2 and a third row follows.
            let mixed = dir.appending("m.fvecs")
            try Self.fvecs([[1, 2, 3], [4, 5, 6], [7, 8, 9]], dims: [3, 2, 3]).write(to: URL(fileURLWithPath: mixed))
            let e2 = #expect(throws: StoreError.self) { try TexmexReader.readFloats(mixed) }
            #expect(e2?.message.contains("row 1 has dimension 2") == true)

            let bad = dir.appending("b.fvecs")
            try Self.fvecs([[1]], dims: [-5]).write(to: URL(fileURLWithPath: bad))
            #expect(throws: StoreError.self) { try TexmexReader.readFloats(bad) }
            #expect(throws: StoreError.self) { try TexmexReader.readFloats(dir.appending("missing.fvecs")) }
        }
    }

    @Test("npy float32 round-trips; other element types, Fortran order and truncation are refused")
    func numpy() throws {
        try withTemporaryDirectory { dir in
            let block = VectorBlock(count: 4, dimension: 2, values: [1, -2, 3.5, 4, 0, 0, 7, 8])
            let path = dir.appending("a.npy")
            try NumpyFile.writeFloats(block, to: path)
            #expect(try NumpyFile.readFloats(path) == block)
            #expect(throws: StoreError.self) { try NumpyFile.readInts(path) }

            func npy(_ header: String, payload: Int) -> Data {
                var h = header
                while (10 + h.utf8.count + 1) % 64 != 0 { h += " " }
                h += "\n"
                var d = Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(h.utf8.count & 0xff), UInt8(h.utf8.count >> 8)])
                d.append(contentsOf: Array(h.utf8))
                d.append(Data(count: payload))
                return d
            }
            let cases: [(String, Data, String)] = [
                ("f8.npy", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", payload: 32), "not supported"),
                ("fo.npy", npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", payload: 16), "Fortran"),
                ("tr.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", payload: 12), "truncated"),
                ("3d.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2, 2), }", payload: 32), "1-D or 2-D"),
                ("magic.npy", Data("hello world, not numpy".utf8), "bad magic"),
                ("neg.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-2, -3), }", payload: 24), "negative"),
                ("huge.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 8), }", payload: 0), "too large"),
            ]
            for (name, data, message) in cases {
                let p = dir.appending(name)
                try data.write(to: URL(fileURLWithPath: p))
                let e = #expect(throws: StoreError.self) { try NumpyFile.readFloats(p) }
                #expect(e?.message.contains(message) == true, "\(name): \(e.map { "\($0)" } ?? "no error")")
            }
            // A 1-D float array is one vector.
            let one = dir.appending("one.npy")
            try npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", payload: 12).write(to: URL(fileURLWithPath: one))
            let v = try NumpyFile.readFloats(one)
            #expect(v.count == 1 && v.dimension == 3)
            // int32 files read as ints.
            let ip = dir.appending("i.npy")
            var d = npy("{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", payload: 0)
            for v in [Int32(7), -1, 42] { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
            try d.write(to: URL(fileURLWithPath: ip))
            #expect(try NumpyFile.readInts(ip).values == [7, -1, 42])
            #expect(try NumpyFile.readInts(ip).count == 1)
        }
    }

    @Test("JSON Lines points: ids, payloads, and errors with line numbers")
    func jsonLines() throws {
        try withTemporaryDirectory { dir in
            let path = dir.appending("p.jsonl")
            try """
                {"id": 18446744073709551615, "vector": [1, 2], "payload": {"a": 1}}

                {"id": "550e8400-e29b-41d4-a716-446655440000", "vector": [0.5, -1e-3]}
                """.write(toFile: path, atomically: true, encoding: .utf8)
            let points = try JSONLinesFile.readPoints(path)
            #expect(points.map(\.id) == [.number(UInt64.max), PointID(parsing: "550e8400-e29b-41d4-a716-446655440000")!])
            #expect(points[0].payload == ["a": 1])
            #expect(points[1].vector == [0.5, -0.001])

            let bad = dir.appending("bad.jsonl")
            try "{\"id\": 1, \"vector\": [1]}\n{\"id\": -3, \"vector\": [1]}\n".write(toFile: bad, atomically: true, encoding: .utf8)
            let e = #expect(throws: StoreError.self) { try JSONLinesFile.readPoints(bad) }
            #expect(e?.message.contains("bad.jsonl:2") == true)
            let broken = dir.appending("broken.jsonl")
            try "{\"id\": 1, \"vector\": [1]}\n{\"id\": 2, \"vector\": [1,}\n".write(toFile: broken, atomically: true, encoding: .utf8)
            let e2 = #expect(throws: StoreError.self) { try JSONLinesFile.readPoints(broken) }
            #expect(e2?.message.contains("broken.jsonl:2") == true)
        }
    }
}
