package jsbackend

import (
	"encoding/json"
	"strconv"

	"github.com/nats-io/nats.go"
)

// casMsg is a message that is stored only if the log of inst still ends at
// expect (0: the log is empty): how every snapshot writer makes sure it
// saw the state it replaces. One expectation subject (the whole log) for
// every writer also makes a replicated stream serialise them.
func (b *Backend) casMsg(subject, inst string, expect uint64, e *entry) (*nats.Msg, error) {
	m, err := b.plainMsg(subject, e)
	if err != nil {
		return nil, err
	}
	m.Header.Set("Nats-Expected-Last-Subject-Sequence", strconv.FormatUint(expect, 10))
	m.Header.Set("Nats-Expected-Last-Subject-Sequence-Subject", b.n.log(inst))
	return m, nil
}

// stateHeader carries a snapshot's state on its message.
const stateHeader = "Durable-State"

// plainMsg is a message stored unconditionally.
func (b *Backend) plainMsg(subject string, e *entry) (*nats.Msg, error) {
	data, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	m := nats.NewMsg(subject)
	m.Data = data
	if e.Snap != nil {
		m.Header.Set(stateHeader, strconv.Itoa(int(e.Snap.State)))
	}
	return m, nil
}

// dedupe sets a message ID: the server drops a second message with the
// same ID within the stream's duplicate window.
func dedupe(m *nats.Msg, id string) *nats.Msg {
	m.Header.Set("Nats-Msg-Id", id)
	return m
}
