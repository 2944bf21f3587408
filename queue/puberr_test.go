package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

// serverErr is the server's own definition of an API error, as nats.go's
// synchronous publish returns it (wrapped once more in "nats: ").
func serverErr(e *server.ApiError) error {
	return fmt.Errorf("nats: %w", &jetstream.APIError{Code: e.Code, ErrorCode: jetstream.ErrorCode(e.ErrCode), Description: e.Description})
}

// The publish errors of a failover say what happened and whether a retry
// is safe, once, and errors.Is finds both our sentinel and nats.go's error.
func TestEnqueueErrorsExplainFailover(t *testing.T) {
	_, c := testClient(t)
	q := testQueue(t, c, "pe", Config{})

	// A publish nobody answers, for real: the level's stream is gone.
	if err := c.js.DeleteStream(context.Background(), levelStream("pe", int(Normal))); err != nil {
		t.Fatal(err)
	}
	_, noStream := q.Enqueue(context.Background(), []byte("x"), WithID("a"))

	cases := []struct {
		name  string
		err   error
		is    []error
		words []string
	}{
		{"no responders", noStream, []error{ErrNoLeader, jetstream.ErrNoStreamResponse},
			[]string{`queue "pe": enqueue: no stream answered`, "no leader", "or it was deleted", "nothing was stored, so a retry is safe"}},
		{"timeout", q.pubErr(context.DeadlineExceeded), []error{ErrNotConfirmed, context.DeadlineExceeded},
			[]string{"no acknowledgement within the deadline", "nats.go's 5s default", "no stream leader answered", "may or may not be stored",
				"a retry with the same WithID is safe", "2m0s duplicate window", "without WithID a retry may store a second copy"}},
		{"duplicate in process", q.pubErr(serverErr(server.NewJSStreamDuplicateMessageConflictError())),
			[]error{ErrDuplicateInProgress, &jetstream.APIError{ErrorCode: 10158}},
			[]string{"an earlier publish with the same ID is still being stored", "this one stored nothing", "a retry with the same ID is safe",
				"server error 409, err_code 10158: duplicate message id is in process"}},
		{"cluster unavailable", q.pubErr(serverErr(server.NewJSClusterNotAvailError())), []error{ErrNoLeader, &jetstream.APIError{ErrorCode: 10008}},
			[]string{"the cluster has no leader", "nothing was stored", "server error 503, err_code 10008: JetStream system temporarily unavailable"}},
		{"other server error", q.pubErr(serverErr(server.NewJSStreamMessageExceedsMaximumError())), []error{jetstream.ErrStreamMessageExceedsMaximum},
			[]string{"the server refused the publish: server error 400, err_code 10054: message size exceeds maximum allowed"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err == nil {
				t.Fatal("no error")
			}
			msg := tc.err.Error()
			for _, target := range tc.is {
				if !errors.Is(tc.err, target) {
					t.Errorf("%q: errors.Is(%v) is false", msg, target)
				}
			}
			for _, w := range tc.words {
				if !strings.Contains(msg, w) {
					t.Errorf("%q does not say %q", msg, w)
				}
			}
			if strings.Contains(msg, "nats: nats:") || strings.Count(msg, "API error") > 0 {
				t.Errorf("%q repeats nats.go's prefix", msg)
			}
		})
	}
}
