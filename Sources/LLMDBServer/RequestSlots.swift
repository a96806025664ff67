import LLMDBService
import Synchronization

/// The concurrency slots of the server: at most `total` operations run at once, and at most
/// `perKey` of them for one API key, so that one key cannot take every slot. REST routes and
/// MCP tool calls over HTTP take one each, once the request is ready to run (its key checked,
/// its body read and parsed), for as long as its operation runs. `local` (no keys, on
/// loopback) is the only principal there is then, so only the total bounds it.
final class RequestSlots: Sendable {
    let total: Int
    let perKey: Int
    private let state = Mutex<(running: Int, byKey: [String: Int])>((0, [:]))

    init(total: Int, perKey: Int) {
        self.total = total
        self.perKey = perKey
    }

    static func counted(_ p: Principal) -> Bool { p.id != Principal.local.id }

    /// Takes a slot for `principal`, or throws `503 busy`.
    func acquire(_ principal: Principal) throws(APIError) {
        let counted = Self.counted(principal)
        let refusal: APIError? = state.withLock { s in
            guard s.running < total else {
                return APIError(
                    503,
                    "busy",
                    "too many requests at once (the limit is \(total), max_concurrent); retry shortly"
                )
            }
            if counted {
                let mine = s.byKey[principal.id, default: 0]
                guard mine < perKey else {
                    return APIError(
                        503,
                        "busy",
                        "the key '\(principal.name)' has \(mine) requests running, its limit (max_concurrent_per_key); retry shortly"
                    )
                }
                s.byKey[principal.id] = mine + 1
            }
            s.running += 1
            return nil
        }
        if let refusal { throw refusal }
    }

    func release(_ principal: Principal) {
        let counted = Self.counted(principal)
        state.withLock { s in
            s.running -= 1
            if counted {
                let mine = s.byKey[principal.id, default: 1] - 1
                s.byKey[principal.id] = mine > 0 ? mine : nil
            }
        }
    }

    /// Operations running now: in all, and for one key.
    var running: Int { state.withLock { $0.running } }
    func running(_ principal: Principal) -> Int { state.withLock { $0.byKey[principal.id, default: 0] } }
}
