import IngestDatabase
import Logging
import ServiceLifecycle

/// Keeps the tables fit for a year (docs/design.md §4.3): at start and then
/// every `interval` (an hour) one round of `PostgresTradeWriter.maintainTables`,
/// which creates the partitions of today and `PARTITIONS_AHEAD_DAYS` after it,
/// drops those older than `RETENTION_DAYS` and deletes side-table rows older
/// than `SIDE_RETENTION_DAYS`. Every partition dropped and every table
/// trimmed is logged. A standby of a pair does nothing: only the instance
/// that writes maintains. A failed round (the database is down, a lock was
/// not granted within 5 s) is logged and tried again after `retryAfter`.
public struct TableMaintenanceService: Service {
    let writer: PostgresTradeWriter
    let role: InstanceRole
    let interval: Duration
    let retryAfter: Duration
    let logger: Logger

    public init(
        writer: PostgresTradeWriter, role: InstanceRole, interval: Duration = .seconds(3600), retryAfter: Duration = .seconds(60),
        logger: Logger
    ) {
        self.writer = writer
        self.role = role
        self.interval = interval
        self.retryAfter = retryAfter
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isCancelled {
            var wait = interval
            if role.role != .standby {
                do {
                    Self.log(try await writer.maintainTables(), logger: logger)
                } catch {
                    logger.warning("table maintenance failed; trying again", metadata: ["error": "\(error)", "retry_in_s": "\(retryAfter.components.seconds)"])
                    wait = retryAfter
                }
            } else {
                wait = retryAfter
            }
            do {
                let pause = wait
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: pause) }
            } catch {
                return
            }
        }
    }

    static func log(_ report: TableMaintenanceReport, logger: Logger) {
        if report.partitionsCreated > 0 {
            logger.info("partitions created ahead", metadata: ["partitions": "\(report.partitionsCreated)"])
        }
        for partition in report.partitionsDropped {
            logger.notice("partition dropped by RETENTION_DAYS", metadata: ["partition": "\(partition)"])
        }
        for (table, rows) in report.sideRowsDeleted.sorted(by: { $0.key < $1.key }) where rows > 0 {
            logger.notice("old rows deleted by SIDE_RETENTION_DAYS", metadata: ["table": "\(table)", "rows": "\(rows)"])
        }
    }
}
