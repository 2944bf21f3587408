// Package tasks supervises the background tasks a role runs inside Run.
package tasks
