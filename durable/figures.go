package durable

import (
	"sort"
	"sync"

	"github.com/cschleiden/go-workflows/backend"
	"github.com/cschleiden/go-workflows/backend/history"
	"github.com/cschleiden/go-workflows/core"

	"github.com/cloudrole/cloudrole/durable/internal/jsbackend"
)

// OrchestratorFigures count one orchestrator's executions as this hub saw
// them: Started, Completed, Failed and ContinuedAsNew by its workers (an
// execution counts where its first, or its last, orchestrator task ran,
// so the sums over a fleet's instances count each execution once), and
// Terminated by this Hub's Terminate calls (a termination counts on the
// hub that asked for it; a hub that does not Work has no status section,
// so the terminations of a client-only hub reach no metric).
type OrchestratorFigures struct {
	Name           string `json:"name"`
	Started        int64  `json:"started"`
	Completed      int64  `json:"completed"`
	Failed         int64  `json:"failed"`
	ContinuedAsNew int64  `json:"continued_as_new"`
	Terminated     int64  `json:"terminated"`
}

// maxNamed bounds the orchestrator names counted apart: a client may
// start any name (the instance fails where no worker knows it), and the
// figures become metric labels, whose number must stay bounded. Names
// past it count under otherName.
const (
	maxNamed  = 256
	otherName = "other"
)

// orchestratorCounts are a hub's OrchestratorFigures, by name.
type orchestratorCounts struct {
	mu     sync.Mutex
	byName map[string]*OrchestratorFigures
}

func (c *orchestratorCounts) add(name string, f func(*OrchestratorFigures)) {
	if name == "" {
		name = otherName
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byName == nil {
		c.byName = map[string]*OrchestratorFigures{}
	}
	o := c.byName[name]
	if o == nil {
		if len(c.byName) >= maxNamed {
			name = otherName
		}
		if o = c.byName[name]; o == nil {
			o = &OrchestratorFigures{Name: name}
			c.byName[name] = o
		}
	}
	f(o)
}

// list returns the figures by name.
func (c *orchestratorCounts) list() []OrchestratorFigures {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]OrchestratorFigures, 0, len(c.byName))
	for _, o := range c.byName {
		out = append(out, *o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// count records what a completed orchestrator task did to its execution:
// its first task starts it; a task that ends it completes, fails or
// continues it as new.
func (c *orchestratorCounts) count(task *backend.WorkflowTask, state core.WorkflowInstanceState, executed []*history.Event) {
	name := jsbackend.TaskName(task)
	if task.LastSequenceID == 0 {
		c.add(name, func(o *OrchestratorFigures) { o.Started++ })
	}
	switch state {
	case core.WorkflowInstanceStateContinuedAsNew:
		c.add(name, func(o *OrchestratorFigures) { o.ContinuedAsNew++ })
	case core.WorkflowInstanceStateFinished:
		failed := false
		for _, ev := range executed {
			if a, ok := ev.Attributes.(*history.ExecutionCompletedAttributes); ok && a.Error != nil {
				failed = true
			}
		}
		c.add(name, func(o *OrchestratorFigures) {
			if failed {
				o.Failed++
			} else {
				o.Completed++
			}
		})
	}
}
