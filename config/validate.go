package config

import (
	"fmt"
	"net"
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
	p.validateConsole()
	if c.Health.Addr != "off" {
		if err := checkHostPort(c.Health.Addr, false); err != "" {
			p.errorf("health.addr", "%s: %s (or \"off\")", quote(c.Health.Addr), err)
		}
	}
	p.validateNATS()
	p.validateJobs()
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

func (p *parser) validateNATS() {
	for _, pr := range p.cfg.NATS.Check(func(key string) bool { return p.given("nats." + key) }) {
		if pr.Why != "" {
			p.errorf("nats."+pr.Key, "configures the embedded server, but nats.url is set%s: %s", p.natsWhere(pr.Key), pr.Why)
			continue
		}
		p.errorf("nats."+pr.Key, "%s", pr.Msg)
	}
}

// natsWhere adds, to the refusal of an embedded-only key beside nats.url,
// where the url comes from, and how to drop a file's value when the url
// came from the environment.
func (p *parser) natsWhere(key string) string {
	env, urlFromEnv := p.envs["nats.url"]
	switch _, keyInFile := p.lines["nats."+key]; {
	case urlFromEnv && keyInFile:
		// A file written for the embedded server, switched to an external
		// one from the environment: say how to drop the key.
		return fmt.Sprintf(" (by %s; an empty %s drops the file's value)", env, envPrefix+"NATS_"+strings.ToUpper(key))
	case urlFromEnv:
		return " (by " + env + ")"
	case p.lines["nats.url"] > 0:
		return fmt.Sprintf(" (line %d)", p.lines["nats.url"])
	}
	return ""
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
	names = map[string]bool{}
	for i, prog := range c.Jobs.Programs {
		if prog.Name != "" && names[prog.Name] {
			p.errorf(fmt.Sprintf("jobs.programs[%d]", i), "name %s is used twice", quote(prog.Name))
		}
		names[prog.Name] = true
	}
	for name := range c.Settings {
		if !settingNameRE.MatchString(name) {
			p.errorf(join(keySettings, name), "invalid setting name")
		}
	}
	sort.SliceStable(p.errs, func(i, j int) bool { return p.errs[i].Key < p.errs[j].Key })
	return p.errs.result()
}
