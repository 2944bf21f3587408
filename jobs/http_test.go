package jobs

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/queue"
)

func httpServer(t *testing.T, p *queue.Provider) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	Routes(mux, HandlerOptions{Connect: func(ctx context.Context) (*Client, error) {
		qc, err := p.Client(ctx)
		if err != nil {
			return nil, err
		}
		return NewClient(ctx, qc, ClientOptions{})
	}})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, method, url, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// The HTTP API: start answers 202 with the run's URL; the run, the list
// and the output read back; a singleton already running is 409; unknown
// jobs and runs 404; bad IDs and arguments 400.
func TestHTTPStartGetListOutput(t *testing.T) {
	p := testServer(t)
	release := make(chan struct{})
	startRunner(t, fast(p, "a"),
		Job{Name: "echo", Func: func(ctx context.Context, inv *Invocation) error {
			inv.Printf("got %s", strings.Join(inv.Args, ","))
			return nil
		}},
		Job{Name: "solo", Singleton: true, Func: func(ctx context.Context, inv *Invocation) error {
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		}},
	)
	srv := httpServer(t, p)
	c := testClient(t, p)
	start(t, c, "echo") // wait for the definitions
	resp, body := do(t, "POST", srv.URL+"/jobs/echo/runs?arg=a", `{"args": ["b", "c d"]}`)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("start = %d %s", resp.StatusCode, body)
	}
	var started struct{ ID, URL string }
	json.Unmarshal([]byte(body), &started)
	if loc := resp.Header.Get("Location"); loc != started.URL || loc != "/jobs/echo/runs/"+started.ID {
		t.Fatalf("Location %q, body %s", loc, body)
	}
	wait(t, c, started.ID)
	resp, body = do(t, "GET", srv.URL+started.URL, "")
	var run Run
	if json.Unmarshal([]byte(body), &run); resp.StatusCode != 200 || run.State != Completed || run.Trigger.Type != TriggerAPI {
		t.Fatalf("get = %d %s", resp.StatusCode, body)
	}
	resp, body = do(t, "GET", srv.URL+started.URL+"/output", "")
	if resp.StatusCode != 200 || !strings.HasSuffix(strings.TrimSpace(body), "INFO  got a,b,c d") || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("output = %d %q", resp.StatusCode, body)
	}
	resp, body = do(t, "GET", srv.URL+started.URL+"/output?format=ndjson", "")
	var line Line
	if json.Unmarshal([]byte(body), &line); line.Text != "got a,b,c d" || line.Stream != Stdout {
		t.Fatalf("ndjson output = %q", body)
	}
	resp, body = do(t, "GET", srv.URL+"/jobs/echo/runs?state=Completed", "")
	if resp.StatusCode != 200 || strings.Count(body, `"id"`) != 2 {
		t.Fatalf("list = %d %s", resp.StatusCode, body)
	}
	resp, body = do(t, "GET", srv.URL+"/jobs", "")
	if resp.StatusCode != 200 || !strings.Contains(body, `"name": "solo"`) || !strings.Contains(body, `"singleton": true`) {
		t.Fatalf("definitions = %d %s", resp.StatusCode, body)
	}

	resp, body = do(t, "POST", srv.URL+"/jobs/solo/runs", "")
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("solo start = %d %s", resp.StatusCode, body)
	}
	if resp, body = do(t, "POST", srv.URL+"/jobs/solo/runs", ""); resp.StatusCode != http.StatusConflict || !strings.Contains(body, "already queued or running") {
		t.Fatalf("second solo start = %d %s; want 409", resp.StatusCode, body)
	}
	close(release)

	for _, tc := range []struct {
		method, path, body string
		code               int
	}{
		{"POST", "/jobs/nope/runs", "", 404},
		{"GET", "/jobs/echo/runs/echo.20260101T000000Z-000000", "", 404},
		{"GET", "/jobs/echo/runs/solo.20260101T000000Z-000000", "", 404},
		{"GET", "/jobs/echo/runs/not-an-id", "", 400},
		{"POST", "/jobs/echo/runs", `{"args": "x"}`, 400},
		{"POST", "/jobs/echo/runs", `{"argz": []}`, 400},
		{"POST", "/jobs/echo/runs", `{"args": ["a\u0000b"]}`, 400},
		{"GET", "/jobs/echo/runs?state=Sleeping", "", 400},
		{"GET", "/jobs/echo/runs?limit=-1", "", 400},
		{"POST", "/jobs/echo/runs/echo.20260101T000000Z-000000/stop", "", 404},
	} {
		if resp, body := do(t, tc.method, srv.URL+tc.path, tc.body); resp.StatusCode != tc.code || !strings.Contains(body, `"error"`) {
			t.Errorf("%s %s %s = %d %s; want %d", tc.method, tc.path, tc.body, resp.StatusCode, body, tc.code)
		}
	}
}

// Output as a live stream, receive (handed over once) and stop over HTTP.
func TestHTTPFollowReceiveStop(t *testing.T) {
	p := testServer(t)
	next := make(chan struct{})
	startRunner(t, fast(p, "a"), Job{Name: "talk", Func: func(ctx context.Context, inv *Invocation) error {
		inv.Printf("first")
		select {
		case <-next:
		case <-ctx.Done():
			return nil
		}
		inv.Printf("second")
		<-ctx.Done()
		return nil
	}})
	srv := httpServer(t, p)
	c := testClient(t, p)
	id := start(t, c, "talk")
	url := srv.URL + "/jobs/talk/runs/" + id
	resp, err := http.Get(url + "/output?follow=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	readLine := func() string {
		got := make(chan string, 1)
		go func() {
			if sc.Scan() {
				got <- sc.Text()
			} else {
				got <- "EOF"
			}
		}()
		select {
		case l := <-got:
			return l
		case <-time.After(waitLong):
			t.Fatal("no line streamed")
			return ""
		}
	}
	if l := readLine(); !strings.HasSuffix(l, "first") {
		t.Fatalf("streamed %q", l)
	}
	close(next)
	if l := readLine(); !strings.HasSuffix(l, "second") {
		t.Fatalf("streamed %q", l)
	}
	if _, body := do(t, "POST", url+"/receive", ""); strings.Count(body, "\n") != 2 {
		t.Fatalf("receive = %q", body)
	}
	if _, body := do(t, "POST", url+"/receive", ""); body != "" {
		t.Fatalf("second receive = %q; want nothing new", body)
	}
	if _, body := do(t, "POST", url+"/receive?keep=true", ""); strings.Count(body, "\n") != 2 {
		t.Fatalf("receive keep = %q", body)
	}
	if resp, body := do(t, "POST", url+"/stop", ""); resp.StatusCode != http.StatusAccepted || !strings.Contains(body, `"stop_requested": true`) {
		t.Fatalf("stop = %d %s", resp.StatusCode, body)
	}
	if l := readLine(); l != "EOF" {
		t.Fatalf("stream after the run ended: %q", l)
	}
	if r := wait(t, c, id); r.State != Stopped {
		t.Fatalf("run = %+v", r)
	}
}

// With the default Authorize, control actions from a non-loopback peer
// are refused with 403 and reads are allowed; an Authorize that wants a
// token answers 401 with a Bearer challenge, and a read refused by
// AuthorizeRead is refused before anything is read.
func TestHTTPControlRefused(t *testing.T) {
	p := testServer(t)
	connect := func(ctx context.Context) (*Client, error) {
		qc, err := p.Client(ctx)
		if err != nil {
			return nil, err
		}
		return NewClient(ctx, qc, ClientOptions{})
	}
	def := http.NewServeMux()
	Routes(def, HandlerOptions{Connect: connect})
	const token = "operator-token-0123456789"
	tok := http.NewServeMux()
	Routes(tok, HandlerOptions{
		Connect: connect,
		Authorize: func(r *http.Request) (string, error) {
			if r.Header.Get("Authorization") == "Bearer "+token {
				return "ops", nil
			}
			return "", ErrUnauthorized
		},
		AuthorizeRead: func(r *http.Request) error { return errors.New("reads are closed") },
	})
	for _, tc := range []struct {
		mux          *http.ServeMux
		method, path string
		bearer       string
		code         int
	}{
		{def, "POST", "/jobs/x/runs", "", 403},
		{def, "POST", "/jobs/x/runs/x.20260101T000000Z-000000/stop", "", 403},
		{def, "POST", "/jobs/x/runs/x.20260101T000000Z-000000/receive", "", 403},
		{def, "GET", "/jobs/x/runs", "", 200},
		{tok, "POST", "/jobs/x/runs", "", 401},
		{tok, "POST", "/jobs/x/runs", "wrong-token-0123456789", 401},
		{tok, "POST", "/jobs/x/runs", token, 404}, // let through: job x does not exist
		{tok, "GET", "/jobs/x/runs", token, 403},
	} {
		req := httptest.NewRequest(tc.method, tc.path, nil)
		req.RemoteAddr = "10.1.2.3:5555" // as a peer on the network
		if tc.bearer != "" {
			req.Header.Set("Authorization", "Bearer "+tc.bearer)
		}
		rec := httptest.NewRecorder()
		tc.mux.ServeHTTP(rec, req)
		if rec.Code != tc.code {
			t.Errorf("%s %s (token %q) = %d %s; want %d", tc.method, tc.path, tc.bearer, rec.Code, rec.Body, tc.code)
		}
		if tc.code == 401 && rec.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("%s %s: 401 without a WWW-Authenticate challenge", tc.method, tc.path)
		}
	}
	if who, err := LoopbackOnly(&http.Request{RemoteAddr: "127.0.0.1:1"}); err != nil || who == "" {
		t.Errorf("LoopbackOnly(127.0.0.1) = %q, %v", who, err)
	}
}
