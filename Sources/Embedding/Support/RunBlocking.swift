import Dispatch

/// Runs async work from a synchronous caller and waits for it: for the CLI's main thread and the
/// operation workers' own threads, which are not Swift concurrency executors, so blocking them on a
/// semaphore cannot starve the cooperative pool the work runs on.
///
/// ```swift
/// let vectors = try runBlocking { try await embedder.embed(["text"]) }
/// ```
///
/// - Throws: Whatever `body` throws.
public func runBlocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task.detached {
        do { box.set(.success(try await body())) } catch { box.set(.failure(error)) }
        done.signal()
    }
    done.wait()
    return try box.get()
}

private final class ResultBox<T: Sendable>: @unchecked Sendable {
    // @unchecked: written once by the task before the semaphore is signalled, read after the wait.
    private var result: Result<T, any Error>?
    func set(_ r: Result<T, any Error>) { result = r }
    func get() throws -> T { try result!.get() }
}
