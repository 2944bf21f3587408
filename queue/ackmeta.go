package queue

import (
	"strconv"
	"strings"
	"time"
)

// delivery is what a worker needs from a job's ack subject. The server
// puts the delivery count, stream sequence and store time of a message in
// the reply subject of its delivery:
//
//	$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>
//	$JS.ACK.<domain>.<account>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>[.<token>...]
//
// nats.go's Msg.Metadata reads it too, but splits the subject into
// strings and allocates the result: a sizeable share of the dispatcher's
// time per job. This reads the three numbers in place.
type delivery struct {
	attempts uint64
	seq      uint64
	stored   time.Time
}

// parseAck reads reply; ok is false when it is no JetStream ack subject.
func parseAck(reply string) (d delivery, ok bool) {
	rest, found := strings.CutPrefix(reply, "$JS.ACK.")
	if !found {
		return d, false
	}
	// The numbers start after the stream and consumer names (plus domain
	// and account in the longer form): count the tokens to know which.
	n := strings.Count(rest, ".") + 1
	skip := 0
	switch {
	case n == 7:
		skip = 2
	case n >= 10:
		skip = 4
	default:
		return d, false
	}
	for range skip {
		i := strings.IndexByte(rest, '.')
		rest = rest[i+1:]
	}
	var nums [4]uint64 // delivered, sseq, cseq, ts
	for k := range nums {
		i := strings.IndexByte(rest, '.')
		if i < 0 {
			return d, false
		}
		v, err := strconv.ParseUint(rest[:i], 10, 64)
		if err != nil {
			return d, false
		}
		nums[k], rest = v, rest[i+1:]
	}
	return delivery{attempts: nums[0], seq: nums[1], stored: time.Unix(0, int64(nums[3]))}, true
}
