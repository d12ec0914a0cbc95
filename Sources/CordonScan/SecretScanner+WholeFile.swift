extension SecretScanner {
    /// The whole scan of one file: its bytes as written (always, binary or not), then what lies
    /// beneath: members of compressed files and archives, UTF-16 text, the printable runs of a
    /// binary file, and encoded segments, decoded round by round.
    func scanAll(_ bytes: UnsafeBufferPointer<UInt8>, path: String, session: Session) -> [Finding] {
        let budget = ScanBudget(limits: limits, inputSize: bytes.count)
        return scanFile(bytes, path: path, member: nil, nesting: 0, budget: budget, session: session)
    }

    /// `path` is the file the gate holds; `member` the chain below it (`a/b.env`, or
    /// `inner.tar.gz!/x`), nil for the file itself. Path rules see `path!/member`.
    private func scanFile(_ bytes: UnsafeBufferPointer<UInt8>, path: String, member: String?, nesting: Int, budget: ScanBudget, session: Session) -> [Finding] {
        let shown = member.map { path + "!/" + $0 } ?? path
        var own = scanText(bytes, path: shown, session: session, pathRules: true, lineSource: nil)
        var nested: [Finding] = []
        if let format = ArchiveReader.format(bytes) {
            if nesting >= limits.archiveDepth {
                own.append(
                    held(
                        "scan-archive-limit",
                        "\(format.rawValue) nested \(nesting + 1) deep (the scanner reads \(limits.archiveDepth) levels): its contents are not scanned",
                        path: shown))
            } else {
                let problems = ArchiveReader.read(bytes, format: format, name: member ?? path, budget: budget) { name, content in
                    let chain = member.map { $0 + "!/" + name } ?? name
                    nested += scanFile(content, path: path, member: chain, nesting: nesting + 1, budget: budget, session: session)
                }
                for problem in problems {
                    switch problem {
                    case .limit(let why):
                        own.append(held("scan-archive-limit", "\(format.rawValue): \(why)", path: shown))
                    case .unreadable(let name, let why):
                        let at = name.map { "member \($0)" } ?? format.rawValue
                        own.append(held("scan-archive-unreadable", "\(at) not scanned: \(why)", path: shown))
                    }
                }
            }
        }
        if let (text, encoding) = ScanDecoders.utf16(bytes) {
            text.withUnsafeBufferPointer { text in
                own += scanText(text, path: shown, session: session, pathRules: false, lineSource: nil).map { finding in
                    var finding = finding
                    finding.decoded = [encoding]
                    return finding
                }
                own += decodeRounds(text, lineSource: text, path: shown, via: [encoding], known: own, budget: budget, session: session)
            }
        } else if Self.isBinary(bytes) {
            // The raw pass saw every byte; this one sees the text runs as `strings` prints them,
            // each ending where a line would (rules that need a delimiter after the secret).
            let runs = ScanDecoders.printableRuns(bytes)
            runs.withUnsafeBufferPointer { runs in
                let seen = Set(own.map { "\($0.ruleID)\u{0}\($0.line ?? 0)\u{0}\($0.column ?? 0)" })
                own += scanText(runs, path: shown, session: session, pathRules: false, lineSource: bytes).filter {
                    !seen.contains("\($0.ruleID)\u{0}\($0.line ?? 0)\u{0}\($0.column ?? 0)")
                }
                own += decodeRounds(runs, lineSource: bytes, path: shown, via: [], known: own, budget: budget, session: session)
            }
        } else {
            own += decodeRounds(bytes, lineSource: bytes, path: shown, via: [], known: own, budget: budget, session: session)
        }
        if let member {
            for index in own.indices {
                own[index].path = path
                own[index].member = member
            }
        }
        return own + nested
    }

    func held(_ rule: String, _ message: String, path: String) -> Finding {
        Finding(
            ruleID: rule, severity: .approval, path: path, message: message,
            fix: "review \(path) by hand (its contents were not all scanned for secrets); approve with --yes or at the prompt")
    }
}
