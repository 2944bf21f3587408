package faults

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The crash-loop settings under which the code before issue 14 froze the
// role at its first failed connect: one failure is a crash loop.
func freezeAtFirstFailure(t *testing.T) {
	t.Setenv("CLOUDROLE_HOST_MAX_FAILURES", "1")
	t.Setenv("CLOUDROLE_HOST_BACKOFF_BASE", "10ms")
	t.Setenv("CLOUDROLE_HOST_BACKOFF_MAX", "20ms")
}

// roleStatus is the part of a role's /status these tests read.
type roleStatus struct {
	State    string `json:"state"`
	Recycles int    `json:"recycles"`
	NATS     struct {
		State     string `json:"state"`
		Attempts  int    `json:"attempts"`
		LastError string `json:"last_error"`
	} `json:"nats"`
}

func getStatus(addr string) (roleStatus, string, error) {
	var st roleStatus
	resp, err := http.Get("http://" + addr + "/status")
	if err != nil {
		return st, "", err
	}
	defer resp.Body.Close()
	var raw json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		return st, "", err
	}
	return st, string(raw), json.Unmarshal(raw, &st)
}

func livez(addr string) int {
	resp, err := http.Get("http://" + addr + "/livez")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waiting describes a role waiting for its server: nil when it is live,
// not ready with a reason naming url and cause (case-insensitive), and its
// status shows the provider connecting with that cause as the last error.
func waiting(addr, url, cause string) error {
	if code := livez(addr); code != 200 {
		return fmt.Errorf("/livez = %d", code)
	}
	code, body := readyz(addr)
	if code != 503 || !strings.Contains(body, url) || !strings.Contains(strings.ToLower(body), cause) {
		return fmt.Errorf("/readyz = %d %q; want 503 naming %s and %q", code, body, url, cause)
	}
	st, raw, err := getStatus(addr)
	if err != nil {
		return err
	}
	if st.NATS.State != "connecting" || st.NATS.Attempts == 0 || !strings.Contains(strings.ToLower(st.NATS.LastError), cause) {
		return fmt.Errorf("/status nats is not connecting with last_error %q: %s", cause, raw)
	}
	if st.State == "frozen" || st.Recycles != 0 {
		return fmt.Errorf("the role recycled or froze: %s", raw)
	}
	return nil
}

// holdWaiting checks waiting on every poll for d: the role stays live, not
// ready and unfrozen for the whole outage.
func holdWaiting(t *testing.T, w *worker, addr, url, cause string, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); {
		if err := waiting(addr, url, cause); err != nil {
			t.Fatalf("during the outage: %v; logs:\n%s", err, w.logs)
		}
		time.Sleep(50 * time.Millisecond) // polling interval over HTTP
	}
}

func healthAddr(t *testing.T, w *worker) string {
	t.Helper()
	select {
	case addr := <-w.health:
		return addr
	case <-time.After(waitTimeout):
		t.Fatalf("no health address logged:\n%s", w.logs)
		return ""
	}
}

// A role whose external NATS server is not up yet when it starts waits
// for it instead of failing: live, not ready with a reason naming the
// server and the error, the provider connecting in /status, no recycle and
// no crash-loop freeze even with max_failures 1. Once the server starts the
// role connects by itself (no SIGHUP), becomes ready and does every job.
func TestExternalServerDownAtStart(t *testing.T) {
	outage := time.Duration(scale(3, 30)) * time.Second
	freezeAtFirstFailure(t)
	dir := t.TempDir()
	srv := newNATSServer(t, "late", freePort(t), filepath.Join(dir, "nats"))
	files := []string{filepath.Join(dir, "effects.log")}
	w := startWorker(t, dir, srv.url(), files[0], map[string]string{"Concurrency": "4", "WorkMs": "1"})
	addr := healthAddr(t, w)

	var last error
	if !waitFor(func() bool { last = waiting(addr, srv.url(), "connection refused"); return last == nil }, waitTimeout) {
		t.Fatalf("the role does not show it waits for NATS: %v; logs:\n%s", last, w.logs)
	}
	holdWaiting(t, w, addr, srv.url(), "connection refused", outage)

	srv.start()
	up := time.Now()
	var code int
	var body string
	if !waitFor(func() bool { code, body = readyz(addr); return code == 200 }, waitTimeout) {
		t.Fatalf("/readyz = %d %q after the server started; want 200; logs:\n%s", code, body, w.logs)
	}
	readyAfter := time.Since(up)
	ids := enqueueJobs(t, srv.url(), "faults", scale(500, 5000), 1, "late")
	tl, _ := waitDone(t, ids, waitTimeout, nil, func() []string { return files })
	st, raw, err := getStatus(addr)
	if err != nil || st.Recycles != 0 || st.NATS.State != "connected" {
		t.Fatalf("status after recovery: %v %s; want connected and no recycle", err, raw)
	}
	w.stop()
	logs := w.logs.String()
	if strings.Contains(logs, "instance recycled") || strings.Contains(logs, "frozen") {
		t.Fatalf("the role recycled or froze while waiting for NATS:\n%s", logs)
	}
	if n := strings.Count(logs, `msg="queue: cannot connect to NATS`); n != 1 {
		t.Errorf("%d log lines for one repeated connect error; want 1:\n%s", n, logs)
	}
	t.Logf("outage %v at start: ready %v after the server came up; jobs %d, lost %d, duplicates %d",
		outage, readyAfter.Round(time.Millisecond), tl.jobs, tl.lost, tl.duplicates)
}

// A wrong password is retried like an outage: live, not ready with a
// reason saying authorization (never the password), no crash-loop freeze;
// once the server accepts the password the role is ready by itself.
func TestExternalServerWrongPassword(t *testing.T) {
	const wrong = "wrong-pw-4711"
	freezeAtFirstFailure(t)
	dir := t.TempDir()
	srv := newNATSServer(t, "auth", freePort(t), filepath.Join(dir, "nats"))
	srv.opts.Username, srv.opts.Password = "worker", "right-pw"
	srv.start()
	files := []string{filepath.Join(dir, "effects.log")}
	w := startRole(t, dir, fmt.Sprintf("{url: %q, user: worker, password: %q}", srv.url(), wrong), files[0], nil)
	addr := healthAddr(t, w)

	var last error
	if !waitFor(func() bool { last = waiting(addr, srv.url(), "authorization violation"); return last == nil }, waitTimeout) {
		t.Fatalf("the role does not show the authorization error: %v; logs:\n%s", last, w.logs)
	}
	holdWaiting(t, w, addr, srv.url(), "authorization violation", time.Duration(scale(2, 10))*time.Second)
	_, body := readyz(addr)
	_, raw, _ := getStatus(addr)
	for what, text := range map[string]string{"/readyz": body, "/status": raw, "log": w.logs.String()} {
		if strings.Contains(text, wrong) {
			t.Errorf("%s shows the password:\n%s", what, text)
		}
	}

	// The fix is on the server: it now accepts the role's password.
	srv.stop()
	srv.opts.Password = wrong
	srv.start()
	var code int
	if !waitFor(func() bool { code, body = readyz(addr); return code == 200 }, waitTimeout) {
		t.Fatalf("/readyz = %d %q once the server accepts the password; logs:\n%s", code, body, w.logs)
	}
	w.stop()
	if logs := w.logs.String(); strings.Contains(logs, "instance recycled") || strings.Contains(logs, "frozen") {
		t.Fatalf("the role recycled or froze on a wrong password:\n%s", logs)
	}
}
