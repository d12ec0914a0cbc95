import CordonCore
@testable import CordonConfig

enum Fixture {
    static let home = "/home/tester"
    static let paths = CordonPaths(configHome: "/nonexistent/cordon-config", stateHome: "/nonexistent/cordon-state")

    static func loader(user: [(name: String, path: String, yaml: String)] = []) -> ProfileLoader {
        ProfileLoader(paths: paths, homeDirectory: home, catalog: PresetCatalog(user: user))
    }

    static func parse(_ yaml: String, user: [(name: String, path: String, yaml: String)] = []) throws -> Profile {
        try loader(user: user).parse(yaml: yaml, file: "/projects/app/profile.yaml")
    }

    static func diagnostics(_ yaml: String, user: [(name: String, path: String, yaml: String)] = []) throws -> [ProfileDiagnostic] {
        try loader(user: user).validate(yaml: yaml, file: "profile.yaml").diagnostics
    }
}
