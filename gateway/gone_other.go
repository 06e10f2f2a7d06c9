//go:build !windows

package gateway

// isOSClientGone reports whether err is an operating system error, beyond
// the portable ones IsClientGone checks, that says the client went away.
// Only Windows has such errors.
func isOSClientGone(err error) bool { return false }
