package opauth

import (
	"crypto/subtle"
	"net"
	"net/http"
	"strings"

	"github.com/cloudrole/cloudrole/config"
)

// Match returns the name of the token whose secret is secret, or "". Every
// token is compared, in constant time, so the time taken says nothing
// about which one (or how much of one) matched.
func Match(tokens []config.Token, secret string) string {
	name := ""
	if secret == "" {
		return ""
	}
	for _, t := range tokens {
		if subtle.ConstantTimeCompare([]byte(secret), []byte(t.Secret)) == 1 {
			name = t.Name
		}
	}
	return name
}

// Bearer returns the secret of r's "Authorization: Bearer" header, and
// whether r has an Authorization header at all.
func Bearer(r *http.Request) (secret string, present bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false
	}
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return "", true
	}
	return strings.TrimSpace(tok), true
}

// Who returns the name of the token r's Bearer header carries, or "".
func Who(tokens []config.Token, r *http.Request) string {
	s, _ := Bearer(r)
	return Match(tokens, s)
}

// Loopback reports whether r's peer is a loopback address. It reads the
// connection's address, never a forwarding header.
func Loopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
