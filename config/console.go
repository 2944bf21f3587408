package config

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"strings"
)

// MinTokenLen is the shortest operator token accepted: shorter ones are
// guessable.
const MinTokenLen = 16

// Token is one operator credential of the console.
type Token struct {
	// Name says who acts, in the log of actions ("config" for
	// console.token).
	Name string
	// Secret is what the operator presents. Never logged or shown.
	Secret string
}

// ConsoleTokens returns the console's tokens: console.token, then those
// of console.token_file in order. Errors name the file and line, never a
// token.
func (c Console) ConsoleTokens() ([]Token, error) {
	var out []Token
	if c.Token != "" {
		out = append(out, Token{Name: "config", Secret: c.Token})
	}
	if c.TokenFile == "" {
		return out, nil
	}
	data, err := os.ReadFile(c.TokenFile)
	if err != nil {
		return nil, fmt.Errorf("console.token_file: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	seen := map[string]bool{}
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		switch {
		case len(f) != 2:
			return nil, fmt.Errorf("console.token_file %s:%d: want \"name token\"", c.TokenFile, n)
		case len(f[1]) < MinTokenLen:
			return nil, fmt.Errorf("console.token_file %s:%d: the token of %q is shorter than %d characters", c.TokenFile, n, f[0], MinTokenLen)
		case seen[f[0]]:
			return nil, fmt.Errorf("console.token_file %s:%d: the name %q is used twice", c.TokenFile, n, f[0])
		}
		seen[f[0]] = true
		out = append(out, Token{Name: f[0], Secret: f[1]})
	}
	return out, nil
}

// ConsoleAddr resolves where the console is served given the health
// address: "" for nowhere, "health" for the health server, else its own
// host:port.
func (c *Config) ConsoleAddr() string {
	switch a := c.Console.Addr; a {
	case "off":
		return ""
	case "":
		if c.Health.Addr != "off" && loopbackAddr(c.Health.Addr) {
			return "health"
		}
		return ""
	case "health":
		if c.Health.Addr == "off" {
			return ""
		}
		return "health"
	default:
		return a
	}
}

// ConsoleLoopback reports whether the console's address (ConsoleAddr) is
// on loopback only.
func (c *Config) ConsoleLoopback() bool {
	switch a := c.ConsoleAddr(); a {
	case "":
		return true
	case "health":
		return loopbackAddr(c.Health.Addr)
	default:
		return loopbackAddr(a)
	}
}

func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (p *parser) validateConsole() {
	c := p.cfg.Console
	switch c.Addr {
	case "", "off", "health":
	default:
		if err := checkHostPort(c.Addr, false); err != "" {
			p.errorf("console.addr", "%s: %s (or \"\", \"health\", \"off\")", quote(c.Addr), err)
			return
		}
	}
	if c.Token != "" && len(c.Token) < MinTokenLen {
		p.errorf("console.token", "shorter than %d characters", MinTokenLen)
	}
	tokens, err := c.ConsoleTokens()
	if err != nil {
		p.errorf("console.token_file", "%v", strings.TrimPrefix(err.Error(), "console.token_file: "))
		return
	}
	if len(tokens) == 0 && p.cfg.ConsoleAddr() != "" && !p.cfg.ConsoleLoopback() {
		key := "console.addr"
		if c.Addr == "health" {
			key = "console.addr"
		}
		p.errorf(key, "the console would be reachable off loopback with no token: set console.token_file (or console.token), or serve it on loopback")
	}
}
