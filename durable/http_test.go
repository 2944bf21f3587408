package durable_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cloudrole/cloudrole/durable"
)

// serveAPI serves the hub's management API on a loopback server.
func serveAPI(t *testing.T, h *durable.Hub) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	durable.Routes(mux, durable.HTTPOptions{Hub: h})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, method, url, body string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	must(t, err)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	return resp.StatusCode, resp.Header, b
}

func TestHTTPStartIsShapedLikeCreateCheckStatusResponse(t *testing.T) {
	h, _ := openHub(t, durable.Options{}, func(h *durable.Hub) { must(t, h.RegisterOrchestrator(waiter)) })
	srv := serveAPI(t, h)

	code, hdr, body := do(t, "POST", srv.URL+"/durable/orchestrators/waiter/order-7", "")
	if code != http.StatusAccepted {
		t.Fatalf("start: %d %s", code, body)
	}
	var cs durable.CheckStatus
	must(t, json.Unmarshal(body, &cs))
	base := srv.URL + "/durable/instances/order-7"
	if cs.ID != "order-7" || cs.StatusQueryGetURI != base || hdr.Get("Location") != base ||
		cs.SendEventPostURI != base+"/raiseEvent/{eventName}" || cs.TerminatePostURI != base+"/terminate?reason={text}" || cs.PurgeHistoryDeleteURI != base {
		t.Fatalf("check status response %+v, Location %q", cs, hdr.Get("Location"))
	}
	// A second start of the running ID: 409.
	if code, _, body := do(t, "POST", srv.URL+"/durable/orchestrators/waiter/order-7", ""); code != http.StatusConflict {
		t.Fatalf("second start: %d %s", code, body)
	}
	// Running: 202 with a Location to look again.
	waitStatus(t, t.Context(), h, "order-7", durable.Running)
	code, hdr, body = do(t, "GET", cs.StatusQueryGetURI, "")
	if code != http.StatusAccepted || hdr.Get("Location") != base || !strings.Contains(string(body), `"runtimeStatus": "Running"`) {
		t.Fatalf("status while running: %d %v %s", code, hdr, body)
	}
	// Raise the event it waits for; it completes: 200.
	raise := strings.Replace(cs.SendEventPostURI, "{eventName}", "approval", 1)
	if code, _, body := do(t, "POST", raise, `"ops"`); code != http.StatusAccepted {
		t.Fatalf("raise: %d %s", code, body)
	}
	if _, err := h.Wait(within(t, t.Context(), 10*time.Second), "order-7"); err != nil {
		t.Fatal(err)
	}
	code, _, body = do(t, "GET", cs.StatusQueryGetURI, "")
	var s durable.Status
	must(t, json.Unmarshal(body, &s))
	if code != http.StatusOK || s.RuntimeStatus != durable.Completed || string(s.Output) != `"approved by ops"` {
		t.Fatalf("status after: %d %s", code, body)
	}
	// Terminating an ended instance: 410; purging it: 200, then 404.
	term := strings.Replace(cs.TerminatePostURI, "{text}", "late", 1)
	if code, _, body := do(t, "POST", term, ""); code != http.StatusGone {
		t.Fatalf("terminate after the end: %d %s", code, body)
	}
	if code, _, body := do(t, "DELETE", cs.PurgeHistoryDeleteURI, ""); code != http.StatusOK || !strings.Contains(string(body), `"instancesDeleted": 1`) {
		t.Fatalf("purge: %d %s", code, body)
	}
	if code, _, body := do(t, "GET", cs.StatusQueryGetURI, ""); code != http.StatusNotFound || !strings.Contains(string(body), "no such orchestration instance") {
		t.Fatalf("status after purge: %d %s", code, body)
	}
}

func TestHTTPTerminateListAndErrors(t *testing.T) {
	h, _ := openHub(t, durable.Options{}, func(h *durable.Hub) {
		must(t, h.RegisterOrchestrator(waiter))
		must(t, h.RegisterOrchestrator(greeter))
		must(t, h.RegisterActivity(greet))
	})
	srv := serveAPI(t, h)
	for _, id := range []string{"a", "b"} {
		if code, _, body := do(t, "POST", srv.URL+"/durable/orchestrators/waiter/"+id, ""); code != http.StatusAccepted {
			t.Fatalf("start %s: %d %s", id, code, body)
		}
	}
	if code, _, body := do(t, "POST", srv.URL+"/durable/instances/a/terminate?reason=cancelled%20order", ""); code != http.StatusAccepted {
		t.Fatalf("terminate: %d %s", code, body)
	}
	if _, err := h.Wait(within(t, t.Context(), 10*time.Second), "a"); err != nil {
		t.Fatal(err)
	}
	code, _, body := do(t, "GET", srv.URL+"/durable/instances?runtimeStatus=Terminated", "")
	var list []durable.Status
	must(t, json.Unmarshal(body, &list))
	if code != http.StatusOK || len(list) != 1 || list[0].InstanceID != "a" || list[0].Failure == nil || list[0].Failure.Message != "cancelled order" {
		t.Fatalf("list terminated: %d %s", code, body)
	}
	// An input is passed through as JSON.
	if code, _, body := do(t, "POST", srv.URL+"/durable/orchestrators/greeter/g", `"http"`); code != http.StatusAccepted {
		t.Fatalf("start with input: %d %s", code, body)
	}
	s, err := h.Wait(within(t, t.Context(), 10*time.Second), "g")
	must(t, err)
	if string(s.Output) != `"hello http"` {
		t.Fatalf("output %s", s.Output)
	}
	for _, tc := range []struct {
		method, path, body string
		code               int
		says               string
	}{
		{"POST", "/durable/orchestrators/nope/x", "", http.StatusNotFound, `no orchestrator is registered under this name: \"nope\"`},
		{"POST", "/durable/orchestrators/greeter/y", `{"unclosed"`, http.StatusBadRequest, "not valid JSON"},
		{"GET", "/durable/instances/nobody", "", http.StatusNotFound, "no such orchestration instance"},
		{"POST", "/durable/instances/nobody/raiseEvent/x", "", http.StatusNotFound, "no such orchestration instance"},
		{"GET", "/durable/instances?runtimeStatus=Sleeping", "", http.StatusBadRequest, `runtimeStatus \"Sleeping\": want one of Pending`},
		{"DELETE", "/durable/instances/b", "", http.StatusConflict, "still running"},
	} {
		code, _, body := do(t, tc.method, srv.URL+tc.path, tc.body)
		if code != tc.code || !strings.Contains(string(body), tc.says) {
			t.Errorf("%s %s: %d %s; want %d and %q", tc.method, tc.path, code, body, tc.code, tc.says)
		}
	}
}

// Outside a host (no operator tokens to check) actions are for loopback
// callers only, reads for everyone.
func TestHTTPControlIsLoopbackOnly(t *testing.T) {
	h, _ := openHub(t, durable.Options{}, func(h *durable.Hub) { must(t, h.RegisterOrchestrator(waiter)) })
	mux := http.NewServeMux()
	durable.Routes(mux, durable.HTTPOptions{Hub: h})
	for _, tc := range []struct {
		method, path string
		code         int
	}{
		{"POST", "/durable/orchestrators/waiter/r", http.StatusForbidden},
		{"POST", "/durable/instances/r/terminate", http.StatusForbidden},
		{"POST", "/durable/instances/r/raiseEvent/e", http.StatusForbidden},
		{"DELETE", "/durable/instances/r", http.StatusForbidden},
		{"GET", "/durable/instances/r", http.StatusNotFound},
		{"GET", "/durable/instances", http.StatusOK},
	} {
		req := httptest.NewRequest(tc.method, tc.path, nil)
		req.RemoteAddr = "10.0.0.7:52000"
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != tc.code {
			t.Errorf("%s %s from 10.0.0.7: %d %s, want %d", tc.method, tc.path, rec.Code, rec.Body, tc.code)
		}
	}
}

func TestHTTPServesTheDiagnosticsUI(t *testing.T) {
	h, ctx := openHub(t, durable.Options{}, func(h *durable.Hub) {
		must(t, h.RegisterOrchestrator(greeter))
		must(t, h.RegisterActivity(greet))
	})
	must(t, h.Start(ctx, greeter, durable.StartOptions{InstanceID: "d-1"}, "ui"))
	_, err := h.Wait(within(t, ctx, 10*time.Second), "d-1")
	must(t, err)
	srv := serveAPI(t, h)
	code, _, body := do(t, "GET", srv.URL+"/durable/diag/", "")
	if code != http.StatusOK || !strings.Contains(string(body), "<title>go-workflows</title>") {
		t.Fatalf("diag UI: %d %.200s", code, body)
	}
	code, _, body = do(t, "GET", srv.URL+"/durable/diag/api/", "")
	if code != http.StatusOK || !strings.Contains(string(body), `"instance_id":"d-1"`) {
		t.Fatalf("diag API: %d %s", code, body)
	}
}

// Authorize and AuthorizeRead replace the defaults: a refusal wrapping
// ErrUnauthorized is 401 with a Bearer challenge, another 403.
func TestHTTPAuthorizeHooks(t *testing.T) {
	h, _ := openHub(t, durable.Options{}, func(h *durable.Hub) { must(t, h.RegisterOrchestrator(waiter)) })
	mux := http.NewServeMux()
	durable.Routes(mux, durable.HTTPOptions{Hub: h,
		Authorize: func(r *http.Request) (string, error) {
			if r.Header.Get("Authorization") == "Bearer s3cret" {
				return "ops", nil
			}
			return "", durable.ErrUnauthorized
		},
		AuthorizeRead: func(*http.Request) error { return errors.New("no reads here") },
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	code, hdr, body := do(t, "POST", srv.URL+"/durable/orchestrators/waiter/x", "")
	if code != http.StatusUnauthorized || hdr.Get("WWW-Authenticate") != "Bearer" || !strings.Contains(string(body), "operator token") {
		t.Fatalf("start without the token: %d %v %s", code, hdr, body)
	}
	req, _ := http.NewRequest("POST", srv.URL+"/durable/orchestrators/waiter/x", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("start with the token: %d", resp.StatusCode)
	}
	if code, _, body := do(t, "GET", srv.URL+"/durable/instances/x", ""); code != http.StatusForbidden || !strings.Contains(string(body), "no reads here") {
		t.Fatalf("read refused: %d %s", code, body)
	}
}
