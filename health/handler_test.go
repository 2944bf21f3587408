package health

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// probe is a settable Probe; the host's real one is tested in lifecycle.
type probe struct {
	mu     sync.Mutex
	live   error
	ready  bool
	reason string
	status any
}

func (p *probe) Live(context.Context) error { p.mu.Lock(); defer p.mu.Unlock(); return p.live }
func (p *probe) Ready() (bool, string)      { p.mu.Lock(); defer p.mu.Unlock(); return p.ready, p.reason }
func (p *probe) Status() any                { p.mu.Lock(); defer p.mu.Unlock(); return p.status }

func serve(t *testing.T, p Probe) string {
	t.Helper()
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(ln, NewHandler(p), nil)
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	t.Cleanup(func() {
		if err := s.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return "http://" + s.Addr().String()
}

func do(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func TestProbes(t *testing.T) {
	p := &probe{reason: "starting", status: map[string]any{"state": "starting"}}
	base := serve(t, p)

	for _, path := range []string{"/livez", "/healthz"} {
		if code, body := do(t, "GET", base+path); code != 200 || body != "ok" {
			t.Errorf("%s = %d %q, want 200 ok", path, code, body)
		}
	}
	if code, body := do(t, "GET", base+"/readyz"); code != 503 || body != "not ready: starting" {
		t.Errorf("/readyz = %d %q, want 503 with reason", code, body)
	}

	p.mu.Lock()
	p.ready, p.reason = true, ""
	p.live = errors.New("host loop stuck")
	p.mu.Unlock()
	if code, _ := do(t, "GET", base+"/readyz"); code != 200 {
		t.Errorf("/readyz when ready = %d", code)
	}
	if code, body := do(t, "GET", base+"/livez"); code != 503 || !strings.Contains(body, "host loop stuck") {
		t.Errorf("/livez when not live = %d %q", code, body)
	}
	if code, _ := do(t, "HEAD", base+"/readyz"); code != 200 {
		t.Errorf("HEAD /readyz = %d", code)
	}
}

func TestStatusJSON(t *testing.T) {
	p := &probe{status: map[string]any{"state": "running", "recycles": 2}}
	base := serve(t, p)
	code, body := do(t, "GET", base+"/status")
	if code != 200 {
		t.Fatalf("/status = %d", code)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("status is not JSON: %v\n%s", err, body)
	}
	if got["state"] != "running" || got["recycles"] != float64(2) {
		t.Errorf("status = %v", got)
	}
}

func TestGarbageRequests(t *testing.T) {
	base := serve(t, &probe{ready: true, status: struct{}{}})
	cases := []struct {
		method, path string
		want         int
	}{
		{"POST", "/readyz", 405},
		{"DELETE", "/status", 405},
		{"GET", "/nope", 404},
		{"GET", "/readyz/extra", 404},
		{"GET", "/%2e%2e/etc/passwd", 404},
		{"GET", "/" + strings.Repeat("a", 8000), 404},
	}
	for _, c := range cases {
		if code, _ := do(t, c.method, base+c.path); code != c.want {
			t.Errorf("%s %s = %d, want %d", c.method, c.path, code, c.want)
		}
	}
}

func TestUnmarshallableStatus(t *testing.T) {
	base := serve(t, &probe{status: func() {}})
	if code, body := do(t, "GET", base+"/status"); code != 500 || !strings.Contains(body, "status:") {
		t.Errorf("/status with bad snapshot = %d %q", code, body)
	}
}

func TestListen(t *testing.T) {
	ln, err := Listen(Off)
	if ln != nil || err != nil {
		t.Fatalf("Listen(off) = %v, %v", ln, err)
	}
	ln, err = Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = Listen(ln.Addr().String())
	if err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Fatalf("second Listen on a used port: %v (want an error naming the address)", err)
	}
}
