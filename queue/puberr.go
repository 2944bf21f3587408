package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// jsErrDuplicateInProcess is the server's "duplicate message id is in
// process" (JSStreamDuplicateMessageConflict, HTTP-like code 409): an
// earlier publish with the same Nats-Msg-Id was proposed to the stream's
// Raft group and is not committed yet.
const jsErrDuplicateInProcess jetstream.ErrorCode = 10158

// explainedError is a failure told in its own words (what happened, and
// for an enqueue whether a retry is safe) while errors.Is still finds both
// the sentinel (kind) and the nats.go or server error (err); either may be
// nil.
type explainedError struct {
	kind error
	text string
	err  error
}

func (e *explainedError) Error() string { return e.text }

// Unwrap returns the sentinel and the underlying error, those that are set.
func (e *explainedError) Unwrap() []error {
	var out []error
	for _, err := range []error{e.kind, e.err} {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// explainPublish maps the errors a publish gets while a cluster fails over
// to errors that say what happened, whether anything may have been
// stored, and whether a retry is safe. What nats.go reports is terse or
// misleading there: "no response from stream", a bare "context deadline
// exceeded" (also when the caller set no deadline: jetstream then applies
// a 5 s default of its own), and "nats: nats: API error: code=409 …".
// window is the queue's DuplicateWindow. Other errors come back unchanged,
// except that a server error loses its doubled "nats: " prefix.
func explainPublish(err error, window time.Duration) error {
	const mayBeStored = "the job may or may not be stored: a retry with the same WithID is safe (it is stored once within the queue's %v duplicate window); without WithID a retry may store a second copy"
	var apiErr *jetstream.APIError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jetstream.ErrNoStreamResponse), errors.Is(err, nats.ErrNoResponders):
		// No server had the subject's interest, even after nats.go's two
		// retries: nothing received the job, so nothing stored it.
		return &explainedError{ErrNoLeader, fmt.Sprintf(
			"no stream answered the publish: the stream has no leader (its servers are down, or the cluster lost quorum or is electing one) or it was deleted; nothing was stored, so a retry is safe (%v)", err), err}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout), errors.Is(err, jetstream.ErrAsyncPublishTimeout):
		// A stream member that is not the leader drops a publish without
		// answering, so a leaderless stream shows up as a timeout.
		return &explainedError{ErrNotConfirmed, fmt.Sprintf(
			"no acknowledgement within the deadline (the caller's, or nats.go's 5s default when the context has none): no stream leader answered, the cluster may have lost quorum or be electing one; "+mayBeStored+" (%v)", window, err), err}
	case errors.As(err, &apiErr) && apiErr.ErrorCode == jsErrDuplicateInProcess:
		return &explainedError{ErrDuplicateInProgress, fmt.Sprintf(
			"an earlier publish with the same ID is still being stored (it awaits replication, e.g. while the stream has no quorum); this one stored nothing: a retry with the same ID is safe, it is deduplicated if the earlier one is stored (%s)", describeAPIError(apiErr)), err}
	case errors.As(err, &apiErr) && apiErr.Code == 503:
		return &explainedError{ErrNoLeader, fmt.Sprintf(
			"JetStream is temporarily unavailable: the cluster has no leader (quorum lost, or an election under way); nothing was stored, so a retry is safe (%s)", describeAPIError(apiErr)), err}
	case errors.As(err, &apiErr):
		return &explainedError{nil, "the server refused the publish: " + describeAPIError(apiErr), err}
	}
	return err
}

// describeAPIError renders a server error once, without the "nats: nats:
// API error" that nats.go's synchronous publish prints.
func describeAPIError(e *jetstream.APIError) string {
	return fmt.Sprintf("server error %d, err_code %d: %s", e.Code, e.ErrorCode, e.Description)
}
