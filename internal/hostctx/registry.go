package hostctx

import (
	"fmt"
	"sort"
	"sync"
)

// Registry holds named status sections. Each section is a function called at
// snapshot time, so a section always shows current figures. Safe for
// concurrent use.
type Registry struct {
	mu       sync.Mutex
	next     uint64
	sections map[string]section
}

type section struct {
	id uint64
	fn func() any
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{sections: make(map[string]section)}
}

// Add registers fn under name and returns the function that removes it.
// If name is taken, the section is registered as "name#2", "name#3", ...;
// the name actually used is returned. remove is idempotent.
func (r *Registry) Add(name string, fn func() any) (used string, remove func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	used = name
	for i := 2; ; i++ {
		if _, taken := r.sections[used]; !taken {
			break
		}
		used = fmt.Sprintf("%s#%d", name, i)
	}
	r.next++
	id := r.next
	r.sections[used] = section{id: id, fn: fn}
	return used, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if s, ok := r.sections[used]; ok && s.id == id {
			delete(r.sections, used)
		}
	}
}

// Names returns the registered section names, sorted.
func (r *Registry) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.sections))
	for n := range r.sections {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Snapshot calls every section and returns their values by name. Sections
// are called without the registry's lock held, so a section may itself use
// the registry.
func (r *Registry) Snapshot() map[string]any {
	r.mu.Lock()
	fns := make(map[string]func() any, len(r.sections))
	for n, s := range r.sections {
		fns[n] = s.fn
	}
	r.mu.Unlock()
	out := make(map[string]any, len(fns))
	for n, fn := range fns {
		out[n] = fn()
	}
	return out
}
