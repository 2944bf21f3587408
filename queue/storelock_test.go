package queue

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
)

// LockStore is idempotent, the first Client does not lock twice (a second
// flock from the same process would fail), and Close releases the lock.
func TestLockStoreIdempotent(t *testing.T) {
	dir := t.TempDir()
	p, err := NewProvider(Options{NATS: NATS{StoreDir: dir, Sync: "1m"}})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := p.LockStore(); err != nil {
			t.Fatalf("LockStore: %v", err)
		}
	}
	if _, err := p.Client(context.Background()); err != nil {
		t.Fatalf("Client after LockStore: %v", err)
	}
	if err := p.LockStore(); err != nil {
		t.Fatalf("LockStore after Client: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	mustErrIs(t, p.LockStore(), ErrClosed)

	again, err := NewProvider(Options{NATS: NATS{StoreDir: dir, Sync: "1m"}})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if err := again.LockStore(); err != nil {
		t.Fatalf("LockStore after the first provider closed: %v", err)
	}

	ext, err := NewProvider(Options{NATS: NATS{URL: "nats://127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ext.Close()
	if err := ext.LockStore(); err != nil {
		t.Fatalf("LockStore with an external URL: %v", err)
	}
}

// A second Provider on the same StoreDir (as a second process would be)
// gets ErrStoreLocked naming the directory and the holder, from LockStore
// and from Client; EmbeddedURL finds the holder's server.
func TestSecondProviderStoreLocked(t *testing.T) {
	dir := t.TempDir()
	if _, err := EmbeddedURL(dir); !errors.Is(err, ErrNoEmbeddedServer) {
		t.Fatalf("EmbeddedURL before any server: %v, want ErrNoEmbeddedServer", err)
	}
	first, err := NewProvider(Options{NATS: NATS{StoreDir: dir, Sync: "1m"}})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if err := first.LockStore(); err != nil {
		t.Fatal(err)
	}
	if _, err := EmbeddedURL(dir); !errors.Is(err, ErrNoEmbeddedServer) || !strings.Contains(err.Error(), "not started") {
		t.Fatalf("EmbeddedURL while locked but not serving: %v", err)
	}
	if _, err := first.Client(context.Background()); err != nil {
		t.Fatal(err)
	}
	url := first.srv.ClientURL()
	if got, err := EmbeddedURL(dir); err != nil || got != url {
		t.Fatalf("EmbeddedURL = %q, %v; want %q", got, err, url)
	}

	second, err := NewProvider(Options{NATS: NATS{StoreDir: dir, Sync: "1m"}})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	err = second.LockStore()
	mustErrIs(t, err, ErrStoreLocked)
	for _, want := range []string{dir, "process " + strconv.Itoa(os.Getpid()), url} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("LockStore error %q does not name %q", err, want)
		}
	}
	_, err = second.Client(context.Background())
	mustErrIs(t, err, ErrStoreLocked)
	if st := second.Status(); st.State != "unused" {
		t.Fatalf("refused provider's state %q, want unused", st.State)
	}

	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := EmbeddedURL(dir); !errors.Is(err, ErrNoEmbeddedServer) || !strings.Contains(err.Error(), "gone") {
		t.Fatalf("EmbeddedURL after Close: %v, want ErrNoEmbeddedServer naming the last holder", err)
	}
	if _, err := second.Client(context.Background()); err != nil {
		t.Fatalf("Client once the first provider closed: %v", err)
	}
}
