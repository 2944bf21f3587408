package queue

import (
	"context"
	"testing"
	"time"
)

// peerClient connects a second Provider to the server c uses: another
// instance of the role, on its own connection.
func peerClient(t testing.TB, c *Client) *Client {
	t.Helper()
	p, err := NewProvider(Options{NATS: NATS{URL: c.Conn().ConnectedUrl()}, Name: "peer"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	pc, err := p.Client(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return pc
}

func kvCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func testLocker(t testing.TB, c *Client) *Locker {
	t.Helper()
	l, err := c.Locker(kvCtx(t), LockerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return l
}
