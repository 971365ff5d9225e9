import Testing
import VectorStore

@Suite("Filter parsing")
struct FilterParsingTests {
    @Test("must, should and must_not take one condition or a list")
    func singleOrList() throws {
        for clause in ["must", "should", "must_not"] {
            let one = try Filter(json: #"{"\#(clause)": {"key": "a", "match": {"value": 1}}}"#)
            let list = try Filter(json: #"{"\#(clause)": [{"key": "a", "match": {"value": 1}}]}"#)
            #expect(one == list, "\(clause)")
            #expect(!one.isEmpty)
        }
        let f = try Filter(json: #"{"must": {"key": "a", "match": {"value": "x"}}}"#)
        #expect(f.must == [.field(key: try PayloadPath("a"), FieldCondition(match: .value(.string("x"))))])
    }

    @Test("parses every condition kind")
    func kinds() throws {
        let f = try Filter(json: """
            {"must": [
                {"key": "a.b", "match": {"value": true}},
                {"key": "n", "range": {"gt": 1, "lte": 2.5}},
                {"key": "tags", "match": {"any": ["x", 3]}},
                {"key": "tags", "match": {"except": ["y"]}},
                {"key": "text", "match": {"text": "ell"}},
                {"key": "arr", "values_count": {"gte": 2}},
                {"is_empty": {"key": "e"}},
                {"is_null": {"key": "z"}},
                {"has_id": [1, "550e8400-e29b-41d4-a716-446655440000"]},
                {"nested": {"key": "items", "filter": {"must": {"key": "k", "match": {"value": 1}}}}},
                {"should": [], "must_not": null},
                {}
            ],
            "min_should": {"conditions": [{"key": "a", "match": {"value": 1}}], "min_count": 1}}
            """)
        #expect(f.must.count == 12)
        #expect(f.must[0] == .field(key: try PayloadPath("a.b"), FieldCondition(match: .value(.bool(true)))))
        #expect(f.must[1] == .field(key: try PayloadPath("n"), FieldCondition(range: RangeBounds(gt: 1, lte: 2.5))))
        #expect(f.must[2] == .field(key: try PayloadPath("tags"), FieldCondition(match: .any([.string("x"), .int(3)]))))
        #expect(f.must[3] == .field(key: try PayloadPath("tags"), FieldCondition(match: .except([.string("y")]))))
        #expect(f.must[4] == .field(key: try PayloadPath("text"), FieldCondition(match: .text("ell"))))
        #expect(f.must[5] == .field(key: try PayloadPath("arr"), FieldCondition(valuesCount: RangeBounds(gte: 2))))
        #expect(f.must[6] == .isEmpty(key: try PayloadPath("e")))
        #expect(f.must[7] == .isNull(key: try PayloadPath("z")))
        #expect(f.must[8] == .hasID([.number(1), PointID(parsing: "550e8400-e29b-41d4-a716-446655440000")!]))
        guard case .nested(let key, let inner) = f.must[9] else {
            Issue.record("expected a nested condition, got \(f.must[9])")
            return
        }
        #expect(key == (try PayloadPath("items")))
        #expect(inner.must.count == 1)
        #expect(f.must[10] == .filter(Filter()))
        #expect(f.must[11] == .filter(Filter()))
        #expect(f.minShould?.minCount == 1)
        #expect(f.minShould?.conditions.count == 1)
        #expect(try Filter(json: "{}").isEmpty)
        #expect(try Filter(json: #"{"must": null, "should": []}"#).isEmpty)
    }

    @Test("errors name the place in the filter", arguments: [
        (#"{"must": [{"key": "a", "match": {"vale": 1}}]}"#, "filter.must[0].match: unknown member 'vale'"),
        (#"{"must": [{"key": "a", "match": {"value": 1}}, 5]}"#, "filter.must[1]: expected an object, got integer"),
        (#"{"should": [{"key": "a"}]}"#, "filter.should[0]: a field condition needs"),
        (#"{"must_not": [{}, {"key": "a", "range": {"gt": true}}]}"#, "filter.must_not[1].range.gt: expected a number"),
        (#"{"must_not": {"key": "a", "range": {"gt": "2024-01-01"}}}"#, "filter.must_not.range.gt: datetime ranges are not supported"),
        (#"{"must": [{"nested": {"key": "a", "filter": {"must": [{"key": "b", "match": {"value": 1.5}}]}}}]}"#,
         "filter.must[0].nested.filter.must[0].match.value: match value must be"),
        (#"{"must": [{"nested": {"key": "a"}}]}"#, "filter.must[0].nested: missing 'filter'"),
        (#"{"mus": []}"#, "filter: unknown member 'mus'"),
        ("[]", "filter: expected an object, got array"),
        (#"{"must": [{"has_id": [1, "x"]}]}"#, "filter.must[0].has_id[1]: not a point id"),
        (#"{"must": [{"has_id": 1}]}"#, "filter.must[0].has_id: expected an array"),
        (#"{"must": [{"key": "a", "match": {"value": 1, "any": [1]}}]}"#, "filter.must[0].match: expected exactly one"),
        (#"{"must": [{"key": "a", "match": {"any": [1.5]}}]}"#, "filter.must[0].match.any[0]: expected a string or an integer"),
        (#"{"must": [{"key": "a", "match": {"except": 1}}]}"#, "filter.must[0].match.except: expected an array"),
        (#"{"min_should": {"conditions": [], "min_count": -1}}"#, "filter.min_should.min_count"),
        (#"{"min_should": {"min_count": 1}}"#, "filter.min_should: missing 'conditions'"),
        (#"{"must": [{"geo_radius": {}}]}"#, "filter.must[0]: 'geo_radius' conditions are not supported"),
        (#"{"must": [{"key": "a", "values_count": {"gt": 1.5}}]}"#, "filter.must[0].values_count.gt: expected an integer"),
        (#"{"must": [{"is_empty": {"field": "a"}}]}"#, "filter.must[0].is_empty"),
        (#"{"must": [{"is_null": {"key": 3}}]}"#, "filter.must[0].is_null.key: expected a string"),
        (#"{"must": [{"foo": 1}]}"#, "filter.must[0]: unknown condition"),
        (#"{"must": [{"key": "a", "match": {"value": 1}, "extra": 2}]}"#, "filter.must[0]: unknown member 'extra'"),
        (#"{"should": [{"must": [{"key": 1, "match": {"value": 1}}]}]}"#, "filter.should[0].must[0].key: expected a string"),
        (#"{"must": [{"key": "a..b", "match": {"value": 1}}]}"#, "filter.must[0].key"),
        (#"{"must": [{"is_empty": {"key": ""}}]}"#, "filter.must[0].is_empty.key"),
        (#"{"must": ["#, "malformed filter: invalid JSON at byte 10"),
    ])
    func errors(json: String, expected: String) {
        let error = #expect(throws: StoreError.self) { try Filter(json: json) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains(expected) == true, "got: \(error?.message ?? "no error")")
    }

    @Test("a filter encoded to Qdrant JSON parses back to the same filter (what the Qdrant client sends)", arguments: [
        #"{"must": [{"key": "city", "match": {"value": "Berlin"}}, {"key": "n", "range": {"gte": 1.5, "lt": 9}}]}"#,
        #"{"should": [{"key": "c", "match": {"any": ["red", "blue"]}}, {"key": "n", "match": {"except": [1, 2]}}], "must_not": [{"is_empty": {"key": "tags"}}]}"#,
        #"{"must": [{"is_null": {"key": "a.b[].c"}}, {"has_id": [3, 1, "5c56c793-69f3-4fbf-87e6-c4bf54c28c26"]}, {"key": "t", "match": {"text": "x y"}}]}"#,
        #"{"must": [{"nested": {"key": "diet", "filter": {"must": [{"key": "food", "match": {"value": true}}]}}}, {"must_not": [{"key": "k", "values_count": {"gt": 2}}]}]}"#,
        #"{"min_should": {"conditions": [{"key": "a", "match": {"value": 1}}, {"key": "b", "match": {"value": 2}}], "min_count": 1}}"#,
        "{}",
    ])
    func encodingRoundTrips(_ text: String) throws {
        let f = try Filter(json: text)
        #expect(try Filter(json: f.json) == f)
        #expect(try Filter(json: f.json.jsonText) == f)
    }
}
