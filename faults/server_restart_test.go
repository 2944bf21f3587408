package faults

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// readyz returns the worker's /readyz code and body, or 0 if unreachable.
func readyz(addr string) (int, string) {
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// The server a worker is connected to goes away mid-stream and comes back
// on the same address and store: the worker's readiness turns 503 naming
// the connection while it is gone, it reconnects by itself, readiness
// returns, and every job is processed.
func TestServerRestartWorkerReconnects(t *testing.T) {
	jobs := scale(3000, 20000)
	dir := t.TempDir()
	srv := newNATSServer(t, "solo", freePort(t), filepath.Join(dir, "nats"))
	srv.start()
	files := []string{filepath.Join(dir, "effects.log")}
	w := startWorker(t, dir, srv.url(), files[0], map[string]string{"Concurrency": "4", "WorkMs": "2"})
	var addr string
	select {
	case addr = <-w.health:
	case <-time.After(waitTimeout):
		t.Fatalf("no health address logged:\n%s", w.logs)
	}
	ids := enqueueJobs(t, srv.url(), "faults", jobs, 1, "job")
	if !waitFor(func() bool { return count(ids, effects(t, files...)).done >= jobs/3 }, waitTimeout) {
		t.Fatalf("a third of the jobs was never done; logs:\n%s", w.logs)
	}

	srv.stop()
	down := time.Now()
	var code int
	var body string
	if !waitFor(func() bool { code, body = readyz(addr); return code == 503 }, waitTimeout) {
		t.Fatalf("/readyz = %d %q with the server down; want 503", code, body)
	}
	if !strings.Contains(body, "NATS") {
		t.Fatalf("/readyz reason %q does not name the connection", body)
	}
	notReadyAfter := time.Since(down)
	if c := count(ids, effects(t, files...)); c.lost == 0 {
		t.Fatal("every job was done before the outage: the test proved nothing")
	}

	srv.start()
	up := time.Now()
	if !waitFor(func() bool { code, body = readyz(addr); return code == 200 }, waitTimeout) {
		t.Fatalf("/readyz = %d %q after the server came back; want 200", code, body)
	}
	readyAgain := time.Since(up)
	tl, _ := waitDone(t, ids, waitTimeout, nil, func() []string { return files })
	w.stop()
	tl = count(ids, effects(t, files...))
	if tl.lost != 0 {
		t.Fatalf("%d of %d jobs lost", tl.lost, tl.jobs)
	}
	if strings.Contains(w.logs.String(), "instance recycled") {
		t.Fatalf("the role recycled for a NATS outage; readiness should carry it:\n%s", w.logs)
	}
	t.Logf("jobs %d, lost %d, duplicates %d; not ready %v after the server went down, ready %v after it came back",
		tl.jobs, tl.lost, tl.duplicates, notReadyAfter.Round(time.Millisecond), readyAgain.Round(time.Millisecond))
}
