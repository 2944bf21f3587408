package queue

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Options says where the queues live. It mirrors config.NATS; the host
// translates one into the other. The zero value runs an embedded server
// that needs a StoreDir.
type Options struct {
	// URL of an external NATS server or cluster (comma-separated URLs are
	// allowed). Empty means: run an embedded server in this process.
	URL string
	// CredsFile, User/Password, Token and the TLS files authenticate to an
	// external server; they are refused for the embedded one.
	CredsFile string
	User      string
	Password  string
	Token     string
	TLSCA     string
	TLSCert   string
	TLSKey    string

	// StoreDir is the embedded server's JetStream directory. Required when
	// URL is empty; refused, like Sync and Listen, when it is set, since
	// an external server's storage is its own config.
	StoreDir string
	// Sync is the embedded server's fsync policy: "always" (defaults to
	// this) syncs every write before the publish is acknowledged; a Go
	// duration such as "2m" syncs on that interval, faster but an OS crash
	// can lose jobs whose enqueue was already acknowledged. Refused with a
	// URL: set "jetstream { sync_interval: always }" on the servers instead.
	Sync string
	// Listen is the embedded server's client address. Defaults to
	// "127.0.0.1:-1" (a free port on loopback). Non-loopback hosts are
	// refused: the embedded server has no authentication. Refused with a
	// URL.
	Listen string
	// Name is the client connection name shown by the server.
	Name string
	// Logger receives connection events. Defaults to discarding.
	Logger *slog.Logger
}

// resolved is the validated form of Options.
type resolved struct {
	Options
	syncAlways   bool
	syncInterval time.Duration
	host         string
	port         int
	// connectRemind is how often a repeating connect failure is logged
	// again; tests shorten it.
	connectRemind time.Duration
}

func (o Options) resolve() (resolved, error) {
	r := resolved{Options: o, connectRemind: connectRemind}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	if r.Name == "" {
		r.Name = "cloudrole"
	}
	if o.URL != "" {
		for _, u := range strings.Split(o.URL, ",") {
			pu, err := url.Parse(strings.TrimSpace(u))
			if err != nil || pu.Host == "" {
				return r, fmt.Errorf("%w: URL %q: not a URL like nats://host:4222", ErrBadOptions, redactURL(u))
			}
		}
		if (o.TLSCert == "") != (o.TLSKey == "") {
			return r, fmt.Errorf("%w: TLSCert and TLSKey must be given together", ErrBadOptions)
		}
		if o.Token != "" && (o.User != "" || o.CredsFile != "") {
			return r, fmt.Errorf("%w: give one of Token, User/Password or CredsFile", ErrBadOptions)
		}
		var embedded []string
		for _, f := range []struct{ name, v string }{{"StoreDir", o.StoreDir}, {"Sync", o.Sync}, {"Listen", o.Listen}} {
			if f.v != "" {
				embedded = append(embedded, f.name)
			}
		}
		if len(embedded) > 0 {
			// Silently ignoring Sync would leave a user believing the
			// external server fsyncs every write.
			return r, fmt.Errorf("%w: %s configure the embedded server, but URL is set: an external server's storage and fsync policy are set in its own config (jetstream { store_dir, sync_interval })",
				ErrBadOptions, strings.Join(embedded, ", "))
		}
		return r, nil
	}
	if o.CredsFile != "" || o.User != "" || o.Password != "" || o.Token != "" || o.TLSCA != "" || o.TLSCert != "" || o.TLSKey != "" {
		return r, fmt.Errorf("%w: credentials and TLS apply to an external server; URL is empty (embedded)", ErrBadOptions)
	}
	if o.StoreDir == "" {
		return r, fmt.Errorf("%w: StoreDir is required for the embedded server (URL is empty)", ErrBadOptions)
	}
	switch s := strings.TrimSpace(o.Sync); s {
	case "", "always":
		r.syncAlways = true
	default:
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return r, fmt.Errorf("%w: Sync %q: want \"always\" or a positive duration like \"2m\"", ErrBadOptions, o.Sync)
		}
		r.syncInterval = d
	}
	listen := o.Listen
	if listen == "" {
		listen = "127.0.0.1:-1"
	}
	host, portS, err := net.SplitHostPort(listen)
	if err != nil {
		return r, fmt.Errorf("%w: Listen %q: %v", ErrBadOptions, listen, err)
	}
	port, err := strconv.Atoi(portS)
	if err != nil || port < -1 || port > 65535 {
		return r, fmt.Errorf("%w: Listen %q: bad port %q", ErrBadOptions, listen, portS)
	}
	if !isLoopback(host) {
		return r, fmt.Errorf("%w: Listen %q: the embedded server has no authentication and only listens on loopback (127.0.0.1, ::1, localhost); use an external server to listen elsewhere", ErrBadOptions, listen)
	}
	r.host, r.port = host, port
	return r, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// redactURL removes user information from each comma-separated URL.
func redactURL(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		pu, err := url.Parse(strings.TrimSpace(p))
		if err != nil {
			parts[i] = "<unparsable>"
			continue
		}
		if pu.User != nil {
			pu.User = url.User("redacted")
		}
		parts[i] = pu.String()
	}
	return strings.Join(parts, ",")
}
