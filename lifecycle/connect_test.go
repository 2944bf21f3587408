package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/cloudrole/cloudrole/queue"
	"github.com/cloudrole/cloudrole/role"
)

// A role that connects in OnStart to an external server that is not up
// yet waits there: live, not ready with a reason naming the server and the
// error (not just "onstart"), no failed instance even with max_failures 1,
// and ready by itself once the server starts.
func TestOnStartWaitsForExternalNATS(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	cfg := testConfig(t)
	cfg.NATS.URL = url
	cfg.Host.MaxFailures = 1
	r := &testRole{onStart: func(ctx context.Context, _ role.Env) error {
		_, err := queue.Connect(ctx)
		return err
	}}
	hs := startHost(t, r, cfg, nil)

	waitReady(t, hs, 503, "onstart: waiting for NATS at "+url+": connection refused (attempt ")
	hs.expect("/livez", 200, "")
	var nats struct {
		State     string `json:"state"`
		Attempts  int    `json:"attempts"`
		LastError string `json:"last_error"`
	}
	raw, _ := json.Marshal(hs.status().NATS)
	if err := json.Unmarshal(raw, &nats); err != nil || nats.State != "connecting" || nats.Attempts == 0 || nats.LastError != "connection refused" {
		t.Fatalf("status nats = %s; want connecting with attempts and the last error", raw)
	}

	startNATS(t, &server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	hs.rec.waitN(t, "running", 1, state(StateRunning, 1))
	waitReady(t, hs, 200, "ok")
	if n := hs.rec.count(recycled); n != 0 {
		t.Fatalf("%d recycles while waiting for NATS; want none", n)
	}
	hs.h.Stop(nil) // before the server goes (see TestReadinessFollowsQueueConnection)
	hs.wait()
}
