package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/cloudrole/cloudrole/internal/testutil"
)

// externalProvider returns a Provider for an external server at url whose
// log goes to the returned buffer; Cleanup closes it.
func externalProvider(t *testing.T, o Options) (*Provider, *testutil.Buffer) {
	t.Helper()
	logs := &testutil.Buffer{}
	o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	p, err := NewProvider(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p, logs
}

// startServerOn runs a JetStream server on 127.0.0.1:port; opts may set
// authentication.
func startServerOn(t *testing.T, port int, opts func(*server.Options)) *server.Server {
	t.Helper()
	o := &server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true}
	if opts != nil {
		opts(o)
	}
	s, err := server.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

type clientResult struct {
	c   *Client
	err error
	at  time.Time
}

// clientAsync calls p.Client(ctx) in a goroutine.
func clientAsync(p *Provider, ctx context.Context) <-chan clientResult {
	ch := make(chan clientResult, 1)
	go func() {
		c, err := p.Client(ctx)
		ch <- clientResult{c, err, time.Now()}
	}()
	return ch
}

func connectStatus(p *Provider) ProviderStatus { return p.Status() }

// waitAttempts waits until Client has failed at least n times.
func waitAttempts(t *testing.T, p *Provider, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d failed connect attempts", n), 20*time.Second, func() bool { return connectStatus(p).Attempts >= n })
}

// A server that is not up yet: Client keeps trying, Check and Status say
// what it waits for (the URL and the last error), and Client returns the
// connection once the server starts.
func TestClientWaitsForLateServer(t *testing.T) {
	port := freePort(t)
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	p, logs := externalProvider(t, Options{NATS: NATS{URL: url}})
	res := clientAsync(p, context.Background())
	waitAttempts(t, p, 3)

	err := p.Check()
	if err == nil || !strings.Contains(err.Error(), url) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Check while the server is down = %v; want the URL and the cause", err)
	}
	st := connectStatus(p)
	if st.State != "connecting" || !strings.Contains(st.LastError, "connection refused") || st.ConnectingSince == nil {
		t.Fatalf("status while the server is down %+v; want connecting with the last error", st)
	}
	select {
	case r := <-res:
		t.Fatalf("Client returned (%v) with the server down; it must keep trying", r.err)
	default:
	}

	startServerOn(t, port, nil)
	up := time.Now()
	r := recv(t, res, "Client after the server started")
	if r.err != nil {
		t.Fatalf("Client after the server started: %v", r.err)
	}
	t.Logf("connected %v after the server came up", r.at.Sub(up).Round(time.Millisecond))
	if err := p.Check(); err != nil {
		t.Fatalf("Check once connected: %v", err)
	}
	if st := connectStatus(p); st.State != "connected" || st.LastError != "" || st.Attempts != 0 {
		t.Fatalf("status once connected %+v", st)
	}
	if _, err := r.c.Queue(context.Background(), "late", Config{}); err != nil {
		t.Fatal(err)
	}
	if c, err := p.Client(context.Background()); err != nil || c != r.c {
		t.Fatalf("second Client = %p, %v; want the same client", c, err)
	}
	// One line for the failure however many attempts, one for the success.
	if n := strings.Count(logs.String(), "cannot connect to NATS"); n != 1 {
		t.Errorf("%d log lines for one repeated failure; want 1:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "connected to NATS") {
		t.Errorf("no line for the connection:\n%s", logs)
	}
}

// Cancelling the caller's ctx ends the wait at once, with ctx's error
// and the last failure.
func TestClientCtxCancelEndsConnect(t *testing.T) {
	p, _ := externalProvider(t, Options{NATS: NATS{URL: fmt.Sprintf("nats://127.0.0.1:%d", freePort(t))}})
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	res := clientAsync(p, ctx)
	// By the fifth failure the backoff waits over a second, so a prompt
	// return shows the wait was interrupted.
	waitAttempts(t, p, 5)
	stop := errors.New("instance recycling")
	cancel(stop)
	at := time.Now()
	r := recv(t, res, "Client after cancel")
	if d := r.at.Sub(at); d > time.Second {
		t.Fatalf("Client returned %v after its ctx was cancelled", d)
	}
	if !errors.Is(r.err, context.Canceled) || !errors.Is(r.err, stop) || !strings.Contains(r.err.Error(), "connection refused") {
		t.Fatalf("Client error %v; want context.Canceled, the cause and the last failure", r.err)
	}
	// Nobody waits any more: no longer connecting, still not ready.
	if st := connectStatus(p); st.State != "not connected" || st.Attempts < 5 {
		t.Fatalf("status after the caller gave up %+v", st)
	}
	if p.Check() == nil {
		t.Fatal("Check = nil with no connection after failed attempts")
	}
}

// Close during a connect returns promptly, both while Client waits between
// attempts and while an attempt is stuck in the handshake with a server
// that accepted the TCP connection but never answers; Client then returns
// ErrClosed.
func TestCloseInterruptsConnect(t *testing.T) {
	t.Run("backoff", func(t *testing.T) {
		p, _ := externalProvider(t, Options{NATS: NATS{URL: fmt.Sprintf("nats://127.0.0.1:%d", freePort(t))}})
		res := clientAsync(p, context.Background())
		waitAttempts(t, p, 5)
		closeAndCheck(t, p, res)
	})
	t.Run("handshake", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		accepted := make(chan net.Conn, 1)
		go func() {
			c, err := ln.Accept()
			if err == nil {
				accepted <- c
			}
		}()
		p, _ := externalProvider(t, Options{NATS: NATS{URL: "nats://" + ln.Addr().String()}})
		res := clientAsync(p, context.Background())
		conn := recv(t, accepted, "the connection attempt")
		defer conn.Close()
		closeAndCheck(t, p, res)
	})
}

func closeAndCheck(t *testing.T, p *Provider, res <-chan clientResult) {
	t.Helper()
	at := time.Now()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	// nats.go's handshake timeout is 2 s and the backoff here over 1 s:
	// a return well within either shows Close interrupted them.
	if d := time.Since(at); d > time.Second {
		t.Fatalf("Close took %v during a connect", d)
	}
	r := recv(t, res, "Client after Close")
	if !errors.Is(r.err, ErrClosed) {
		t.Fatalf("Client error %v after Close; want ErrClosed", r.err)
	}
	if _, err := p.Client(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Client after Close = %v; want ErrClosed", err)
	}
	mustErrIs(t, p.Check(), ErrClosed)
}

// A wrong password is retried like an outage; Check and Status name the
// server and "authorization violation" and never a credential, in the
// password option, in the URL or as a token; the log has one line per distinct
// error; with the right credentials the same code connects.
func TestConnectWrongPassword(t *testing.T) {
	const secret = "s3cret-pw"
	port := freePort(t)
	startServerOn(t, port, func(o *server.Options) { o.Username, o.Password = "alice", "right-pw" })
	for _, o := range []Options{
		{NATS: NATS{URL: fmt.Sprintf("nats://127.0.0.1:%d", port), User: "alice", Password: secret}},
		{NATS: NATS{URL: fmt.Sprintf("nats://alice:%s@127.0.0.1:%d", secret, port)}},
		{NATS: NATS{URL: fmt.Sprintf("nats://%s@127.0.0.1:%d", secret, port)}}, // a token
	} {
		p, logs := externalProvider(t, o)
		res := clientAsync(p, context.Background())
		waitAttempts(t, p, 3)
		err := p.Check()
		b, _ := json.Marshal(p.Status())
		for what, text := range map[string]string{"Check": fmt.Sprint(err), "status": string(b), "log": logs.String()} {
			if strings.Contains(text, secret) {
				t.Errorf("%s shows the password: %s", what, text)
			}
		}
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("127.0.0.1:%d", port)) || !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
			t.Errorf("Check = %v; want the server and the authorization error", err)
		}
		st := connectStatus(p)
		if st.State != "connecting" || !strings.Contains(strings.ToLower(st.LastError), "authorization violation") {
			t.Errorf("status %s; want connecting with the authorization error", b)
		}
		if n := strings.Count(logs.String(), "cannot connect to NATS"); n != 1 {
			t.Errorf("%d log lines for one repeated failure; want 1:\n%s", n, logs)
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		mustErrIs(t, recv(t, res, "Client after Close").err, ErrClosed)
	}
	p, _ := externalProvider(t, Options{NATS: NATS{URL: fmt.Sprintf("nats://127.0.0.1:%d", port), User: "alice", Password: "right-pw"}})
	if _, err := p.Client(context.Background()); err != nil {
		t.Fatalf("right password: %v", err)
	}
}

// A failure that goes on is logged again after the reminder interval, and
// a new kind of failure at once.
func TestConnectLogReminder(t *testing.T) {
	port := freePort(t)
	p, logs := externalProvider(t, Options{NATS: NATS{URL: fmt.Sprintf("nats://127.0.0.1:%d", port)}})
	p.opts.connectRemind = 0 // every repeat is due
	res := clientAsync(p, context.Background())
	waitAttempts(t, p, 3)
	// An attempt is counted before its line is logged: wait for the lines.
	waitFor(t, "two reminders", 5*time.Second, func() bool {
		return strings.Count(logs.String(), "still cannot connect to NATS") >= 2
	})
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	mustErrIs(t, recv(t, res, "Client after Close").err, ErrClosed)
}

// Concurrent Client calls share one series of attempts and one client; one
// caller giving up does not disturb the others.
func TestConcurrentClientsShareConnect(t *testing.T) {
	port := freePort(t)
	p, _ := externalProvider(t, Options{NATS: NATS{URL: fmt.Sprintf("nats://127.0.0.1:%d", port)}})
	ctx, cancel := context.WithCancel(context.Background())
	quitter := clientAsync(p, ctx)
	var waiters []<-chan clientResult
	for range 4 {
		waiters = append(waiters, clientAsync(p, context.Background()))
	}
	waitAttempts(t, p, 2)
	cancel()
	mustErrIs(t, recv(t, quitter, "the cancelled caller").err, context.Canceled)
	startServerOn(t, port, nil)
	var first *Client
	for _, w := range waiters {
		r := recv(t, w, "a waiting caller")
		if r.err != nil {
			t.Fatal(r.err)
		}
		if first == nil {
			first = r.c
		} else if r.c != first {
			t.Fatal("concurrent callers got different clients")
		}
	}
}

// The embedded server's settings are refused with a URL: they would be
// ignored, and Sync silently so.
func TestExternalRefusesEmbeddedOptions(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{NATS: NATS{URL: "nats://h:4222", Sync: "1s"}}, "Sync: configures the embedded server"},
		{Options{NATS: NATS{URL: "nats://h:4222", StoreDir: "/x"}}, "StoreDir: configures the embedded server"},
		{Options{NATS: NATS{URL: "nats://h:4222", Listen: "127.0.0.1:4222", Sync: "always", StoreDir: "/x"}}, "Listen: configures the embedded server"},
	} {
		_, err := NewProvider(tc.o)
		if !errors.Is(err, ErrBadOptions) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "URL is set") {
			t.Errorf("%+v: error %v; want ErrBadOptions naming %s", tc.o, err, tc.want)
		}
	}
}
