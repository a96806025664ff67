public import LLMDB

/// A collection's schema: a JSON Schema document in the supported subset
/// (docs/schemas-and-migrations.md): `type` (a name or a list of names: object, array,
/// string, number, integer, boolean, null), `properties`, `required`, `enum`, `items`,
/// `minimum`/`maximum`, `minLength`/`maxLength`, `minItems`/`maxItems`, `pattern`,
/// `additionalProperties` (true, false or a schema), `description` and `title`; nested to
/// any depth.
public struct Schema: Sendable, Hashable {
    public let json: JSONValue

    static let keywords: Set<String> = [
        "type", "properties", "required", "enum", "items", "minimum", "maximum", "minLength", "maxLength",
        "minItems", "maxItems", "pattern", "additionalProperties", "description", "title", "$schema",
    ]
    static let typeNames: Set<String> = ["object", "array", "string", "number", "integer", "boolean", "null"]

    /// Checks that `json` is a schema of the subset; every problem is listed with its path.
    public init(_ json: JSONValue) throws(LLMDBError) {
        var problems: [String] = []
        Self.check(json, "$", &problems)
        if !problems.isEmpty {
            throw LLMDBError(
                .invalidSchema,
                "the schema is not in the supported JSON Schema subset: " + problems.joined(separator: "; ")
            )
        }
        self.json = json
    }

    static func check(_ s: JSONValue, _ at: String, _ problems: inout [String]) {
        guard case .object(let members) = s else {
            problems.append("\(at): a schema must be a JSON object")
            return
        }
        for m in members where !keywords.contains(m.key) {
            problems.append("\(at): unsupported keyword '\(m.key)'")
        }
        if let t = s["type"] {
            let names: [JSONValue]
            if case .array(let list) = t { names = list } else { names = [t] }
            for n in names {
                guard case .string(let name) = n, typeNames.contains(name) else {
                    problems.append("\(at).type: \(n.text) is not one of \(typeNames.sorted().joined(separator: ", "))")
                    continue
                }
            }
        }
        if let p = s["properties"] {
            if case .object(let props) = p {
                for prop in props { check(prop.value, "\(at).properties.\(prop.key)", &problems) }
            } else {
                problems.append("\(at).properties: must be an object of schemas")
            }
        }
        if let r = s["required"] {
            if case .array(let names) = r, names.allSatisfy({ if case .string = $0 { true } else { false } }) {
            } else {
                problems.append("\(at).required: must be an array of property names")
            }
        }
        if let e = s["enum"], case .array = e {
        } else if s["enum"] != nil {
            problems.append("\(at).enum: must be an array of values")
        }
        if let i = s["items"] { check(i, "\(at).items", &problems) }
        if let a = s["additionalProperties"] {
            if case .bool = a {} else { check(a, "\(at).additionalProperties", &problems) }
        }
        for k in ["minimum", "maximum"] where s[k] != nil && JSONOrder.number(s[k]!) == nil {
            problems.append("\(at).\(k): must be a number")
        }
        for k in ["minLength", "maxLength", "minItems", "maxItems"] {
            if let v = s[k] {
                if case .int(let n) = v, n >= 0 {
                } else {
                    problems.append("\(at).\(k): must be a non-negative integer")
                }
            }
        }
        if let p = s["pattern"] {
            if case .string(let text) = p {
                if (try? Regex(text)) == nil {
                    problems.append("\(at).pattern: '\(text)' is not a valid regular expression")
                }
            } else {
                problems.append("\(at).pattern: must be a string")
            }
        }
    }

    /// Every way `doc` violates the schema, each with its JSON path (`$.address.city`).
    public func violations(of doc: JSONValue) -> [String] {
        var out: [String] = []
        Self.validate(doc, json, "$", &out)
        return out
    }

    static func typeName(_ v: JSONValue) -> String {
        switch v {
        case .null: "null"
        case .bool: "boolean"
        case .int, .uint: "integer"
        case .double(let d): d == d.rounded() ? "integer" : "number"
        case .string: "string"
        case .binary: "binary"
        case .array: "array"
        case .object: "object"
        }
    }

    static func validate(_ v: JSONValue, _ s: JSONValue, _ at: String, _ out: inout [String]) {
        if let t = s["type"] {
            var names: [String] = []
            if case .array(let list) = t {
                for case .string(let n) in list { names.append(n) }
            } else if case .string(let n) = t {
                names = [n]
            }
            let actual = typeName(v)
            let ok = names.contains(actual) || (actual == "integer" && names.contains("number"))
            if !ok {
                out.append("\(at): expected \(names.joined(separator: " or ")), found \(actual)")
                return
            }
        }
        if case .array(let allowed)? = s["enum"], !allowed.contains(where: { JSONOrder.equal($0, v) }) {
            out.append("\(at): not one of the allowed values")
        }
        if let n = JSONOrder.number(v) {
            if let m = s["minimum"], let min = JSONOrder.number(m), n < min {
                out.append("\(at): less than the minimum \(m.text)")
            }
            if let m = s["maximum"], let max = JSONOrder.number(m), n > max {
                out.append("\(at): more than the maximum \(m.text)")
            }
        }
        if case .string(let str) = v {
            let count = str.count
            if case .int(let min)? = s["minLength"], count < min {
                out.append("\(at): \(count) characters, fewer than minLength \(min)")
            }
            if case .int(let max)? = s["maxLength"], count > max {
                out.append("\(at): \(count) characters, more than maxLength \(max)")
            }
            if case .string(let p)? = s["pattern"], let re = try? Regex(p), (try? re.firstMatch(in: str)) == nil {
                out.append("\(at): does not match the pattern \(p)")
            }
        }
        if case .array(let items) = v {
            if case .int(let min)? = s["minItems"], items.count < min {
                out.append("\(at): \(items.count) items, fewer than minItems \(min)")
            }
            if case .int(let max)? = s["maxItems"], items.count > max {
                out.append("\(at): \(items.count) items, more than maxItems \(max)")
            }
            if let itemSchema = s["items"] {
                for (i, item) in items.enumerated() { validate(item, itemSchema, "\(at)[\(i)]", &out) }
            }
        }
        if case .object(let members) = v {
            var props: [String: JSONValue] = [:]
            if case .object(let p)? = s["properties"] { for m in p { props[m.key] = m.value } }
            if case .array(let req)? = s["required"] {
                for case .string(let name) in req where v[name] == nil {
                    out.append("\(at).\(name): required but missing")
                }
            }
            for m in members {
                if let ps = props[m.key] {
                    validate(m.value, ps, "\(at).\(m.key)", &out)
                } else if let extra = s["additionalProperties"] {
                    if case .bool(false) = extra {
                        out.append("\(at).\(m.key): not allowed (additionalProperties is false)")
                    } else if case .object = extra {
                        validate(m.value, extra, "\(at).\(m.key)", &out)
                    }
                }
            }
        }
    }

    /// The differences from `old` to `self`, one line each with its path: properties added
    /// or removed, types changed, required changed, other keywords changed.
    public func diff(from old: Schema) -> [String] {
        var out: [String] = []
        Self.diff(old.json, json, "$", &out)
        return out
    }

    static func diff(_ a: JSONValue, _ b: JSONValue, _ at: String, _ out: inout [String]) {
        var propsA: [String: JSONValue] = [:]
        var propsB: [String: JSONValue] = [:]
        if case .object(let p)? = a["properties"] { for m in p { propsA[m.key] = m.value } }
        if case .object(let p)? = b["properties"] { for m in p { propsB[m.key] = m.value } }
        for k in propsB.keys.sorted() where propsA[k] == nil { out.append("+ \(at).\(k): added (\(propsB[k]!.text))") }
        for k in propsA.keys.sorted() where propsB[k] == nil { out.append("- \(at).\(k): removed") }
        for k in propsA.keys.sorted() where propsB[k] != nil { diff(propsA[k]!, propsB[k]!, "\(at).\(k)", &out) }
        for key in keywords.sorted() where key != "properties" {
            let x = a[key]
            let y = b[key]
            if x == y { continue }
            if key == "items", let x, let y {
                diff(x, y, "\(at)[]", &out)
                continue
            }
            out.append("~ \(at) \(key): \(x?.text ?? "(none)") -> \(y?.text ?? "(none)")")
        }
    }
}
