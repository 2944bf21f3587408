// Package excache is the workflow executor cache of package durable: an
// LRU with an idle TTL, like go-workflows' own, that also closes what it
// still holds when the worker stops (go-workflows' leaves the executors,
// and their parked coroutines, behind) and that the backend can ask to
// forget an instance whose task it lost.
package excache

import (
	"container/list"
	"context"
	"sync"
	"time"

	"github.com/cschleiden/go-workflows/core"
	"github.com/cschleiden/go-workflows/workflow/executor"
)

// Cache implements executor.Cache. Safe for concurrent use.
type Cache struct {
	size int
	ttl  time.Duration

	mu    sync.Mutex
	order *list.List // front: most recently used
	items map[key]*list.Element
}

type key struct{ inst, exec string }

type item struct {
	k    key
	e    executor.WorkflowExecutor
	used time.Time
}

var _ executor.Cache = (*Cache)(nil)

// New returns a cache of at most size executors, each dropped after ttl
// unused.
func New(size int, ttl time.Duration) *Cache {
	return &Cache{size: size, ttl: ttl, order: list.New(), items: map[key]*list.Element{}}
}

func keyOf(i *core.WorkflowInstance) key { return key{i.InstanceID, i.ExecutionID} }

// Get returns the executor of instance, if cached.
func (c *Cache) Get(_ context.Context, instance *core.WorkflowInstance) (executor.WorkflowExecutor, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[keyOf(instance)]
	if !ok {
		return nil, false, nil
	}
	it := el.Value.(*item)
	it.used = time.Now()
	c.order.MoveToFront(el)
	return it.e, true, nil
}

// Store caches e for instance, closing the least recently used executor
// if the cache is full.
func (c *Cache) Store(_ context.Context, instance *core.WorkflowInstance, e executor.WorkflowExecutor) error {
	var drop []executor.WorkflowExecutor
	c.mu.Lock()
	k := keyOf(instance)
	if el, ok := c.items[k]; ok {
		it := el.Value.(*item)
		if it.e != e {
			drop = append(drop, it.e)
		}
		it.e, it.used = e, time.Now()
		c.order.MoveToFront(el)
	} else {
		c.items[k] = c.order.PushFront(&item{k: k, e: e, used: time.Now()})
	}
	for c.order.Len() > c.size {
		drop = append(drop, c.removeLocked(c.order.Back()))
	}
	c.mu.Unlock()
	closeAll(drop)
	return nil
}

// Evict drops and closes the executor of instance.
func (c *Cache) Evict(_ context.Context, instance *core.WorkflowInstance) error {
	c.mu.Lock()
	var drop []executor.WorkflowExecutor
	if el, ok := c.items[keyOf(instance)]; ok {
		drop = append(drop, c.removeLocked(el))
	}
	c.mu.Unlock()
	closeAll(drop)
	return nil
}

// StartEviction drops executors unused for the TTL until ctx ends. The
// worker's tasks may still run then: call Close once they are done.
func (c *Cache) StartEviction(ctx context.Context) {
	t := time.NewTicker(max(c.ttl/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.expire(time.Now())
		}
	}
}

func (c *Cache) expire(now time.Time) {
	var drop []executor.WorkflowExecutor
	c.mu.Lock()
	for el := c.order.Back(); el != nil; {
		it := el.Value.(*item)
		if now.Sub(it.used) < c.ttl {
			break
		}
		prev := el.Prev()
		drop = append(drop, c.removeLocked(el))
		el = prev
	}
	c.mu.Unlock()
	closeAll(drop)
}

// Close drops and closes every executor.
func (c *Cache) Close() {
	c.mu.Lock()
	var drop []executor.WorkflowExecutor
	for el := c.order.Front(); el != nil; el = el.Next() {
		drop = append(drop, el.Value.(*item).e)
	}
	c.order.Init()
	c.items = map[key]*list.Element{}
	c.mu.Unlock()
	closeAll(drop)
}

// Len is how many executors are cached.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

func (c *Cache) removeLocked(el *list.Element) executor.WorkflowExecutor {
	it := el.Value.(*item)
	c.order.Remove(el)
	delete(c.items, it.k)
	return it.e
}

func closeAll(es []executor.WorkflowExecutor) {
	for _, e := range es {
		e.Close()
	}
}
