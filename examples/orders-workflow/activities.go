package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The shop's systems, in memory for the demo. Every activity is
// idempotent by order (a crash after its effect and before its result is
// stored runs it again): a second reservation, charge or shipment of the
// same order returns the first.
type shop struct {
	mu             sync.Mutex
	stock          map[string]int
	reservations   map[string]reservation // by order
	charges        map[string]string      // order → charge ID
	shipments      map[string]string      // order → tracking
	reservationTTL time.Duration
	flaky          atomic.Int64 // the payment service fails this many more calls
}

type reservation struct {
	id, item string
	qty      int
	expires  time.Time
	released bool
}

var theShop = &shop{
	stock:          map[string]int{"keyboard": 50, "mouse": 100, "monitor": 10},
	reservations:   map[string]reservation{},
	charges:        map[string]string{},
	shipments:      map[string]string{},
	reservationTTL: 10 * time.Minute,
}

// Reserve takes the order's items out of stock.
func Reserve(_ context.Context, o Order) (string, error) {
	s := theShop
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.reservations[o.ID]; ok && !r.released {
		return r.id, nil
	}
	if s.stock[o.Item] < o.Qty {
		return "", fmt.Errorf("only %d %s in stock, %d ordered", s.stock[o.Item], o.Item, o.Qty)
	}
	s.stock[o.Item] -= o.Qty
	id := "rsv-" + o.ID
	s.reservations[o.ID] = reservation{id: id, item: o.Item, qty: o.Qty, expires: time.Now().Add(s.reservationTTL)}
	return id, nil
}

// Release puts a reservation's items back.
func Release(_ context.Context, id string) error {
	s := theShop
	s.mu.Lock()
	defer s.mu.Unlock()
	order := strings.TrimPrefix(id, "rsv-")
	if r, ok := s.reservations[order]; ok && !r.released {
		r.released = true
		s.reservations[order] = r
		s.stock[r.item] += r.qty
	}
	return nil
}

// ReleaseExpired releases the reservations whose order never completed
// in time, and returns how many.
func ReleaseExpired(context.Context) (int, error) {
	s := theShop
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for order, r := range s.reservations {
		if _, charged := s.charges[order]; !charged && !r.released && time.Now().After(r.expires) {
			r.released = true
			s.reservations[order] = r
			s.stock[r.item] += r.qty
			n++
		}
	}
	return n, nil
}

// errDeclined is the card processor's answer to the demo's bad card.
var errDeclined = errors.New("card declined")

// Charge charges the order's amount to its card.
func Charge(_ context.Context, o Order) (string, error) {
	s := theShop
	if s.flaky.Add(-1) >= 0 {
		return "", errors.New("payment service busy")
	}
	if strings.HasSuffix(o.Card, "0002") {
		return "", errDeclined
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.charges[o.ID]; ok {
		return id, nil
	}
	id := fmt.Sprintf("ch-%s-%d", o.ID, o.Amount)
	s.charges[o.ID] = id
	return id, nil
}

// Refund gives a charge back.
func Refund(_ context.Context, charge string) error {
	s := theShop
	s.mu.Lock()
	defer s.mu.Unlock()
	for order, id := range s.charges {
		if id == charge {
			delete(s.charges, order)
		}
	}
	return nil
}

// Ship ships the order; the courier refuses the demo's "fragile" items.
func Ship(_ context.Context, o Order) (string, error) {
	if o.Item == "monitor" && o.Qty > 5 {
		return "", errors.New("the courier takes at most 5 monitors")
	}
	s := theShop
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.shipments[o.ID]; ok {
		return t, nil
	}
	t := "trk-" + o.ID
	s.shipments[o.ID] = t
	return t, nil
}
