// Package lease defines the lock contract shared by package tasks (which
// uses locks for singleton tasks) and package queue (which implements one on
// a NATS KV bucket). It lives here so that queue can satisfy the contract
// exactly without importing tasks; tasks re-exports every name.
package lease
