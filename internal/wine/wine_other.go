//go:build !windows

package wine

func running() bool { return false }

func isNoAFUnix(error) bool { return false }
