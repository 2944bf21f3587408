package faults

import (
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// A role with the embedded server (fsync on every write) is SIGKILLed —
// server and worker together — with jobs still queued. Started again on
// the same data dir, it processes every job that had been enqueued.
func TestKilledRoleWithEmbeddedServerLosesNothing(t *testing.T) {
	jobs := scale(3000, 20000)
	const concurrency = 2
	dir := t.TempDir()
	port := freePort(t)
	natsYAML := fmt.Sprintf("{listen: \"127.0.0.1:%d\", sync: always}", port)
	settings := map[string]string{"Concurrency": fmt.Sprint(concurrency), "WorkMs": "2"}
	files := []string{filepath.Join(dir, "effects-0.log"), filepath.Join(dir, "effects-1.log")}

	role := startRole(t, dir, natsYAML, files[0], settings)
	// The embedded server starts when the role connects in Run.
	if !waitFor(func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
		}
		return err == nil
	}, waitTimeout) {
		t.Fatalf("the role's embedded server never listened; logs:\n%s", role.logs)
	}
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	ids := enqueueJobs(t, url, "faults", jobs, 1, "job")

	// Kill the whole process once a quarter is done.
	if !waitFor(func() bool { return count(ids, effects(t, files...)).done >= jobs/4 }, waitTimeout) {
		t.Fatalf("a quarter of the jobs was never done; logs:\n%s", role.logs)
	}
	role.kill()
	atKill := count(ids, effects(t, files...))
	if atKill.lost == 0 {
		t.Fatal("every job was done before the kill: the test proved nothing")
	}
	restarted := time.Now()
	role = startRole(t, dir, natsYAML, files[1], settings)
	tl, _ := waitDone(t, ids, waitTimeout*time.Duration(scale(1, 5)), nil, func() []string { return files })
	recovery := time.Since(restarted)
	role.stop()
	tl = count(ids, effects(t, files...))
	if tl.lost != 0 {
		t.Fatalf("%d of %d jobs lost", tl.lost, tl.jobs)
	}
	if tl.duplicates > concurrency {
		t.Fatalf("%d duplicates; at most %d (in flight at the kill)", tl.duplicates, concurrency)
	}
	t.Logf("jobs %d, queued at the kill %d, lost %d, duplicates %d, restart to all done %v",
		tl.jobs, atKill.lost, tl.lost, tl.duplicates, recovery.Round(time.Millisecond))
}
