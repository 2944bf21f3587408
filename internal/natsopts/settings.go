package natsopts

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Settings says where the queues live: an external NATS server or cluster
// (URL, with credentials and TLS), or, with URL empty, an embedded server
// in this process (StoreDir, Sync, Listen).
type Settings struct {
	// URL of an external NATS server or cluster (comma-separated URLs are
	// allowed). Empty means: run an embedded server in this process.
	URL string
	// CredsFile is a NATS credentials file (JWT and nkey seed).
	CredsFile string
	// User and Password authenticate with a user and password.
	User, Password string
	// Token authenticates with a token.
	Token string
	// TLSCA, TLSCert and TLSKey configure client TLS; files are PEM.
	TLSCA, TLSCert, TLSKey string

	// StoreDir holds the embedded server's JetStream files. Required for
	// the embedded server; config fills it with "<data_dir>/nats".
	StoreDir string
	// Sync is the embedded server's fsync policy: "always" (fsync every
	// write before acknowledging it; also what "" means) or an interval
	// such as "2m" (faster, but an OS crash can lose acknowledged jobs).
	Sync string
	// Listen is the embedded server's client address, on loopback only
	// (the embedded server has no authentication). "" means "127.0.0.1:-1",
	// a free port.
	Listen string
}

// InUse returns s without the embedded server's keys when URL is set: the
// config fills them with defaults (a store dir under the data dir) even for
// an external server, and refuses them only where the user wrote them.
func (s Settings) InUse() Settings {
	if s.URL != "" {
		s.StoreDir, s.Sync, s.Listen = "", "", ""
	}
	return s
}

// Problem is one invalid setting. Key names it as the config file does,
// within the nats section ("sync"); Field as Go does ("Sync"). For an
// embedded-only key given with an external URL, Why says why it does
// nothing there (Msg says it in a sentence of its own).
type Problem struct {
	Key, Field string
	Msg        string
	Why        string
}

// EmbeddedOnly are the keys that configure the embedded server, with why
// each does nothing for an external one.
var EmbeddedOnly = []struct{ Key, Field, Why string }{
	{"store_dir", "StoreDir", "an external server keeps its JetStream files where its own config says (jetstream { store_dir: ... })"},
	{"sync", "Sync", "an external server's fsync policy is its own config: for the embedded default's durability set jetstream { sync_interval: always } on every server (see docs/config.md)"},
	{"listen", "Listen", "the host runs no server to listen"},
}

// Check returns every problem of s, in a fixed order. given(key) says
// whether an embedded-only key (EmbeddedOnly) was set on purpose: config
// knows it from the file and the environment, code passes a non-empty
// value as given. With an external URL such a key is a problem, since it
// would be silently ignored (a sync setting most dangerously).
func (s Settings) Check(given func(key string) bool) []Problem {
	return s.check(given, false)
}

// CheckFields is Check for Settings built in code: a value is given when
// it is set, and the messages name the Go fields (TLSCert, not tls_cert).
func (s Settings) CheckFields() []Problem {
	given := map[string]bool{"store_dir": s.StoreDir != "", "sync": s.Sync != "", "listen": s.Listen != ""}
	return s.check(func(key string) bool { return given[key] }, true)
}

func (s Settings) check(given func(key string) bool, fields bool) []Problem {
	// n names a setting in a message as its reader knows it.
	n := func(key, field string) string {
		if fields {
			return field
		}
		return key
	}
	var out []Problem
	add := func(key, field, format string, args ...any) {
		out = append(out, Problem{Key: key, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	external := s.URL != ""
	if external {
		for _, u := range strings.Split(s.URL, ",") {
			if msg := checkURL(strings.TrimSpace(u)); msg != "" {
				add("url", "URL", "%s%s", strconv.Quote(RedactURL(u)), msg)
			}
		}
	}
	switch {
	case s.User != "" && s.Password == "":
		add("user", "User", "a %s needs a %s", n("user", "User"), n("password", "Password"))
	case s.Password != "" && s.User == "":
		add("password", "Password", "a %s needs a %s", n("password", "Password"), n("user", "User"))
	}
	if s.Token != "" && (s.User != "" || s.CredsFile != "") {
		add("token", "Token", "give one of %s, %s/%s or %s", n("token", "Token"), n("user", "User"), n("password", "Password"), n("creds_file", "CredsFile"))
	}
	if (s.TLSCert == "") != (s.TLSKey == "") {
		add("tls_cert", "TLSCert", "%s and %s go together", n("tls_cert", "TLSCert"), n("tls_key", "TLSKey"))
	}
	if !external {
		for _, f := range []struct{ key, field, v string }{
			{"creds_file", "CredsFile", s.CredsFile}, {"user", "User", s.User}, {"password", "Password", s.Password},
			{"token", "Token", s.Token}, {"tls_ca", "TLSCA", s.TLSCA}, {"tls_cert", "TLSCert", s.TLSCert}, {"tls_key", "TLSKey", s.TLSKey},
		} {
			if f.v != "" {
				add(f.key, f.field, "authenticates to an external server, but %s is empty: the embedded server runs in this process with no authentication", n("url", "URL"))
			}
		}
	}
	if external {
		for _, e := range EmbeddedOnly {
			if given(e.Key) {
				add(e.Key, e.Field, "configures the embedded server, but %s is set: %s", n("url", "URL"), e.Why)
				out[len(out)-1].Why = e.Why
			}
		}
		return out
	}
	if _, _, err := ParseSync(s.Sync); err != nil {
		add("sync", "Sync", "%s", err)
	}
	if _, _, err := ParseListen(s.Listen); err != nil {
		add("listen", "Listen", "%s", err)
	}
	return out
}

// checkURL returns what is wrong with one server URL, or "".
func checkURL(u string) string {
	pu, err := url.Parse(u)
	switch {
	case err != nil:
		return " is not a URL like nats://host:4222"
	case pu.Scheme != "nats" && pu.Scheme != "tls" && pu.Scheme != "ws" && pu.Scheme != "wss":
		return ": scheme must be nats://, tls://, ws:// or wss://"
	case pu.Hostname() == "":
		return " has no host"
	}
	if p := pu.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return ": port " + strconv.Quote(p) + " is not 1 to 65535"
		}
	}
	return ""
}

// ParseSync reads Sync: "" and "always" mean always; else a positive Go
// duration, the sync interval.
func ParseSync(s string) (always bool, interval time.Duration, err error) {
	switch s = strings.TrimSpace(s); s {
	case "", "always":
		return true, 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return false, 0, fmt.Errorf("%s is not \"always\" or a positive interval like \"2m\"", strconv.Quote(s))
	}
	return false, d, nil
}

// ParseListen reads Listen ("" means 127.0.0.1:-1): a loopback host and a
// port of 0 to 65535, or -1 for a free one.
func ParseListen(s string) (host string, port int, err error) {
	if s == "" {
		s = "127.0.0.1:-1"
	}
	host, ps, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, fmt.Errorf("%s: want host:port, e.g. 127.0.0.1:4222", strconv.Quote(s))
	}
	port, err = strconv.Atoi(ps)
	if err != nil || port < -1 || port > 65535 {
		return "", 0, fmt.Errorf("%s: invalid port %s", strconv.Quote(s), strconv.Quote(ps))
	}
	if !isLoopback(host) {
		return "", 0, fmt.Errorf("%s: the embedded server has no authentication and listens on loopback only (127.0.0.1, ::1, localhost); use an external server to listen elsewhere", strconv.Quote(s))
	}
	return host, port, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// RedactURL hides the user information (a password or a token) of each
// comma-separated URL, even in text that does not parse as one.
func RedactURL(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		start := strings.Index(p, "://")
		if start < 0 {
			start = 0
		} else {
			start += 3
		}
		if at := strings.LastIndex(p[start:], "@"); at >= 0 {
			p = p[:start] + "REDACTED" + p[start+at:]
		}
		parts[i] = p
	}
	return strings.Join(parts, ",")
}
