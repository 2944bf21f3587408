package config

import (
	"maps"
	"sort"
	"strconv"
)

// Freeze reports the Freeze setting; absent means false. A valid Config's
// Freeze setting always parses.
func (c *Config) Freeze() bool {
	b, _ := strconv.ParseBool(c.Settings["Freeze"])
	return b
}

// ChangedSettings returns the sorted names of settings added, removed or
// changed from a to b.
func ChangedSettings(a, b *Config) []string {
	var names []string
	for n, v := range a.Settings {
		if w, ok := b.Settings[n]; !ok || w != v {
			names = append(names, n)
		}
	}
	for n := range b.Settings {
		if _, ok := a.Settings[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// RestartNeeded returns the sorted dotted keys that differ from a to b but
// take effect only on a process restart (role, health, log, nats, service).
func RestartNeeded(a, b *Config) []string {
	var keys []string
	for _, s := range schema {
		if !s.restart {
			continue
		}
		for _, f := range s.fields {
			if f.get(a) != f.get(b) {
				keys = append(keys, join(s.name, f.key))
			}
		}
	}
	if !maps.Equal(a.Service.Env, b.Service.Env) {
		keys = append(keys, "service.env")
	}
	sort.Strings(keys)
	return keys
}
