package config

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cloudrole/cloudrole/startup"
)

// MinReloadInterval is the shortest host.reload_interval other than 0 (off).
const MinReloadInterval = 10 * time.Millisecond

// validate checks the values that parsed but may still be wrong, each
// reported where it was set.
func (p *parser) validate() {
	c := p.cfg
	h := c.Host
	if h.FailureAction != "freeze" && h.FailureAction != "exit" {
		p.errorf("host.failure_action", "%s is not freeze or exit", quote(h.FailureAction))
	}
	if h.MaxFailures < 1 {
		p.errorf("host.max_failures", "must be at least 1, not %d", h.MaxFailures)
	}
	if h.BackoffJitter < 0 || h.BackoffJitter > 100 {
		p.errorf("host.backoff_jitter", "must be a percentage from 0 to 100, not %d", h.BackoffJitter)
	}
	if h.BackoffBase > 0 && h.BackoffMax < h.BackoffBase {
		p.errorf("host.backoff_max", "%s is less than backoff_base %s", h.BackoffMax, h.BackoffBase)
	}
	if h.StopTimeout == 0 {
		p.errorf("host.stop_timeout", "must be more than 0")
	}
	if h.HealthyAfter == 0 {
		// 0 would count every instance as healthy, so a role whose Run
		// returns at once would recycle in a tight loop with no backoff
		// and never trip max_failures.
		p.errorf("host.healthy_after", "must be more than 0")
	}
	if h.ReloadInterval != 0 && h.ReloadInterval < MinReloadInterval {
		// Each poll reads and hashes the whole file.
		p.errorf("host.reload_interval", "%s is too often: must be 0 (off) or at least %s", h.ReloadInterval, MinReloadInterval)
	}
	if h.HandlerTimeout == 0 {
		p.errorf("host.handler_timeout", "must be more than 0")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		p.errorf("log.level", "%s is not debug, info, warn or error", quote(c.Log.Level))
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		p.errorf("log.format", "%s is not text or json", quote(c.Log.Format))
	}
	if c.Health.Addr != "off" {
		if err := checkHostPort(c.Health.Addr, false); err != "" {
			p.errorf("health.addr", "%s: %s (or \"off\")", quote(c.Health.Addr), err)
		}
	}
	p.validateNATS()
	if v, ok := c.Settings["Freeze"]; ok {
		if _, err := strconv.ParseBool(v); err != nil {
			// Setting values are never shown: settings often hold secrets.
			p.errorf("settings.Freeze", "must be true or false")
		}
	}
	if c.Role.Name != "" && !roleNameRE.MatchString(c.Role.Name) {
		p.errorf("role.name", "%s: use letters, digits, - and _", quote(c.Role.Name))
	}
}

var roleNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// validPort accepts an absent port (the client's default) or 1..65535.
func validPort(port string) bool {
	if port == "" {
		return true
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 1 && n <= 65535
}

func (p *parser) validateNATS() {
	n := p.cfg.NATS
	if n.URL != "" {
		for _, u := range strings.Split(n.URL, ",") {
			parsed, err := url.Parse(strings.TrimSpace(u))
			switch {
			case err != nil:
				p.errorf("nats.url", "%s is not a URL", quote(redactURL(u)))
			case parsed.Scheme != "nats" && parsed.Scheme != "tls" && parsed.Scheme != "ws" && parsed.Scheme != "wss":
				p.errorf("nats.url", "%s: scheme must be nats://, tls://, ws:// or wss://", quote(redactURL(u)))
			case parsed.Hostname() == "":
				p.errorf("nats.url", "%s has no host", quote(redactURL(u)))
			case !validPort(parsed.Port()):
				p.errorf("nats.url", "%s: port %s is not 1 to 65535", quote(redactURL(u)), quote(parsed.Port()))
			}
		}
	}
	if (n.User == "") != (n.Password == "") {
		if n.User == "" {
			p.errorf("nats.password", "a password needs a user")
		} else {
			p.errorf("nats.user", "a user needs a password")
		}
	}
	if (n.TLSCert == "") != (n.TLSKey == "") {
		p.errorf("nats.tls_cert", "tls_cert and tls_key go together")
	}
	if n.URL != "" && p.refuseEmbeddedOnly() {
		return // the embedded-only values are refused whole; their form does not matter
	}
	if n.Sync != "always" {
		if d, err := parseDuration(n.Sync); err != nil || d == 0 {
			p.errorf("nats.sync", "%s is not \"always\" or a positive interval like \"1s\"", quote(n.Sync))
		}
	}
	if err := checkHostPort(n.Listen, true); err != "" {
		p.errorf("nats.listen", "%s: %s", quote(n.Listen), err)
	}
}

// embeddedOnly are the nats keys that configure the embedded server, and
// why each does nothing for an external one.
var embeddedOnly = []struct{ key, why string }{
	{"nats.store_dir", "an external server keeps its JetStream files where its own config says (jetstream { store_dir: ... })"},
	{"nats.sync", "an external server's fsync policy is its own config: for the embedded default's durability set jetstream { sync_interval: always } on every server (see docs/config.md)"},
	{"nats.listen", "the host runs no server to listen"},
}

// refuseEmbeddedOnly reports the embedded-only keys given together with
// nats.url: they would be ignored, and a sync setting silently so. It
// returns whether it reported any.
func (p *parser) refuseEmbeddedOnly() bool {
	env, urlFromEnv := p.envs["nats.url"]
	refused := false
	for _, e := range embeddedOnly {
		if !p.given(e.key) {
			continue
		}
		where := ""
		switch _, keyInFile := p.lines[e.key]; {
		case urlFromEnv && keyInFile:
			// A file written for the embedded server, switched to an
			// external one from the environment: say how to drop the key.
			where = fmt.Sprintf(" (by %s; an empty %s drops the file's value)", env, envPrefix+strings.ToUpper(strings.ReplaceAll(e.key, ".", "_")))
		case urlFromEnv:
			where = " (by " + env + ")"
		case p.lines["nats.url"] > 0:
			where = fmt.Sprintf(" (line %d)", p.lines["nats.url"])
		}
		p.errorf(e.key, "configures the embedded server, but nats.url is set%s: %s", where, e.why)
		refused = true
	}
	return refused
}

// given reports whether key was set in the file or the environment. A
// Config built or changed in code has no such record (Validate): there a
// value other than the default counts as given.
func (p *parser) given(key string) bool {
	if !p.inCode {
		_, inFile := p.lines[key]
		_, inEnv := p.envs[key]
		return inFile || inEnv
	}
	n, def := p.cfg.NATS, defaults().NATS
	switch key {
	case "nats.store_dir":
		return n.StoreDir != "" && filepath.Clean(n.StoreDir) != filepath.Join(p.cfg.Role.DataDir, "nats")
	case "nats.sync":
		return n.Sync != def.Sync
	case "nats.listen":
		return n.Listen != def.Listen
	}
	return false
}

// redactURL hides a URL's user information (it may hold a password or a
// token), even in text that does not parse as a URL.
func redactURL(u string) string {
	u = strings.TrimSpace(u)
	start := strings.Index(u, "://")
	if start < 0 {
		start = 0
	} else {
		start += 3
	}
	if at := strings.LastIndex(u[start:], "@"); at >= 0 {
		return u[:start] + "REDACTED" + u[start+at:]
	}
	return u
}

// checkHostPort returns what is wrong with a host:port address, or "".
// randomPort allows port -1 (nats-server's "pick a free port").
func checkHostPort(addr string, randomPort bool) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "want host:port, e.g. 127.0.0.1:8080"
	}
	n, err := strconv.Atoi(port)
	if err != nil || n > 65535 || n < 0 && !(randomPort && n == -1) {
		return "invalid port " + strconv.Quote(port)
	}
	return ""
}

// Validate checks c as Parse does: use it on a Config built or changed in
// code before handing it to the host. It returns nil, an *Error or Errors,
// naming keys (there are no lines). It does not fill defaults or resolve
// paths, and does not modify c. With nats.url set, it refuses the embedded
// server's StoreDir, Sync and Listen when they differ from their defaults
// (StoreDir's being <data_dir>/nats).
func (c *Config) Validate() error {
	p := &parser{file: c.File, cfg: c, lines: map[string]int{}, envs: map[string]string{}, inCode: true}
	p.validate()
	names := map[string]bool{}
	for i, t := range c.Startup {
		path := fmt.Sprintf("startup[%d]", i)
		switch {
		case t.Name == "":
			p.errorf(path, "name is required")
		case names[t.Name]:
			p.errorf(path, "name %s is used twice", quote(t.Name))
		}
		names[t.Name] = true
		if t.Kind != startup.Simple && t.Kind != startup.Background && t.Kind != startup.Foreground {
			p.errorf(path+".type", "unknown type %s (want simple, background or foreground)", quote(string(t.Kind)))
		}
		if len(t.Command) == 0 || t.Command[0] == "" {
			p.errorf(path+".command", "the program name is required")
		}
		if t.Timeout < 0 {
			p.errorf(path+".timeout", "must not be negative")
		}
	}
	for name := range c.Settings {
		if !settingNameRE.MatchString(name) {
			p.errorf(join(keySettings, name), "invalid setting name")
		}
	}
	sort.SliceStable(p.errs, func(i, j int) bool { return p.errs[i].Key < p.errs[j].Key })
	return p.errs.result()
}
