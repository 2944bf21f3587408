package tasks

import "context"

type fencingKey struct{}

// FencingToken returns the fencing token of the lease under which the
// Singleton task running with ctx (or a context derived from it) runs, and
// true; it returns false for a context that is not a Singleton task's run.
// Pass the token with every write the lock protects to a store that fences
// (queue.FencedPut), so a run that still believes it holds the lock after
// another instance took it over is refused instead of overwriting newer
// work.
//
// The token is the run's for its whole life: after the lease is lost the
// run's context is cancelled (cause ErrLeaseLost) but FencingToken still
// returns the old token, which is what lets the store refuse a late write.
// A new lease, after a restart or a takeover, brings a greater token.
func FencingToken(ctx context.Context) (uint64, bool) {
	tok, ok := ctx.Value(fencingKey{}).(uint64)
	return tok, ok
}
