public import LLMDB
import LLMDBDocuments
import LLMDBVector

extension Database.Options {
    /// Every index kind LLMDB ships: ``builtInIndexKinds`` (JSON-path, full-text, WebAssembly
    /// without a runtime) and the vector collections' `vector` kind. `llmdb`, the server and
    /// the C library open databases with these, so that a write through any door maintains
    /// (and checks) every index it covers.
    public static var allIndexKinds: [any IndexKind] { builtInIndexKinds + [VectorIndexKind()] }
}
