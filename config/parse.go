package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/cloudrole/cloudrole/startup"
)

// MaxFileSize caps a config file; a larger one is an error, so a runaway
// file cannot exhaust memory.
const MaxFileSize = 1 << 20

// Options say where a config is read and what its defaults depend on.
type Options struct {
	// Environ holds the environment overrides, in os.Environ() form.
	Environ []string
	// ProgramName is the default role name.
	ProgramName string
	// Hostname goes into the default instance ID.
	Hostname string
}

// Load reads the file at path and parses it.
func Load(path string, opts Options) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		cause := err
		var pe *fs.PathError
		if errors.As(err, &pe) {
			cause = pe.Err
		}
		return nil, &Error{File: path, Msg: "cannot read: " + cause.Error(), Err: err}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, &Error{File: path, Msg: "cannot read: " + err.Error(), Err: err}
	}
	if len(data) > MaxFileSize {
		return nil, &Error{File: path, Msg: fmt.Sprintf("larger than %d bytes", MaxFileSize), Err: ErrTooLarge}
	}
	return Parse(path, data, opts)
}

// Default returns the config with no file: defaults and overrides.
func Default(opts Options) (*Config, error) { return Parse("", nil, opts) }

// Parse parses a config file's content. file names it in errors and in
// Config.File, and its directory anchors relative paths ("" means the
// working directory).
func Parse(file string, data []byte, opts Options) (cfg *Config, err error) {
	p := &parser{file: file, cfg: defaults(), lines: map[string]int{}, envs: map[string]string{}}
	p.cfg.File = file
	if file != "" {
		if abs, aerr := filepath.Abs(file); aerr == nil {
			p.cfg.File = abs
		}
	}
	if len(data) > MaxFileSize {
		return nil, &Error{File: file, Msg: fmt.Sprintf("larger than %d bytes", MaxFileSize), Err: ErrTooLarge}
	}
	if err := p.parseYAML(data); err != nil {
		return nil, err
	}
	p.applyEnv(opts.Environ)
	p.finish(opts)
	p.validate()
	if err := p.errs.result(); err != nil {
		return nil, err
	}
	return p.cfg, nil
}

type parser struct {
	file  string
	cfg   *Config
	errs  Errors
	lines map[string]int    // dotted key -> line it was set on in the file
	envs  map[string]string // dotted key -> environment variable that set it
	// inCode: the Config was built in code (Validate), so lines and envs
	// say nothing about what the user set.
	inCode bool
}

// errorf records a problem with key, located where key was set.
func (p *parser) errorf(key string, format string, args ...any) {
	if env, ok := p.envs[key]; ok {
		p.errs = append(p.errs, &Error{File: "environment", Key: short(env), Msg: fmt.Sprintf(format, args...)})
		return
	}
	p.errs = append(p.errs, &Error{File: p.file, Line: p.lines[key], Key: short(key), Msg: fmt.Sprintf(format, args...)})
}

// nodeErr records a problem at a node's line.
func (p *parser) nodeErr(n *yaml.Node, key string, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Line: n.Line, Key: short(key), Msg: fmt.Sprintf(format, args...)})
}

var yamlLineRE = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// parseYAML decodes the document into p.cfg. Syntax errors end parsing;
// other problems are collected.
func (p *parser) parseYAML(data []byte) (err error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	defer func() {
		// The YAML parser has panicked on hostile input in the past; a
		// config must never crash the host.
		if v := recover(); v != nil {
			err = &Error{File: p.file, Msg: fmt.Sprintf("cannot parse YAML: %v", v)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return p.syntaxError(data, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return &Error{File: p.file, Line: extra.Line, Msg: "more than one YAML document; a config file holds one"}
	} else if !errors.Is(err, io.EOF) {
		return p.syntaxError(data, err)
	}
	if len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	if p.refuseAliases(root) {
		return p.errs.result()
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		return &Error{File: p.file, Line: root.Line, Msg: "the config must be a mapping of sections (role, host, health, log, nats, service, startup, jobs, settings)"}
	}
	p.eachPair(root, "", func(key string, k, v *yaml.Node) {
		switch key {
		case keyStartup:
			p.startup(v)
		case keySettings:
			p.settings(v)
		default:
			if s := findSection(key); s != nil {
				p.section(s, v)
				return
			}
			p.nodeErr(k, key, "unknown section%s", suggest(key, topKeys()))
		}
	})
	return nil
}

var unknownAnchorRE = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)

// syntaxError turns a YAML error into an *Error with a line. The YAML
// library leaves the line out when its position marks are on the first
// line (they count from 0), and for an alias to an undefined anchor.
func (p *parser) syntaxError(data []byte, err error) error {
	m := yamlLineRE.FindStringSubmatch(err.Error())
	if m == nil {
		return &Error{File: p.file, Msg: "invalid YAML: " + err.Error()}
	}
	line := 1
	if m[1] != "" {
		line, _ = strconv.Atoi(m[1])
	}
	if a := unknownAnchorRE.FindStringSubmatch(m[2]); a != nil {
		line = 0
		for i, l := range bytes.Split(data, []byte("\n")) {
			if bytes.Contains(l, []byte("*"+a[1])) {
				line = i + 1
				break
			}
		}
		return &Error{File: p.file, Line: line, Msg: "YAML anchors and aliases are not supported in a config"}
	}
	return &Error{File: p.file, Line: line, Msg: "invalid YAML: " + m[2] + yamlHint(data, line)}
}

// yamlHint says what a YAML error usually means, from the offending line:
// the parser's own words ("found character that cannot start any token")
// do not say how to fix it.
func yamlHint(data []byte, line int) string {
	lines := bytes.Split(data, []byte("\n"))
	if line < 1 || line > len(lines) {
		return ""
	}
	l := lines[line-1]
	switch {
	case bytes.ContainsRune(l, '\t'):
		return " (a tab: YAML indents with spaces only)"
	case bytes.Contains(l, []byte(": *")) || bytes.HasPrefix(bytes.TrimSpace(l), []byte("- *")):
		return " (a value starting with * is read as an alias: quote it, e.g. \"*/5 * * * * *\")"
	}
	return ""
}

// refuseAliases reports anchors and aliases: they buy nothing in a config
// and open the door to exponential expansion ("billion laughs").
func (p *parser) refuseAliases(n *yaml.Node) bool {
	found := false
	var walk func(n *yaml.Node, depth int)
	walk = func(n *yaml.Node, depth int) {
		if found {
			return
		}
		if n.Kind == yaml.AliasNode || n.Anchor != "" {
			p.nodeErr(n, "", "YAML anchors and aliases are not supported in a config")
			found = true
			return
		}
		for _, c := range n.Content {
			walk(c, depth+1)
		}
	}
	walk(n, 0)
	return found
}

// eachPair calls fn for every key of a mapping, reporting non-string and
// duplicate keys. prefix is the dotted path of the mapping ("" at top).
func (p *parser) eachPair(m *yaml.Node, prefix string, fn func(key string, k, v *yaml.Node)) {
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		path := join(prefix, k.Value)
		if k.Kind != yaml.ScalarNode {
			p.nodeErr(k, prefix, "keys must be plain names")
			continue
		}
		if first, dup := seen[k.Value]; dup {
			p.nodeErr(k, path, "duplicate key (first set on line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		fn(k.Value, k, v)
	}
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// section decodes a mapping of scalar fields (plus service.env).
func (p *parser) section(s *section, v *yaml.Node) {
	if isNull(v) {
		return
	}
	if v.Kind != yaml.MappingNode {
		p.nodeErr(v, s.name, "must be a mapping of keys (%s)", strings.Join(s.keys(), ", "))
		return
	}
	p.eachPair(v, s.name, func(key string, k, val *yaml.Node) {
		path := join(s.name, key)
		if s.name == "service" && key == keyEnv {
			if m, ok := p.stringMap(val, path); ok {
				p.cfg.Service.Env = m
			}
			return
		}
		if s.name == "jobs" && key == keyPrograms {
			p.programs(val)
			return
		}
		f := s.field(key)
		if f == nil {
			p.nodeErr(k, path, "unknown key%s", suggest(key, s.keys()))
			return
		}
		p.lines[path] = val.Line
		text, ok := p.scalar(val, path, f.duration, f.want)
		if !ok {
			return
		}
		if err := f.set(p.cfg, text); err != nil {
			p.nodeErr(val, path, "%v", err)
		}
	})
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// scalar returns a scalar's text, reporting lists, mappings and (for
// durations) bare numbers other than 0. A null leaves the default: ok is
// false. want names the expected type in errors.
func (p *parser) scalar(n *yaml.Node, path string, duration bool, want string) (string, bool) {
	switch {
	case n.Kind != yaml.ScalarNode:
		p.nodeErr(n, path, "must be %s, not a %s", want, kindName(n))
		return "", false
	case isNull(n):
		return "", false
	case duration && n.Tag == "!!int" && isZero(n.Value):
		// 0 needs no unit, and "reload_interval: 0" is the documented way
		// to turn live reload off.
		return "0s", true
	case duration && (n.Tag == "!!int" || n.Tag == "!!float"):
		p.nodeErr(n, path, "invalid duration %s: give a unit (e.g. \"%ss\" or \"%sm\")", short(n.Value), short(n.Value), short(n.Value))
		return "", false
	}
	return n.Value, true
}

// isZero reports a YAML integer equal to 0 (0, 00, +0, -0, 0x0, 0o0).
func isZero(v string) bool {
	v = strings.TrimLeft(v, "+-")
	v = strings.TrimPrefix(strings.TrimPrefix(v, "0x"), "0o")
	return strings.Trim(v, "0") == "" && v != ""
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "list"
	case yaml.MappingNode:
		return "mapping"
	}
	return "value"
}

// stringMap decodes a mapping of scalar values.
func (p *parser) stringMap(n *yaml.Node, path string) (map[string]string, bool) {
	if isNull(n) {
		return nil, false
	}
	if n.Kind != yaml.MappingNode {
		p.nodeErr(n, path, "must be a mapping of NAME: value")
		return nil, false
	}
	m := map[string]string{}
	p.eachPair(n, path, func(key string, _, v *yaml.Node) {
		if v.Kind != yaml.ScalarNode {
			p.nodeErr(v, join(path, key), "must be a single value, not a %s", kindName(v))
			return
		}
		m[key] = v.Value
	})
	return m, true
}

var settingNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)

// settings decodes the settings mapping. Values are kept as text (Azure's
// settings are strings); a null is an empty string.
func (p *parser) settings(n *yaml.Node) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		p.nodeErr(n, keySettings, "must be a mapping of Name: value")
		return
	}
	p.eachPair(n, keySettings, func(name string, k, v *yaml.Node) {
		path := join(keySettings, name)
		if !settingNameRE.MatchString(name) {
			p.nodeErr(k, path, "invalid setting name (use letters, digits, _ . -; start with a letter or _)")
			return
		}
		if v.Kind != yaml.ScalarNode {
			p.nodeErr(v, path, "must be a single value, not a %s (settings are strings)", kindName(v))
			return
		}
		p.lines[path] = v.Line
		p.cfg.Settings[name] = v.Value
		if isNull(v) {
			p.cfg.Settings[name] = ""
		}
	})
}

// startup decodes the startup task list.
func (p *parser) startup(n *yaml.Node) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		p.nodeErr(n, keyStartup, "must be a list of tasks (- name: ..., type: ..., command: [...])")
		return
	}
	names := map[string]int{}
	for i, item := range n.Content {
		path := fmt.Sprintf("startup[%d]", i)
		if item.Kind != yaml.MappingNode {
			p.nodeErr(item, path, "must be a mapping (name, type, command, dir, env, timeout)")
			continue
		}
		var t startup.Task
		haveType, haveCommand := false, false
		first := len(p.errs)
		p.eachPair(item, path, func(key string, k, v *yaml.Node) {
			kp := join(path, key)
			switch key {
			case "name", "type", "dir":
				text, ok := p.scalar(v, kp, false, "a string")
				if !ok {
					return
				}
				switch key {
				case "name":
					t.Name = text
				case "type":
					t.Kind, haveType = startup.Kind(text), true
					if t.Kind != startup.Simple && t.Kind != startup.Background && t.Kind != startup.Foreground {
						p.nodeErr(v, kp, "unknown type %s (want simple, background or foreground)", quote(text))
					}
				case "dir":
					t.Dir = text
				}
			case "timeout":
				if text, ok := p.scalar(v, kp, true, `a duration like "30s"`); ok {
					d, err := parseDuration(text)
					if err != nil {
						p.nodeErr(v, kp, "%v", err)
					}
					t.Timeout = d
				}
			case "env":
				if m, ok := p.stringMap(v, kp); ok {
					t.Env = m
				}
			case "command":
				t.Command, haveCommand = p.command(v, kp), true
			default:
				p.nodeErr(k, kp, "unknown key%s", suggest(key, []string{"name", "type", "command", "dir", "env", "timeout"}))
			}
		})
		switch {
		case t.Name == "":
			p.nodeErr(item, path, "name is required")
		case names[t.Name] != 0:
			p.nodeErr(item, path, "name %s already used by the task on line %d", quote(t.Name), names[t.Name])
		default:
			names[t.Name] = item.Line
		}
		if !haveType {
			p.nodeErr(item, path, "type is required (simple, background or foreground)")
		}
		if !haveCommand || (len(t.Command) == 0 && len(p.errs) == first) {
			// A command that was given but wrong is already reported.
			p.nodeErr(item, path, "command is required, as a list: command: [program, arg1, arg2]")
		}
		if t.Name != "" {
			// Name the task in its problems: "startup[3]" alone is hard
			// to find in a long list.
			for _, e := range p.errs[first:] {
				e.Msg = "task " + quote(t.Name) + ": " + e.Msg
			}
		}
		p.cfg.Startup = append(p.cfg.Startup, t)
	}
}

// command decodes a command list. A plain string is refused: without a
// shell, splitting it into words would be a guess.
func (p *parser) command(n *yaml.Node, path string) []string {
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		p.nodeErr(n, path, "must be a list, e.g. command: [sh, -c, %s] (no shell is used unless you name one)", quote(n.Value))
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.nodeErr(n, path, "must be a list of words: command: [program, arg1, arg2]")
		return nil
	}
	var argv []string
	for _, w := range n.Content {
		if w.Kind != yaml.ScalarNode || isNull(w) {
			p.nodeErr(w, path, "every word of the command must be a single value")
			return nil
		}
		argv = append(argv, w.Value)
	}
	if len(argv) > 0 && argv[0] == "" {
		p.nodeErr(n, path, "the program name is empty")
		return nil
	}
	return argv
}
