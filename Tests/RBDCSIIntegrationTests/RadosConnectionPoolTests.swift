import CephAccess
import Synchronization
import Testing

@Suite("librados connection pool on the local cluster", .enabled(if: CephTestCluster.isConfigured))
struct RadosConnectionPoolTests {
    /// What the plugin does once serving stopped: every pooled connection is shut down (its
    /// librados threads joined) before the process exits, and no new one is opened.
    @Test func closeShutsEveryConnectionDownAndRefusesNewOnes() async throws {
        let pool = RadosConnectionPool(limit: .seconds(10))
        let used = Mutex<RadosConnection?>(nil)
        let poolID = try await pool.withConnection(to: CephTestCluster.access, operation: "look up the pool") { connection in
            used.withLock { $0 = connection }
            return try connection.poolID(named: CephTestCluster.pool)
        }
        #expect(poolID >= 0)
        #expect(await pool.count == 1)
        let connection = try #require(used.withLock { $0 })
        #expect(!connection.isShutDown)

        await pool.close()
        #expect(connection.isShutDown)
        #expect(await pool.count == 0)
        await #expect {
            _ = try await pool.withConnection(to: CephTestCluster.access, operation: "look up the pool") { try $0.poolID(named: CephTestCluster.pool) }
        } throws: { error in
            "\(error)".contains("shutting down")
        }
    }
}
