package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Definition is a job as the fleet sees it: published in NATS by every
// runner that defines the job, and gone a while after the last of them
// stopped (Options.Heartbeat × 6), so Start knows whether any instance can
// run it.
type Definition struct {
	Name      string `json:"name"`
	Kind      Kind   `json:"kind"`
	Schedule  string `json:"schedule,omitempty"`
	TimeZone  string `json:"time_zone,omitempty"`
	Singleton bool   `json:"singleton,omitempty"`
	// Source is "go" for a Go job, "config" for a program declared in the
	// config, the settings.job (or folder) of a job folder, or "code".
	Source string `json:"source"`
	// Command is a program's command line (empty for a Go job).
	Command []string `json:"command,omitempty"`
	// Instance is the instance that published it last.
	Instance string `json:"instance"`
}

func definitionOf(j *Job, instance string) Definition {
	d := Definition{Name: j.Name, Kind: j.Kind, Schedule: j.Schedule, Singleton: j.singleton(),
		Source: j.source, Command: j.Command, Instance: instance}
	if j.Location != nil && j.Schedule != "" {
		d.TimeZone = j.Location.String()
	}
	return d
}

// publishDef stores d for ttl (a per-key TTL the server keeps).
func (s *store) publishDef(ctx context.Context, d Definition, ttl time.Duration) error {
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	m := &nats.Msg{Subject: "$KV." + bucket + "." + keyDef + d.Name, Data: b}
	if _, err := s.js.PublishMsg(ctx, m, jetstream.WithMsgTTL(max(ttl, time.Second).Truncate(time.Second))); err != nil {
		return fmt.Errorf("jobs: publish definition of %s: %w", d.Name, err)
	}
	return nil
}

// definition reads a job's published definition. Errors wrap
// ErrUnknownJob when no runner publishes it.
func (s *store) definition(ctx context.Context, name string) (Definition, error) {
	if err := ValidName(name); err != nil {
		return Definition{}, fmt.Errorf("%w: %w", ErrUnknownJob, err)
	}
	e, err := s.kv.Get(ctx, keyDef+name)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return Definition{}, fmt.Errorf("%w: %q: no running instance defines it", ErrUnknownJob, name)
	}
	if err != nil {
		return Definition{}, fmt.Errorf("jobs: read definition of %s: %w", name, err)
	}
	var d Definition
	if err := json.Unmarshal(e.Value(), &d); err != nil {
		return Definition{}, fmt.Errorf("jobs: definition of %s: %w", name, err)
	}
	return d, nil
}

// definitions lists the published definitions by name.
func (s *store) definitions(ctx context.Context) ([]Definition, error) {
	w, err := s.kv.Watch(ctx, keyDef+"*", jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("jobs: list definitions: %w", err)
	}
	defer w.Stop()
	var out []Definition
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("jobs: list definitions: watcher closed")
			}
			if e == nil {
				sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
				return out, nil
			}
			var d Definition
			if json.Unmarshal(e.Value(), &d) == nil && strings.TrimPrefix(e.Key(), keyDef) == d.Name {
				out = append(out, d)
			}
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
}
