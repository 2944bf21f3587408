package jsbackend

import (
	"testing"
)

func TestTokensRoundTrip(t *testing.T) {
	for _, s := range []string{"", "order-17", "a.b", "with space", "*", ">", "ünï", "=", "=3D", "x/y\\z"} {
		tk := tok(s)
		for i := 0; i < len(tk); i++ {
			if c := tk[i]; !safeByte(c) && c != '=' {
				t.Fatalf("tok(%q) = %q: byte %q is not allowed in a token", s, tk, c)
			}
		}
		back, err := untok(tk)
		if err != nil || back != s {
			t.Fatalf("untok(tok(%q)) = %q, %v", s, back, err)
		}
	}
}

func TestParseLogSubject(t *testing.T) {
	n, err := newNames("ns")
	if err != nil {
		t.Fatal(err)
	}
	ls, err := n.parse(n.commit("order.1", "e1", routeActivity("default")))
	if err != nil || ls.inst != "order.1" || ls.exec != "e1" || ls.kind != "m" || ls.sub != "c" {
		t.Fatalf("parse commit: %+v, %v", ls, err)
	}
	ls, err = n.parse(n.fired("order.1", "e1", "default"))
	if err != nil || ls.kind != "t" {
		t.Fatalf("parse fired timer: %+v, %v", ls, err)
	}
	if _, err := n.parse(n.schedule("order.1", "e1", 3)); err == nil {
		t.Fatal("a schedule subject parsed as a log subject")
	}
	if _, err := newNames("a.b"); err == nil {
		t.Fatal("a namespace with a dot was accepted")
	}
}
