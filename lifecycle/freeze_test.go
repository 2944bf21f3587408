package lifecycle

import "testing"

// An operator's freeze stops the running instance and holds the host in
// frozen (live, not ready, nothing restarts); unfreezing starts a new
// instance.
func TestOperatorFreeze(t *testing.T) {
	r := &testRole{}
	hs := startHost(t, r, testConfig(t), nil)
	hs.rec.waitN(t, "running", 1, state(StateRunning, 1))
	hs.h.Freeze("investigating orders backlog")
	hs.rec.waitN(t, "frozen", 1, state(StateFrozen, 0))
	hs.expect("/readyz", 503, "frozen: investigating orders backlog")
	hs.expect("/livez", 200, "ok")
	if st := hs.status(); st.Frozen != "investigating orders backlog" || r.count("OnStop") != 1 {
		t.Fatalf("frozen %q, OnStop %d", st.Frozen, r.count("OnStop"))
	}
	rec := hs.rec.waitN(t, "recycle", 1, recycled).(Recycled)
	if rec.Failed || rec.Delay != 0 {
		t.Fatalf("the freeze's recycle %+v: want deliberate", rec.Recycle)
	}
	hs.h.Unfreeze()
	hs.rec.waitN(t, "second instance", 1, state(StateRunning, 2))
	hs.expect("/readyz", 200, "ok")
}
