import CordonCore
import CordonPolicy
import CordonUsage
import Yams

/// usage: providers metered beyond the built-in catalogue, token budgets and their thresholds.
extension ProfileLayerParser {
    static let usageKeys = ["providers", "budgets", "warn_at", "block_at"]

    mutating func parseUsage(_ node: Node) -> ProfileLayer.Usage {
        var result = ProfileLayer.Usage()
        guard let entries = reader.mapping(node, "usage", keys: Self.usageKeys) else { return result }
        var budgetsNode: Node?
        var warnNode: Node?
        for (key, _, value) in entries {
            let field = "usage." + key
            switch key {
            case "providers": result.providers = parseUsageProviders(value, field)
            case "budgets": budgetsNode = value
            case "warn_at":
                result.warnAt = percentage(value, field)
                warnNode = value
            case "block_at": result.blockAt = percentage(value, field)
            default: break
            }
        }
        // Budgets last: their provider may be one this section defines.
        if let budgetsNode { result.budgets = parseBudgets(budgetsNode, "usage.budgets", providers: result.providers) }
        if let warn = result.warnAt, let block = result.blockAt, warn >= block, let warnNode {
            reader.report(
                warnNode, "usage.warn_at", "\(warn) is not below block_at (\(block)): the warning would never come before the refusal",
                hint: "warn first, e.g. `warn_at: 80` with `block_at: 95`")
            result.warnAt = nil
        }
        return result
    }

    private mutating func percentage(_ node: Node, _ field: String) -> Int? {
        guard let value = reader.positiveInt(node, field) else { return nil }
        guard value <= 100 else {
            reader.report(node, field, "\(value) is not a percentage from 1 to 100", hint: "write a whole number from 1 to 100, e.g. 80")
            return nil
        }
        return value
    }

    private mutating func parseUsageProviders(_ node: Node, _ field: String) -> [UsageProvider] {
        guard let items = reader.sequence(node, field) else { return [] }
        var result: [UsageProvider] = []
        var used: [String: String] = [:]
        let example = "write `- {name: local, domain: llm.example.test, path: /v1/, format: openai}`"
        for (index, item) in items.enumerated() {
            let path = "\(field)[\(index)]"
            guard item.mapping != nil else {
                reader.report(item, path, "expected {name, domain, path, format}, found \(NodeReader.describe(item))", hint: example)
                continue
            }
            guard let entries = reader.mapping(item, path, keys: ["name", "domain", "path", "format"]) else { continue }
            var name: String?, domain: String?, prefix: String?, format: UsageFormat?, ok = true
            for (key, _, value) in entries {
                let keyPath = path + "." + key
                switch key {
                case "name":
                    name = checkedName(value, keyPath, hint: "name the provider with letters, digits, \".\", \"_\" and \"-\"")
                    ok = ok && name != nil
                case "domain":
                    if let text = reader.string(value, keyPath) {
                        switch EgressConfiguration.pinnedName(text) {
                        case .success(let host): domain = host.value
                        case .failure(let problem):
                            reader.report(value, keyPath, problem.message, hint: "write the API's host name, without scheme, port or wildcard")
                        }
                    }
                    ok = ok && domain != nil
                case "path":
                    if let text = reader.string(value, keyPath) {
                        if text.hasPrefix("/"), !text.contains(where: { $0 == "?" || $0 == "#" || $0.isWhitespace }) {
                            prefix = text
                        } else {
                            reader.report(
                                value, keyPath, "\"\(text)\" is not a URL path prefix", hint: "write the path the API's requests start with, e.g. /v1/")
                        }
                    }
                    ok = ok && prefix != nil
                case "format":
                    format = reader.choice(value, keyPath, UsageFormat.self)
                    ok = ok && format != nil
                default: break
                }
            }
            guard ok, let name = requireKey(name, "name", item, path), let domain = requireKey(domain, "domain", item, path),
                let prefix = requireKey(prefix, "path", item, path), let format = requireKey(format, "format", item, path)
            else { continue }
            let key = domain + prefix
            if let first = used[key] {
                reader.report(item, path, "\(domain)\(prefix) is already metered by \(first)", hint: "write each domain and path once")
                continue
            }
            used[key] = path
            result.append(UsageProvider(name: name, domain: domain, pathPrefix: prefix, format: format))
        }
        return result
    }

    private mutating func parseBudgets(_ node: Node, _ field: String, providers: [UsageProvider]) -> [Budget] {
        guard let items = reader.sequence(node, field) else { return [] }
        let known = ProviderCatalogue.builtinNames + providers.map(\.name).filter { !ProviderCatalogue.builtinNames.contains($0) }
        var result: [Budget] = []
        for (index, item) in items.enumerated() {
            let path = "\(field)[\(index)]"
            guard item.mapping != nil else {
                reader.report(
                    item, path, "expected {tokens, per, provider}, found \(NodeReader.describe(item))",
                    hint: "write `- {tokens: 1000000, per: day}` or `- {tokens: 5000000, per: month, provider: openai}`")
                continue
            }
            guard let entries = reader.mapping(item, path, keys: ["tokens", "per", "provider"]) else { continue }
            var tokens: Int?, per: Budget.Period?, provider: String?, ok = true
            for (key, _, value) in entries {
                let keyPath = path + "." + key
                switch key {
                case "tokens":
                    tokens = reader.positiveInt(value, keyPath)
                    if let n = tokens, n > Budget.maximumTokens {
                        reader.report(
                            value, keyPath, "\(n) is more than \(Budget.maximumTokens) tokens", hint: "write a smaller budget, or leave the budget out")
                        tokens = nil
                    }
                    ok = ok && tokens != nil
                case "per":
                    per = reader.choice(value, keyPath, Budget.Period.self)
                    ok = ok && per != nil
                case "provider":
                    if let text = reader.string(value, keyPath) {
                        if known.contains(text) {
                            provider = text
                        } else {
                            let hint = Suggestion.closest(to: text, among: known).map { "did you mean \"\($0)\"? " } ?? ""
                            reader.report(
                                value, keyPath, "unknown provider \"\(text)\"",
                                hint: hint + "use one of: \(known.joined(separator: ", ")), or define it under usage.providers in this file")
                        }
                    }
                    ok = ok && provider != nil
                default: break
                }
            }
            guard ok, let tokens = requireKey(tokens, "tokens", item, path), let per = requireKey(per, "per", item, path) else { continue }
            let budget = Budget(tokens: tokens, per: per, provider: provider)
            if let index = result.firstIndex(where: { $0.per == per && $0.provider == provider }) { result[index] = budget } else { result.append(budget) }
        }
        return result
    }
}
