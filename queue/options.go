package queue

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/cloudrole/cloudrole/internal/natsopts"
)

// NATS says where the queues live: an external NATS server or cluster
// (URL, credentials, TLS) or, with URL empty, an embedded server in this
// process (StoreDir, Sync, Listen). It is the same type as config.NATS, the
// config file's nats section, so a host passes that section whole, and
// both are checked by one validator.
type NATS = natsopts.Settings

// Options configure a Provider. The zero value runs an embedded server
// that needs a StoreDir.
type Options struct {
	// NATS is where the queues live. With URL set, the credentials and TLS
	// files authenticate to the external server, and StoreDir, Sync and
	// Listen are refused (an external server's storage and fsync policy
	// are its own config; set "jetstream { sync_interval: always }" on the
	// servers for the embedded default's durability). With URL empty,
	// StoreDir is required, Sync defaults to "always" (every write on disk
	// before cloudrole confirms it: on Linux through a group commit, one
	// syncfs(2) shared by every write waiting then, elsewhere an fsync per
	// write by the server; a duration such as "2m" is faster, but an OS
	// crash can lose acknowledged jobs), Listen to
	// "127.0.0.1:-1" (a free loopback port; other hosts are refused, the
	// embedded server has no authentication), and credentials are refused.
	NATS
	// Name is the client connection name shown by the server. Defaults to
	// "cloudrole".
	Name string
	// Logger receives connection events. Defaults to discarding.
	Logger *slog.Logger
}

// resolved is the validated form of Options.
type resolved struct {
	Options
	syncAlways   bool
	syncInterval time.Duration
	host         string
	port         int
	// connectRemind is how often a repeating connect failure is logged
	// again; tests shorten it.
	connectRemind time.Duration
}

func (o Options) resolve() (resolved, error) {
	r := resolved{Options: o, connectRemind: connectRemind}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	if r.Name == "" {
		r.Name = "cloudrole"
	}
	probs := o.NATS.CheckFields()
	if o.URL == "" && o.StoreDir == "" {
		probs = append(probs, natsopts.Problem{Field: "StoreDir", Msg: "is required for the embedded server (URL is empty)"})
	}
	if len(probs) > 0 {
		msgs := make([]string, len(probs))
		for i, p := range probs {
			msgs[i] = p.Field + ": " + p.Msg
		}
		return r, fmt.Errorf("%w: %s", ErrBadOptions, strings.Join(msgs, "; "))
	}
	if o.URL != "" {
		return r, nil
	}
	r.syncAlways, r.syncInterval, _ = natsopts.ParseSync(o.Sync)
	r.host, r.port, _ = natsopts.ParseListen(o.Listen)
	return r, nil
}

// redactURL removes user information from each comma-separated URL.
func redactURL(s string) string { return natsopts.RedactURL(s) }
