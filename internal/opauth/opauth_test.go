package opauth

import (
	"net/http"
	"testing"

	"github.com/cloudrole/cloudrole/config"
)

func TestWho(t *testing.T) {
	tokens := []config.Token{{Name: "alice", Secret: "alice-secret-0123456789"}, {Name: "bob", Secret: "bob-secret-0123456789"}}
	for h, want := range map[string]string{
		"":                               "",
		"Bearer alice-secret-0123456789": "alice",
		"Bearer bob-secret-0123456789":   "bob",
		"Bearer bob-secret-012345678":    "", // a prefix is not the token
		"Bearer ":                        "",
		"Basic alice-secret-0123456789":  "",
		"alice-secret-0123456789":        "",
	} {
		r := &http.Request{Header: http.Header{}}
		if h != "" {
			r.Header.Set("Authorization", h)
		}
		if got := Who(tokens, r); got != want {
			t.Errorf("Who(%q) = %q; want %q", h, got, want)
		}
	}
	if got := Match(nil, ""); got != "" {
		t.Errorf("Match with no tokens = %q", got)
	}
	if got := Match([]config.Token{{Name: "empty", Secret: ""}}, ""); got != "" {
		t.Errorf("an empty secret matched %q", got)
	}
}

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:1": true, "[::1]:1": true, "10.0.0.1:1": false, "bogus": false, "": false} {
		if got := Loopback(&http.Request{RemoteAddr: addr}); got != want {
			t.Errorf("Loopback(%q) = %v", addr, got)
		}
	}
}
