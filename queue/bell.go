package queue

import (
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Idle workers wait on a queue's bell subjects (cloudrole.bell.<queue>.<level>)
// instead of polling every level. Who rings:
//
//   - the producer, once it has the server's acknowledgement of a job on a
//     level of a queue without Fairness (ring): one core message whose
//     body is the highest stream sequence it stored, per Enqueue, per
//     level of an EnqueueBatch at its first and its last acknowledgement,
//     per Requeue and per hand-back. Enqueue also rings a hint without a
//     sequence just before it publishes, so a waiting worker asks while
//     the server stores the job (an urgent job starts a round trip
//     sooner than after the acknowledgement);
//   - the server, for the copies of scheduled jobs it stores as they fall
//     due: the schedule stream republishes a headers-only copy of each onto
//     the level's bell (its Nats-Stream header names the schedule stream,
//     and the worker gives the level's stream a moment to source the job);
//   - the server, for every job of a queue with Fairness: its level streams
//     republish each stored job's headers, whose Nats-Subject names the key.
//
// Earlier the level streams republished every stored job (RePublish) for
// every queue. That made the server load and send a second message inside
// each enqueue's round trip: measured, it took a quarter of the rate of
// batch enqueues and a tenth of sync ones (BENCHMARKS.md). A bell from the
// producer costs two core publishes per enqueue outside the round trip,
// and one or two per batch. A job published to a level's subject by another
// tool rings nothing: a worker finds it within its PollInterval.

// ring tells the queue's idle workers that level l holds jobs up to stream
// sequence seq, or with seq 0 that a job for it is on its way to the
// server (a hint, rung before the publish: the worker's request then
// waits a moment for the job to be stored). Nothing waits for a bell: a
// lost one costs a PollInterval.
func (q *Queue) ring(l int, seq uint64) {
	if q.cfg.Fairness || l < 0 || l >= q.cfg.Levels {
		return // the level stream rings itself, naming the key
	}
	if seq == 0 {
		_ = q.c.nc.Publish(q.bells[l], nil)
		return
	}
	// The sequence as the body, not a header: no header block to build.
	_ = q.c.nc.Publish(q.bells[l], strconv.AppendUint(make([]byte, 0, 20), seq, 10))
}

// bellSubjects are the bell subjects of a queue's levels.
func bellSubjects(name string, levels int) []string {
	s := make([]string, levels)
	for l := range s {
		s[l] = bellLevelSubject(name, l)
	}
	return s
}

// dueBell is the schedule stream's republishing of fired copies onto the
// bells of their levels; nil with Fairness, whose level streams ring for
// every stored job, sourced ones included.
func dueBell(name string, cfg Config) *jetstream.RePublish {
	if cfg.Fairness {
		return nil
	}
	return &jetstream.RePublish{
		Source:      "cloudrole.sched." + name + ".due.*",
		Destination: "cloudrole.bell." + name + ".{{wildcard(1)}}",
		HeadersOnly: true,
	}
}

// bellMarks holds a stream sequence per level (up to the 16 a queue may
// have) without allocating.
type bellMarks [16]uint64

func (b *bellMarks) seq(l int) uint64    { return b[l] }
func (b *bellMarks) set(l int, s uint64) { b[l] = max(b[l], s) }

// bellSeq is the stream sequence a bell names: a producer's body, or the
// Nats-Sequence header of the server's republished copy.
func bellSeq(m *nats.Msg) string {
	if len(m.Data) > 0 {
		return string(m.Data)
	}
	return m.Header.Get(jetstream.SequenceHeader)
}

// isHint says whether bell m is a producer's hint: no sequence at all.
func isHint(m *nats.Msg) bool {
	return len(m.Data) == 0 && len(m.Header) == 0
}
