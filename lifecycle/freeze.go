package lifecycle

// Freeze freezes the host on an operator's word (the console's freeze
// action), as the Freeze setting does: a running instance is stopped (a
// deliberate recycle, within the stop deadline) and no new one starts; the
// host idles in state frozen, live and not ready, until Unfreeze. reason is
// shown in /status and the readiness reason. Calling it again replaces the
// reason.
func (h *Host) Freeze(reason string) {
	if reason == "" {
		reason = "frozen by an operator"
	}
	h.mu.Lock()
	h.opFrozen = reason
	i := h.inst
	h.broadcastLocked()
	h.mu.Unlock()
	h.opts.Logger.Warn("frozen by an operator", "reason", reason)
	if i != nil && !i.finished.Load() {
		h.beginInstanceStop(i, &RecycleError{Reason: "frozen: " + reason})
	}
}

// Unfreeze lifts an operator's freeze and the host's own crash-loop
// freeze (as SIGHUP does); the Freeze setting, if true, still holds.
func (h *Host) Unfreeze() {
	h.mu.Lock()
	was := h.opFrozen
	h.opFrozen = ""
	h.mu.Unlock()
	if was != "" {
		h.opts.Logger.Info("unfrozen by an operator", "was", was)
	}
	h.liftAutoFreeze("unfrozen by an operator")
	h.mu.Lock()
	h.broadcastLocked()
	h.mu.Unlock()
}
