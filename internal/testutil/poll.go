package testutil

import "time"

// PollInterval is how often Poll looks again.
const PollInterval = 5 * time.Millisecond

// Poll checks cond until it holds or limit passes, and says whether it
// held. It is for conditions nothing announces (a process's output, a
// counter, another process's records): a test waits on the condition with
// a deadline, never for a guessed time.
func Poll(cond func() bool, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(PollInterval)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}
