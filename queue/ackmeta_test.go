package queue

import (
	"testing"

	"github.com/nats-io/nats.go"
)

// parseAck agrees with nats.go's own reading of every ack subject form the
// server sends, and refuses what is not one.
func TestParseAckMatchesNatsGo(t *testing.T) {
	for _, reply := range []string{
		"$JS.ACK.CRQ_q_p1.CRQ_q_p1.3.42.17.1764400000123456789.5",
		"$JS.ACK._.AHASH.CRQ_q_p1.CRQ_q_p1.1.9.9.1764400000000000001.0.r4nd",
		"$JS.ACK.hub.AHASH.S.C.2.7.6.1764400000000000002.0.xyz",
		"$JS.ACK.S.C.18446744073709551615.1.1.1.0",
	} {
		got, ok := parseAck(reply)
		if !ok {
			t.Fatalf("%q: not read", reply)
		}
		md, err := (&nats.Msg{Reply: reply, Sub: &nats.Subscription{}}).Metadata()
		if err != nil {
			t.Fatalf("%q: nats.go: %v", reply, err)
		}
		if got.attempts != md.NumDelivered || got.seq != md.Sequence.Stream || !got.stored.Equal(md.Timestamp) {
			t.Errorf("%q: got %+v, nats.go says delivered %d seq %d at %v", reply, got, md.NumDelivered, md.Sequence.Stream, md.Timestamp)
		}
	}
	for _, reply := range []string{
		"", "_INBOX.x", "$JS.ACK.", "$JS.ACK.S.C.1.2.3", "$JS.ACK.S.C.x.2.3.4.5", "$JS.ACK.a.b.c.d.e.f.g.h",
		"$JS.ACK.S.C.1.2.3.4.5.6.7", "$JS.ACK.S.C.-1.2.3.4.5",
	} {
		if d, ok := parseAck(reply); ok {
			t.Errorf("%q read as %+v", reply, d)
		}
	}
}
