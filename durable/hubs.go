package durable

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Hubs lists the hubs stored on the server nc is connected to: every
// stream DURABLE_<hub> whose name is a valid hub name, sorted. It reads
// the server's stream list (one request per page of names) and creates
// nothing. A hub is listed from its first Open on until its stream is
// deleted, whether or not a worker serves it now: the streams are the
// truth of which orchestrations exist, where a fleet's status sections
// know only the hubs some live instance works.
func Hubs(ctx context.Context, nc *nats.Conn) ([]string, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("durable: hubs: %w", err)
	}
	lister := js.StreamNames(ctx, jetstream.WithStreamListSubject("durable.*.>"))
	var hubs []string
	for n := range lister.Name() {
		if hub, ok := strings.CutPrefix(n, "DURABLE_"); ok && validHub.MatchString(hub) {
			hubs = append(hubs, hub)
		}
	}
	if err := lister.Err(); err != nil {
		return nil, fmt.Errorf("durable: hubs: %w", err)
	}
	sort.Strings(hubs)
	return hubs, nil
}
