import ArgumentParser
import Foundation
import Logging
import Switchyard

/// The `switchyard` command.
@main
struct SwitchyardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchyard",
        abstract: "An embedded Qdrant stand-in and blue-green reindex harness.",
        subcommands: [DebugCommand.self],
        // The groups of docs/cli.md, in its order.
        groupedSubcommands: [
            CommandGroup(name: "The main job", subcommands: [DemoCommand.self]),
            CommandGroup(name: "Managed collections and their operations", subcommands: [
                IndexCommand.self, AppendCommand.self, RemoveSourceCommand.self, ManagedCollectionsCommand.self, OpsCommand.self,
                WorkerCommand.self, AuditCommand.self, LimitsCommand.self,
            ]),
            CommandGroup(name: "Blue-green reindex and quality", subcommands: [
                ReindexCommand.self, RollbackCommand.self, CompareCommand.self, SearchCommand.self,
            ]),
            CommandGroup(name: "Serving and metrics", subcommands: [ServeCommand.self, MetricsCommand.self]),
            CommandGroup(name: "The physical store", subcommands: [StoreCommand.self]),
            CommandGroup(name: "Embedders and data", subcommands: [EmbedCommand.self, ModelsCommand.self, DatasetsCommand.self]),
            CommandGroup(name: "Benchmarks", subcommands: [BenchCommand.self]),
        ]
    )

    /// Parses, runs, and maps failures to the exit codes of the CLI contract:
    /// 0 success, 1 operation failed, 2 bad usage or bad input.
    static func main() {
        do {
            var command = try parseAsRoot()
            try bootstrapLogging(for: command)
            try command.run()
        } catch let e as StoreError {
            FileHandle.standardError.write(Data("error: \(e.description)\n".utf8))
            Foundation.exit(e.isRuntimeFailure ? 1 : 2)
        } catch let e as EmbeddingError {
            FileHandle.standardError.write(Data("error: \(e.description)\n".utf8))
            Foundation.exit(e.code == .transient || e.code == .io ? 1 : 2)
        } catch let e as OperationsError {
            FileHandle.standardError.write(Data("error: \(e.description)\n".utf8))
            Foundation.exit(e.isUsageError ? 2 : 1)
        } catch let e as CLIFailure {
            FileHandle.standardError.write(Data("error: \(e.message)\n".utf8))
            Foundation.exit(e.exitCode)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                exit(withError: error)
            }
            FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
            Foundation.exit(code == ExitCode.validationFailure ? 2 : code.rawValue == 64 ? 2 : (code.rawValue == 0 ? 0 : 2))
        }
    }
}

/// Commands that take `--log-level` (those that run operations).
protocol ChoosesLogLevel {
    var logLevel: String? { get }
}

extension WorkerCommand: ChoosesLogLevel { var logLevel: String? { settings.logLevel } }
extension IndexCommand: ChoosesLogLevel { var logLevel: String? { enqueue.worker.logLevel } }
extension AppendCommand: ChoosesLogLevel { var logLevel: String? { enqueue.worker.logLevel } }
extension RemoveSourceCommand: ChoosesLogLevel { var logLevel: String? { enqueue.worker.logLevel } }
extension ReindexCommand: ChoosesLogLevel { var logLevel: String? { enqueue.worker.logLevel } }
extension ManagedCollectionsCommand.Create: ChoosesLogLevel { var logLevel: String? { enqueue.worker.logLevel } }
extension ManagedCollectionsCommand.Delete: ChoosesLogLevel { var logLevel: String? { enqueue.worker.logLevel } }

/// Sends swift-log's messages to standard error from the level `--log-level` names, else
/// `$SWITCHYARD_LOG_LEVEL`, else `warning`.
func bootstrapLogging(for command: any ParsableCommand) throws {
    var level = Logger.Level.warning
    if let fromEnvironment = ProcessInfo.processInfo.environment["SWITCHYARD_LOG_LEVEL"], !fromEnvironment.isEmpty {
        if let l = Log.level(named: fromEnvironment) { level = l } else {
            // A bad variable in the environment must not stop every command: say so and go on.
            note("warning: SWITCHYARD_LOG_LEVEL '\(fromEnvironment)' is not one of \(Log.levelNames.joined(separator: ", ")); using warning")
        }
    }
    // --log-level was checked while parsing.
    if let chosen = (command as? any ChoosesLogLevel)?.logLevel, let l = Log.level(named: chosen) { level = l }
    let chosenLevel = level
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = chosenLevel
        return handler
    }
}

/// A failure the CLI reports with its own exit code.
struct CLIFailure: Error {
    var message: String
    var exitCode: Int32 = 2
}

/// Options every store command takes.
struct StoreLocation: ParsableArguments {
    @Option(name: .long, help: "The store directory (created when missing for commands that write).")
    var store: String

    func open(create: Bool = false, preload: Bool = false) throws -> Store {
        var o = Store.Options()
        o.create = create
        o.preload = preload
        let s = try Store.open(at: store, options: o)
        BLASRuntime.warnIfSlowOnce()
        return s
    }
}

/// Writes a line to standard output.
func emit(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

/// Writes progress to standard error (kept apart from the JSON on standard output).
func note(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
