//go:build !linux

package app

// unameMachine has no portable source outside Linux here; Classify reports Unknown.
func unameMachine() string { return "" }
