package config

import (
	"github.com/cloudrole/cloudrole/internal/natsopts"
	"sort"
	"strings"
)

const envPrefix = "CLOUDROLE_"

// notOverrides are CLOUDROLE_ variables with other meanings: the config
// path, and the identity the host passes to its child processes.
var notOverrides = map[string]bool{
	"CLOUDROLE_CONFIG":      true,
	"CLOUDROLE_ROLE":        true,
	"CLOUDROLE_INSTANCE_ID": true,
	"CLOUDROLE_DEPLOYMENT":  true,
	"CLOUDROLE_INCARNATION": true,
	"CLOUDROLE_DATA_DIR":    true,
}

// applyEnv applies CLOUDROLE_<SECTION>_<KEY> and CLOUDROLE_SETTING_<Name>
// overrides. Variables whose second word is not a section are ignored; an
// unknown key inside a known section is an error.
func (p *parser) applyEnv(environ []string) {
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, envPrefix) || notOverrides[name] {
			continue
		}
		rest := name[len(envPrefix):]
		if setting, ok := strings.CutPrefix(rest, "SETTING_"); ok {
			p.setSettingFromEnv(name, setting, value)
			continue
		}
		for i := range schema {
			s := &schema[i]
			key, ok := strings.CutPrefix(rest, strings.ToUpper(s.name)+"_")
			if !ok {
				continue
			}
			key = strings.ToLower(key)
			path := join(s.name, key)
			f := s.field(key)
			if f == nil && (path == "service.env" || path == "jobs.programs") {
				p.errs = append(p.errs, &Error{File: "environment", Key: name,
					Msg: path + " cannot be set from the environment; set it in the file"})
				break
			}
			if f == nil {
				p.errs = append(p.errs, &Error{File: "environment", Key: short(name),
					Msg: "unknown key " + short(path) + suggest(key, s.keys())})
				break
			}
			if value == "" && embeddedOnlyKey(path) {
				// Takes back the file's value: a file written for the
				// embedded server can be switched to an external one
				// with CLOUDROLE_NATS_URL, which refuses these keys.
				_ = f.set(p.cfg, f.get(defaults()))
				delete(p.lines, path)
				delete(p.envs, path)
				break
			}
			p.envs[path] = name
			if err := f.set(p.cfg, value); err != nil {
				p.errorf(path, "%v", err)
			}
			break
		}
	}
}

// knownSettings are settings the host itself reads, by these exact names.
var knownSettings = []string{"Freeze"}

// setSettingFromEnv sets a setting. The name matches case-insensitively
// (Windows environment names have no case, and shells favour upper case):
// an exact match wins, then the one setting in the file or known to the
// host that differs only in case; two such settings make it ambiguous.
func (p *parser) setSettingFromEnv(envName, name, value string) {
	if _, exact := p.cfg.Settings[name]; !exact {
		var matches []string
		for existing := range p.cfg.Settings {
			if strings.EqualFold(existing, name) {
				matches = append(matches, existing)
			}
		}
		for _, known := range knownSettings {
			if len(matches) == 0 && strings.EqualFold(known, name) {
				matches = append(matches, known)
			}
		}
		switch len(matches) {
		case 0:
		case 1:
			name = matches[0]
		default:
			sort.Strings(matches)
			p.errs = append(p.errs, &Error{File: "environment", Key: envName,
				Msg: "matches the settings " + strings.Join(matches, " and ") + ", which differ only in case; use the exact name"})
			return
		}
	}
	path := join(keySettings, name)
	p.envs[path] = envName
	if !settingNameRE.MatchString(name) {
		p.errorf(path, "invalid setting name %s", quote(name))
		return
	}
	p.cfg.Settings[name] = value
}

// embeddedOnlyKey reports whether path is one of the embedded server's
// keys, which an empty override resets to the default.
func embeddedOnlyKey(path string) bool {
	for _, e := range natsopts.EmbeddedOnly {
		if "nats."+e.Key == path {
			return true
		}
	}
	return false
}
