package queue

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrFenced is wrapped by FencedPut when the key was already written under
// a newer lease (a greater fencing token): the writer's lease is stale.
var ErrFenced = errors.New("queue: write fenced off by a newer lease")

// fenceHeader is the size of the token that FencedPut stores before the
// value (8 bytes, big-endian).
const fenceHeader = 8

// fencedTries bounds FencedPut's compare-and-set loop under contention.
const fencedTries = 64

// FencedPut writes value to key in kv unless the key was already written
// with a greater fencing token (lease.Lease.Token of the writer's lease).
// Equal tokens are accepted, so a holder may write the same key again. The
// token is stored in 8 bytes before the value (read it back with
// FencedGet), so every write to key must go through FencedPut. The check and the
// write are one compare-and-set on the key's revision, retried while other
// writers race. Errors wrap ErrFenced naming both tokens, ErrBadKey, or the
// server's error; nothing was written then.
func FencedPut(ctx context.Context, kv jetstream.KeyValue, key string, value []byte, token uint64) error {
	if err := validateKey("key", key); err != nil {
		return err
	}
	b := make([]byte, fenceHeader+len(value))
	binary.BigEndian.PutUint64(b, token)
	copy(b[fenceHeader:], value)
	for range fencedTries {
		e, err := kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			if _, err = kv.Create(ctx, key, b); err == nil {
				return nil
			} else if isKeyExists(err) {
				continue
			}
			return fmt.Errorf("queue: fenced put %q: %w", key, err)
		}
		if err != nil {
			return fmt.Errorf("queue: fenced put %q: %w", key, err)
		}
		if have := storedToken(e.Value()); have > token {
			return fmt.Errorf("queue: fenced put %q: token %d is older than %d already written: %w", key, token, have, ErrFenced)
		}
		if _, err = kv.Update(ctx, key, b, e.Revision()); err == nil {
			return nil
		} else if !isRevisionConflict(err) {
			return fmt.Errorf("queue: fenced put %q: %w", key, err)
		}
	}
	return fmt.Errorf("queue: fenced put %q: gave up after %d conflicting writes", key, fencedTries)
}

// FencedGet reads a key written by FencedPut: its value and the token it
// was written with. A missing key returns an error wrapping
// jetstream.ErrKeyNotFound.
func FencedGet(ctx context.Context, kv jetstream.KeyValue, key string) (value []byte, token uint64, err error) {
	if err := validateKey("key", key); err != nil {
		return nil, 0, err
	}
	e, err := kv.Get(ctx, key)
	if err != nil {
		return nil, 0, fmt.Errorf("queue: fenced get %q: %w", key, err)
	}
	v := e.Value()
	if len(v) < fenceHeader {
		return v, 0, nil
	}
	return v[fenceHeader:], storedToken(v), nil
}

func storedToken(v []byte) uint64 {
	if len(v) < fenceHeader {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}
