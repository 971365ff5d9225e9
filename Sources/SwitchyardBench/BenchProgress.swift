/// Where a benchmark is: its current step and, for a step made of countable work, how much is done.
///
/// Benchmarks report through a `(BenchProgress) -> Void` closure; the CLI draws it on standard error (in
/// place on a terminal). A step with `total == 0` is not counted.
public struct BenchProgress: Sendable, Equatable {
    public var step: String
    public var done: Int
    public var total: Int

    public init(_ step: String, done: Int = 0, total: Int = 0) {
        self.step = step
        self.done = done
        self.total = total
    }
}
