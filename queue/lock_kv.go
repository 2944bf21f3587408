package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Helpers shared by the KV-backed Locker, Checkpoints and Idempotency.

// ErrBadKey is wrapped when a lock name, checkpoint job ID or idempotency
// key cannot be a NATS KV key. Nothing was written.
var ErrBadKey = errors.New("queue: bad key")

// maxKeyLen bounds keys well inside NATS's subject limits.
const maxKeyLen = 256

// validateKey accepts what a NATS KV key may be: 1..256 bytes of
// A-Z a-z 0-9 - / _ = and dots, neither first nor last nor doubled. what
// names the kind of key for the error ("lock name", "job id" ...).
func validateKey(what, key string) error {
	if key == "" {
		return fmt.Errorf("%w: %s is empty", ErrBadKey, what)
	}
	if len(key) > maxKeyLen {
		return fmt.Errorf("%w: %s %.32q… is %d bytes long; at most %d", ErrBadKey, what, key, len(key), maxKeyLen)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '-', c == '/', c == '_', c == '=':
			continue
		case c == '.':
			if i == 0 || i == len(key)-1 || key[i-1] == '.' {
				return fmt.Errorf("%w: %s %q has a leading, trailing or doubled dot at byte %d", ErrBadKey, what, key, i)
			}
			continue
		}
		return fmt.Errorf("%w: %s %q has %q at byte %d; use only A-Z a-z 0-9 - / _ = and single inner dots", ErrBadKey, what, key, rune(c), i)
	}
	return nil
}

// minKeyTTL is the shortest per-key TTL nats-server accepts: it counts a
// message TTL in whole seconds and refuses one under a second.
const minKeyTTL = time.Second

// keyTTL turns a requested lifetime into one the server keeps exactly or
// longer: at least a second and rounded up to whole seconds (the server
// truncates fractions, which would expire a key early).
func keyTTL(d time.Duration) time.Duration {
	if d < minKeyTTL {
		return minKeyTTL
	}
	return (d + time.Second - 1).Truncate(time.Second)
}

// markerTTL is how long a bucket with per-key TTLs keeps the marker the
// server leaves when a key expires; a marker only has to outlive watchers'
// interest, and it costs one small message per expired key meanwhile.
const markerTTL = time.Minute

// openBucket creates or updates a KV bucket, retrying an unanswered
// management request (see provision). keyTTLs enables per-key TTLs.
func openBucket(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig, keyTTLs bool) (jetstream.KeyValue, error) {
	if js == nil {
		return nil, errors.New("queue: nil JetStream")
	}
	if err := validateName(cfg.Bucket); err != nil {
		return nil, fmt.Errorf("bucket: %w", err)
	}
	if cfg.Replicas < 0 {
		return nil, fmt.Errorf("%w: bucket %q: Replicas %d is negative", ErrBadOptions, cfg.Bucket, cfg.Replicas)
	}
	if keyTTLs {
		cfg.LimitMarkerTTL = markerTTL
	}
	cfg.History = 1
	cfg.Storage = jetstream.FileStorage
	var kv jetstream.KeyValue
	err := provision(ctx, func(ctx context.Context) (err error) {
		kv, err = ensureKV(ctx, js, cfg)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("queue: KV bucket %q: %w", cfg.Bucket, err)
	}
	return kv, nil
}

// casPut writes value to key only if the key's last revision is rev, with
// a per-key ttl when ttl > 0 (kv.Update cannot set one). It returns the new
// revision; a conflict wraps jetstream.ErrKeyRevisionMismatch.
func casPut(ctx context.Context, js jetstream.JetStream, bucket, key string, value []byte, rev uint64, ttl time.Duration) (uint64, error) {
	m := &nats.Msg{Subject: "$KV." + bucket + "." + key, Data: value}
	opts := []jetstream.PublishOpt{jetstream.WithExpectLastSequencePerSubject(rev)}
	if ttl > 0 {
		opts = append(opts, jetstream.WithMsgTTL(keyTTL(ttl)))
	}
	ack, err := js.PublishMsg(ctx, m, opts...)
	if err != nil {
		if isRevisionConflict(err) {
			return 0, fmt.Errorf("%w: %w", err, jetstream.ErrKeyRevisionMismatch)
		}
		return 0, err
	}
	return ack.Sequence, nil
}

// isRevisionConflict reports whether err is the server refusing a write
// whose expected last revision did not match (10071, or 10164 on
// replicated streams).
func isRevisionConflict(err error) bool {
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return true
	}
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}

// isKeyExists reports whether a kv.Create failed because the key exists.
func isKeyExists(err error) bool {
	return errors.Is(err, jetstream.ErrKeyExists) || isRevisionConflict(err)
}
