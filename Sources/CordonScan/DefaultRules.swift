import CordonCore

/// cordon's default secret rules, in gitleaks' TOML format, written for cordon.
///
/// Each rule names a provider's documented key shape; `keywords` gate the slower confirm step;
/// the generic rule needs an assignment to a secret-like name and enough entropy. Placeholders
/// (`your-key-here`, `xxxx`, `${VAR}`, values containing EXAMPLE) are allowlisted globally.
enum DefaultRules {
    static let toml = #"""
        title = "cordon default secret rules"

        [[rules]]
        id = "aws-access-key-id"
        description = "AWS access key id"
        regex = '''\b((?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b'''
        entropy = 3.0
        keywords = ["akia", "asia", "abia", "acca", "a3t"]

        [[rules]]
        id = "aws-secret-access-key"
        description = "AWS secret access key"
        regex = '''(?i)aws[\w.-]{0,20}?(?:secret|private)[\w.-]{0,20}?['"]?\s{0,3}(?:=|:|=>|:=)\s{0,3}['"]?([A-Za-z0-9/+]{40})(?:['"\s;,]|$)'''
        entropy = 3.5
        keywords = ["aws"]

        [[rules]]
        id = "gcp-api-key"
        description = "Google Cloud API key"
        regex = '''\b(AIza[0-9A-Za-z_-]{35})(?:[^0-9A-Za-z_-]|$)'''
        entropy = 3.0
        keywords = ["aiza"]

        [[rules]]
        id = "gcp-service-account-key"
        description = "Google Cloud service account private key id"
        regex = '''"private_key_id"\s*:\s*"([a-f0-9]{40})"'''
        keywords = ["private_key_id"]

        [[rules]]
        id = "google-oauth-client-secret"
        description = "Google OAuth client secret"
        regex = '''\b(GOCSPX-[A-Za-z0-9_-]{28})(?:[^A-Za-z0-9_-]|$)'''
        keywords = ["gocspx-"]

        [[rules]]
        id = "azure-storage-account-key"
        description = "Azure storage account key"
        regex = '''(?i)AccountKey=([A-Za-z0-9+/]{86}==)'''
        keywords = ["accountkey"]

        [[rules]]
        id = "azure-ad-client-secret"
        description = "Azure AD client secret"
        regex = '''(?:^|[\\'"\x60\s>=:(,)])([a-zA-Z0-9_~.]{3}\dQ~[a-zA-Z0-9_~.-]{31,34})(?:$|[\\'"\x60\s<),])'''
        entropy = 3.0
        keywords = ["q~"]

        [[rules]]
        id = "github-token"
        description = "GitHub personal access, OAuth, app or refresh token"
        regex = '''\b((?:ghp|gho|ghu|ghs|ghr)_[0-9A-Za-z]{36})\b'''
        entropy = 3.0
        keywords = ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]

        [[rules]]
        id = "github-fine-grained-pat"
        description = "GitHub fine-grained personal access token"
        regex = '''\b(github_pat_[0-9A-Za-z_]{82})\b'''
        keywords = ["github_pat_"]

        [[rules]]
        id = "gitlab-token"
        description = "GitLab personal, project, deploy or runner token"
        regex = '''\b((?:glpat|gldt|glrt|glptt|glsoat)-[0-9A-Za-z_-]{20,})(?:[^0-9A-Za-z_-]|$)'''
        entropy = 3.0
        keywords = ["glpat-", "gldt-", "glrt-", "glptt-", "glsoat-"]

        [[rules]]
        id = "slack-token"
        description = "Slack bot, user or app token"
        regex = '''\b(xox[abposr]-[0-9]{8,13}-[0-9A-Za-z-]{10,80})\b'''
        keywords = ["xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxr-"]

        [[rules]]
        id = "slack-webhook-url"
        description = "Slack incoming webhook URL"
        regex = '''(https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{40,})'''
        keywords = ["hooks.slack.com"]

        [[rules]]
        id = "stripe-key"
        description = "Stripe secret or restricted key"
        regex = '''\b((?:sk|rk)_(?:live|test|prod)_[0-9A-Za-z]{20,99})\b'''
        entropy = 3.0
        keywords = ["sk_live_", "sk_test_", "sk_prod_", "rk_live_", "rk_test_", "rk_prod_"]

        [[rules]]
        id = "openai-api-key"
        description = "OpenAI API key"
        regex = '''\b(sk-(?:proj|svcacct|admin)?-?[A-Za-z0-9_-]{20,200}T3BlbkFJ[A-Za-z0-9_-]{20,200})(?:[^A-Za-z0-9_-]|$)'''
        keywords = ["t3blbkfj"]

        [[rules]]
        id = "anthropic-api-key"
        description = "Anthropic API or admin key"
        regex = '''\b(sk-ant-(?:api|admin|sid)\d{2}-[A-Za-z0-9_-]{80,120})(?:[^A-Za-z0-9_-]|$)'''
        keywords = ["sk-ant-"]

        [[rules]]
        id = "huggingface-token"
        description = "Hugging Face access token"
        regex = '''\b(hf_[A-Za-z]{34})\b'''
        entropy = 3.0
        keywords = ["hf_"]

        [[rules]]
        id = "npm-token"
        description = "npm access token"
        regex = '''\b(npm_[A-Za-z0-9]{36})\b'''
        entropy = 3.0
        keywords = ["npm_"]

        [[rules]]
        id = "pypi-token"
        description = "PyPI upload token"
        regex = '''\b(pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,})'''
        keywords = ["pypi-ageichlwas5vcmc"]

        [[rules]]
        id = "sendgrid-api-key"
        description = "SendGrid API key"
        regex = '''\b(SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})\b'''
        keywords = ["sg."]

        [[rules]]
        id = "digitalocean-token"
        description = "DigitalOcean access token"
        regex = '''\b(do[opr]_v1_[a-f0-9]{64})\b'''
        keywords = ["dop_v1_", "doo_v1_", "dor_v1_"]

        [[rules]]
        id = "private-key"
        description = "Private key block"
        regex = '''-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----[\s\S]{64,}?-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----'''
        keywords = ["private key"]

        [[rules]]
        id = "jwt"
        description = "JSON Web Token"
        regex = '''\b(ey[A-Za-z0-9_-]{17,}\.ey[A-Za-z0-9_-]{17,}\.[A-Za-z0-9_-]{10,}={0,2})(?:[^A-Za-z0-9_=-]|$)'''
        entropy = 3.0
        keywords = ["ey"]

        [[rules]]
        id = "generic-api-key"
        description = "High-entropy value assigned to a secret-like name"
        regex = '''(?i)[\w.-]{0,50}?(?:access|auth|api|credential|creds|key|passwd|password|pwd|secret|token)(?:[ \t\w.-]{0,20})[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}([\w.=~+/-]{16,150})(?:[\x60'"\s;,]|\\[nr]|$)'''
        entropy = 3.7
        keywords = ["access", "api", "auth", "key", "credential", "creds", "passwd", "password", "pwd", "secret", "token"]
        [[rules.allowlists]]
        description = "identifiers (no digit, or words around one digit run), digests, paths and references rather than values"
        regexTarget = "secret"
        regexes = [
          '''^[a-z]+\d*(?:[._-][a-z]+\d*)+$''',
          '''^[A-Z]+\d*(?:_[A-Z]+\d*)+$''',
          '''^[A-Za-z_.-]+$''',
          '''^_*[A-Z][a-z]*\d{2,}(?:[A-Z][a-z]+)+$''',
          '''^(?:sha(?:1|224|256|384|512)|md5)[=-]''',
          '''^(?:[A-Za-z_][A-Za-z0-9_]*\.)+[A-Za-z_][A-Za-z0-9_]*$''',
          '''^/''',
          '''^[a-f0-9]{40}$''',
          '''^[a-f0-9]{64}$''',
        ]
        stopwords = ["process.env", "os.environ", "getenv", "function", "return", "import", "require", "config.", "settings.", "self.", "this."]

        [[allowlists]]
        description = "placeholders, documentation examples and lock files"
        regexTarget = "secret"
        regexes = [
          '''(?i)example''',
          '''(?i)placeholder''',
          '''(?i)changeme''',
          '''(?i)redacted''',
          '''(?i)dummy''',
          '''(?i)^your[_-]''',
          '''(?i)[_-]here$''',
          '''^[xX*._-]{8,}$''',
          '''(?i)x{8,}''',
          '''\$\{[^}]*\}''',
          '''\{\{[^}]*\}\}''',
          '''^<[^>]*>$''',
        ]

        [[allowlists]]
        description = "cordon's own secret placeholders (docs/configuration.md, secrets): exactly that format, nothing around it"
        regexTarget = "secret"
        regexes = ['''^\#(PlaceholderFormat.pattern)$''']

        [[allowlists]]
        description = "lock files and checksums"
        paths = [
          '''(?:^|/)(?:go\.sum|package-lock\.json|npm-shrinkwrap\.json|yarn\.lock|pnpm-lock\.yaml|Cargo\.lock|poetry\.lock|Pipfile\.lock|composer\.lock|Gemfile\.lock)$''',
        ]
        """#
}
