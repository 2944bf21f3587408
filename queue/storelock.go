package queue

import (
	"errors"
	"fmt"

	"github.com/cloudrole/cloudrole/internal/dirlock"
)

// LockStore takes the exclusive lock on the embedded server's StoreDir,
// so that no other process (and no other Provider of this process) runs a
// server on the same store: nats-server does not lock its store, and two
// servers writing to one store lose jobs silently. The host calls it first
// thing in Run, before anything starts; the first Client call takes it
// itself if it was not taken, so a Provider used without the host is
// protected too. The lock is held until Close, and the operating system
// releases it when the process dies, so a killed process leaves no stale
// lock. While held, the lock file records this process's PID and, once
// the server listens, its client URL (see EmbeddedURL).
//
// Idempotent; a no-op with an external URL. Errors wrap ErrStoreLocked
// when another holder has the store, naming the directory and the
// holder's PID (and URL, once it recorded one); ErrClosed after Close.
func (p *Provider) LockStore() error {
	if p.opts.URL != "" {
		return nil
	}
	p.startMu.Lock()
	defer p.startMu.Unlock()
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return p.lockStoreLocked()
}

// lockStoreLocked takes the store lock unless p holds it already: a
// second lock of the same file from this process would fail (flock locks
// belong to the open file, not the process). p.startMu is held.
func (p *Provider) lockStoreLocked() error {
	if p.lock != nil {
		return nil
	}
	l, err := dirlock.Acquire(p.opts.StoreDir)
	var held *dirlock.HeldError
	switch {
	case errors.As(err, &held):
		return fmt.Errorf("%w: %v; each process needs its own store (StoreDir, nats.store_dir; by default <role.data_dir>/nats)", ErrStoreLocked, held)
	case err != nil:
		return fmt.Errorf("queue: lock the store %s: %w", p.opts.StoreDir, err)
	}
	p.lock = l
	return nil
}

// unlockStoreLocked releases the store lock, if held. p.startMu is held.
func (p *Provider) unlockStoreLocked() error {
	if p.lock == nil {
		return nil
	}
	err := p.lock.Release()
	p.lock = nil
	return err
}

// EmbeddedURL returns the client URL of the embedded server that a running
// process (this one or another) serves from storeDir, as that process's
// Provider recorded it in the store's lock file. Tools use it to reach a
// running role's queues without a fixed port (the dead-letters verb of
// examples/orders).
//
// Errors wrap ErrNoEmbeddedServer when no live process holds the store,
// or when its holder has not started its server yet (a role starts it at
// its first queue.Connect). To tell a live holder from a dead one it
// takes the lock for a moment when it is free; a role starting at that
// very moment fails with ErrStoreLocked.
func EmbeddedURL(storeDir string) (string, error) {
	h, held, err := dirlock.Inspect(storeDir)
	switch {
	case err != nil:
		return "", fmt.Errorf("queue: %w", err)
	case !held && h.PID != 0:
		return "", fmt.Errorf("%w: no process holds the store %s (its last holder, process %d, is gone)", ErrNoEmbeddedServer, storeDir, h.PID)
	case !held:
		return "", fmt.Errorf("%w: no process holds the store %s", ErrNoEmbeddedServer, storeDir)
	case h.URL == "":
		return "", fmt.Errorf("%w: process %d holds the store %s but has not started its server yet", ErrNoEmbeddedServer, h.PID, storeDir)
	}
	return h.URL, nil
}
