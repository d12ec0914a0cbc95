/// Host paths that are never visible inside a sandbox, whatever the profile mounts.
public enum SensitivePaths {
    /// Relative to the user's home.
    public static let inHome = [
        ".ssh", ".aws", ".config/gcloud", ".azure", ".gnupg", ".netrc", ".docker", ".kube", ".password-store",
        ".local/share/keyrings", ".pki", ".git-credentials", ".config/gh", ".npmrc", ".pypirc", ".cargo/credentials.toml",
        ".cargo/credentials", ".bash_history", ".zsh_history", ".history", ".python_history", ".node_repl_history",
        ".psql_history", ".mysql_history", ".sqlite_history", ".lesshst", ".local/share/fish/fish_history",
        ".config/cordon", ".local/state/cordon",
    ]
    /// Absolute host paths.
    public static let absolute = [
        "/root", "/home", "/run/docker.sock", "/var/run/docker.sock", "/run/containerd", "/run/user",
        "/run/dbus", "/var/run/dbus",
    ]
    /// `/etc` entries hidden inside (the rest of /etc is visible read-only).
    public static let etc = [
        "/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/passwd-", "/etc/group-",
        "/etc/sudoers", "/etc/sudoers.d", "/etc/ssh", "/etc/ssl/private", "/etc/security/opasswd",
        "/etc/docker", "/etc/containerd", "/etc/subuid", "/etc/subgid", "/etc/krb5.keytab", "/etc/cordon",
    ]
    /// Environment variables never passed in (their sockets are not visible either).
    public static let environment = ["SSH_AUTH_SOCK", "SSH_AGENT_PID", "DBUS_SESSION_BUS_ADDRESS", "DOCKER_HOST", "GPG_AGENT_INFO", "XDG_RUNTIME_DIR"]
}
