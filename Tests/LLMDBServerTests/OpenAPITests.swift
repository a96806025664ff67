import LLMDB
import LLMDBServer
import LLMDBService
import Testing

@Suite("OpenAPI document")
struct OpenAPITests {
    @Test("every route is in the document, under its method, with its operation id")
    func routesDocumented() throws {
        let doc = OpenAPI.document(version: "test")
        guard case .object(let paths)? = doc["paths"] else {
            Issue.record("no paths")
            return
        }
        for r in Route.all {
            let p = r.path.split(separator: "/", omittingEmptySubsequences: false)
                .map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }.joined(separator: "/")
            let item = try #require(paths.first { $0.key == p }?.value, "\(p) missing")
            let op = try #require(item[r.method.rawValue.lowercased()], "\(r.method) \(p) missing")
            #expect(op["operationId"] == .string(r.operationID))
        }
        #expect(Set(Route.all.map(\.operationID)).count == Route.all.count)
    }
}
