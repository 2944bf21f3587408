package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cloudrole/cloudrole/queue"
)

// Bucket is the KV bucket of the fleet's snapshots.
const Bucket = "CR_FLEET"

// Interval is how often a host publishes its snapshot.
const Interval = 5 * time.Second

// GoneAfter is how old a member's last snapshot may be before the member
// counts as gone.
const GoneAfter = 3 * Interval

// keep is how long the bucket keeps a snapshot after its last write.
const keep = time.Hour

// Envelope is what a host publishes about itself in the fleet bucket: who
// it is, when, and a summary of its state, small enough that a page of a
// hundred instances reads fast. Its whole snapshot goes to StatusBucket.
type Envelope struct {
	Role        string    `json:"role"`
	Instance    string    `json:"instance"`
	Deployment  string    `json:"deployment,omitempty"`
	State       string    `json:"state"`
	PublishedAt time.Time `json:"published_at"`
	Summary     Summary   `json:"summary"`
}

// Summary is the part of an instance's snapshot a fleet view shows.
type Summary struct {
	Ready       bool          `json:"ready"`
	ReadyReason string        `json:"ready_reason,omitempty"`
	Busy        bool          `json:"busy,omitempty"`
	Frozen      string        `json:"frozen,omitempty"`
	Uptime      time.Duration `json:"uptime"`
	Recycles    int           `json:"recycles"`
	Failures    int           `json:"consecutive_failures"`
	LastRecycle string        `json:"last_recycle,omitempty"`
}

// StatusBucket holds each instance's whole snapshot (lifecycle.Status as
// JSON), under the same key as its envelope.
const StatusBucket = "CR_FLEET_STATUS"

// Member is one instance as the fleet bucket shows it.
type Member struct {
	Envelope
	// Gone is true when the last snapshot is older than GoneAfter, or the
	// instance said it stopped.
	Gone bool `json:"gone"`
	// Age is how old the last snapshot is.
	Age time.Duration `json:"age"`
}

// Key is the bucket key of role's instance: both names, with anything a
// KV key cannot hold replaced by '_'.
func Key(role, instance string) string { return keyPart(role) + "." + keyPart(instance) }

func keyPart(s string) string {
	if s == "" {
		return "_"
	}
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '=' {
			return r
		}
		return '_'
	}, s)
}

// open creates the bucket or opens it as it is.
func open(ctx context.Context, c *queue.Client, bucket string) (jetstream.KeyValue, error) {
	js := c.JetStream()
	kv, err := js.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: bucket, Description: "cloudrole fleet: one entry per instance",
			History: 1, TTL: keep, Storage: jetstream.FileStorage,
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.KeyValue(ctx, bucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("fleet: bucket %s: %w", bucket, err)
	}
	return kv, nil
}

// Snapshot returns the whole status snapshot (lifecycle.Status as JSON)
// the instance role/instance published last. Errors wrap
// jetstream.ErrKeyNotFound for an instance the fleet does not know.
func Snapshot(ctx context.Context, c *queue.Client, role, instance string) (json.RawMessage, error) {
	kv, err := open(ctx, c, StatusBucket)
	if err != nil {
		return nil, err
	}
	e, err := kv.Get(ctx, Key(role, instance))
	if err != nil {
		return nil, fmt.Errorf("fleet: %s/%s: %w", role, instance, err)
	}
	return e.Value(), nil
}

// Read returns every member of the fleet, sorted by role then instance,
// judged gone or not as of now. It reads without a watch: one request per
// member.
func Read(ctx context.Context, c *queue.Client, now time.Time) ([]Member, error) {
	kv, err := open(ctx, c, Bucket)
	if err != nil {
		return nil, err
	}
	// A watch delivers every current value in one stream of messages,
	// then a nil: one request for the whole fleet, not one per member.
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("fleet: read: %w", err)
	}
	defer w.Stop()
	var out []Member
	for {
		var e jetstream.KeyValueEntry
		select {
		case e = <-w.Updates():
		case <-ctx.Done():
			return nil, fmt.Errorf("fleet: read: %w", ctx.Err())
		}
		if e == nil {
			break
		}
		var env Envelope
		if err := json.Unmarshal(e.Value(), &env); err != nil {
			continue // not ours, or damaged: nothing to show
		}
		age := now.Sub(env.PublishedAt)
		out = append(out, Member{Envelope: env, Age: age, Gone: age > GoneAfter || env.State == "stopped"})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Role != out[j].Role {
			return out[i].Role < out[j].Role
		}
		return out[i].Instance < out[j].Instance
	})
	return out, nil
}

// Publisher publishes one instance's snapshots. Its methods are safe for
// concurrent use.
type Publisher struct {
	role, instance, deployment string
	snapshot                   func() (state string, summary Summary, status any)
	client                     func() *queue.Client
	log                        *slog.Logger
	kick                       chan struct{}

	mu       sync.Mutex
	kv, full jetstream.KeyValue // the envelopes' bucket and the snapshots'
}

// NewPublisher returns a publisher for one instance. snapshot returns the
// instance's state, its summary and its whole status (marshalled to
// JSON); client returns the NATS client to publish through, or nil while
// there is none (nothing is published then).
func NewPublisher(role, instance, deployment string, snapshot func() (string, Summary, any), client func() *queue.Client, log *slog.Logger) *Publisher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Publisher{role: role, instance: instance, deployment: deployment, snapshot: snapshot, client: client, log: log, kick: make(chan struct{}, 1)}
}

// Kick asks for a publish now (a state change). It never blocks.
func (p *Publisher) Kick() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Run publishes every Interval and on each Kick until ctx ends, then once
// more (the stopping host's last word) and returns nil.
func (p *Publisher) Run(ctx context.Context) error {
	// Until the first snapshot is out, look for a client often: the role
	// connects when it likes, and the fleet should see it at once.
	t := time.NewTimer(firstLook)
	defer t.Stop()
	for {
		p.mu.Lock()
		published := p.kv != nil
		p.mu.Unlock()
		if published {
			t.Reset(Interval)
		} else {
			t.Reset(firstLook)
		}
		select {
		case <-ctx.Done():
			// The last word, if it can be said quickly: a stopping host
			// must not wait on a NATS that is not there.
			// Only where a snapshot was published before: creating the
			// bucket while the host closes the server leaves nats-server
			// goroutines behind.
			p.mu.Lock()
			published := p.kv != nil
			p.mu.Unlock()
			if c := p.client(); published && c != nil && c.Conn().IsConnected() {
				fctx, cancel := context.WithTimeout(context.Background(), lastWait)
				p.publish(fctx, true)
				cancel()
			}
			return nil
		case <-t.C:
		case <-p.kick:
		}
		// Not cut short by ctx: a request abandoned midway leaves the
		// server working on it while the host closes it (nats-server then
		// leaks the goroutines of a bucket created during its shutdown).
		// The bound and the connected check keep a stop from waiting long.
		if c := p.client(); c != nil && c.Conn().IsConnected() {
			pctx, cancel := context.WithTimeout(context.Background(), publishWait)
			p.publish(pctx, false)
			cancel()
		}
	}
}

// publishWait bounds one publish (a snapshot missed is replaced by the next
// one); lastWait the final one of a stopping host.
const (
	firstLook   = 250 * time.Millisecond
	publishWait = 5 * time.Second
	lastWait    = time.Second
)

// Publish puts the current snapshot, if there is a client. Failures are
// logged at debug: the fleet view is best effort, the role's work is not
// affected.
func (p *Publisher) Publish(ctx context.Context) { p.publish(ctx, false) }

// publish puts the snapshot; last marks the stopping host's final one,
// whose state is "stopped" whatever the host is still doing.
func (p *Publisher) publish(ctx context.Context, last bool) {
	c := p.client()
	if c == nil {
		return
	}
	state, sum, st := p.snapshot()
	if last {
		state = "stopped"
	}
	raw, err := json.Marshal(st)
	if err != nil {
		p.log.Debug("fleet: snapshot", "error", err.Error())
		return
	}
	env, err := json.Marshal(Envelope{Role: p.role, Instance: p.instance, Deployment: p.deployment, State: state, PublishedAt: time.Now().UTC(), Summary: sum})
	if err != nil {
		return
	}
	p.mu.Lock()
	kv, full := p.kv, p.full
	p.mu.Unlock()
	if kv == nil {
		if full, err = open(ctx, c, StatusBucket); err == nil {
			kv, err = open(ctx, c, Bucket)
		}
		if err != nil {
			p.log.Debug("fleet: open", "error", err.Error())
			return
		}
		p.mu.Lock()
		p.kv, p.full = kv, full
		p.mu.Unlock()
	}
	key := Key(p.role, p.instance)
	// The snapshot first: a reader that finds the envelope finds it too.
	if _, err := full.Put(ctx, key, raw); err != nil {
		p.log.Debug("fleet: publish", "error", err.Error())
		return
	}
	if _, err := kv.Put(ctx, key, env); err != nil {
		p.log.Debug("fleet: publish", "error", err.Error())
	}
}
